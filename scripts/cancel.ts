// `npm run cancel -- --stack S`: ends what holds a stack's lock and clears it; the usage is below (--help).
import { readdirSync } from "node:fs";
import os from "node:os";
import { parseArgs } from "node:util";
import { cliArgs, HELP, isMain } from "./lib/args.js";
import { lockHolderRuns, procStat, pulumiAsync, pulumiEnv, repairStateMetadata, stackLocks, stopLeftovers, type StackLock } from "./lib/pulumi.js";
import { preflight, projectDir } from "../lib/tools.js";

const USAGE = `
usage: npm run cancel -- [--stack S]

Clears the lock of stack S (\`pulumi cancel\` with this project's backend and PULUMI_HOME) after
stopping the run that holds it, when that run is on this machine: the pulumi process gets
SIGINT (it saves what it has done), and is killed with the providers it started if it has not
ended 30 s later. A lock held from another machine is cleared only: make sure that run is over.
Processes a killed run of these scripts left running are stopped too. The next npm run up
finishes what the stopped run had begun.

options:
  -s, --stack S  the stack, config/Pulumi.S.yaml (default: local)
  -h, --help     this text

examples:
  npm run cancel -- --stack dev
`;

/** The pids whose parent is `pid` (the CLI's providers: they run in their own process groups). */
function childrenOf(pid: number): number[] {
  return readdirSync("/proc")
    .map(Number)
    .filter((p) => p && Number(procStat(p)?.[1]) === pid);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Stops the pulumi process holding `lock` on this machine: SIGINT, then after 30 s SIGKILL for it and its children. */
async function stopHolder(lock: StackLock): Promise<void> {
  const kids = childrenOf(lock.pid);
  console.log(`[cancel] stopping pulumi pid ${lock.pid} (holds the lock since ${lock.timestamp})`);
  process.kill(lock.pid, "SIGINT");
  for (let i = 0; i < 60 && lockHolderRuns(lock); i++) await sleep(500);
  if (!lockHolderRuns(lock)) return;
  for (const pid of [lock.pid, ...kids]) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  console.log(`[cancel] killed pulumi pid ${lock.pid} and ${kids.length} process(es) it started, 30 s after SIGINT`);
}

async function main(): Promise<number> {
  const { values } = cliArgs("npm run cancel", USAGE, (args) => parseArgs({ args, strict: true, options: { ...HELP, stack: { type: "string", short: "s", default: "local" } } }));
  const stack = values.stack;
  preflight("up", ["pulumi"]);
  const env = pulumiEnv({ stack });
  stopLeftovers();
  const locks = stackLocks(env, stack);
  for (const l of locks) if (l.hostname === os.hostname() && lockHolderRuns(l)) await stopHolder(l);
  // a holder killed at a write of the state's metadata leaves a file pulumi cancel trips on
  repairStateMetadata(env, stack);
  const r = await pulumiAsync(["cancel", "--yes", "--stack", stack], env, projectDir);
  if (r.status !== 0) {
    console.error(`npm run cancel: pulumi cancel --stack ${stack} failed: ${(r.stderr || r.stdout).trim()}`);
    return 1;
  }
  console.log(locks.length ? `[cancel] stack ${stack}: cleared ${locks.length} lock(s) (${locks.map((l) => `pid ${l.pid} of ${l.username}@${l.hostname}`).join(", ")})` : `[cancel] stack ${stack}: no lock was held`);
  return 0;
}

if (isMain(import.meta.url))
  main().then(
    (code) => process.exit(code),
    (e: Error) => {
      console.error(`npm run cancel: ${e.message}`);
      process.exit(1);
    },
  );
