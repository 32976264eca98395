// `pulumi up|preview|destroy|refresh` on one stack with the pinned CLI; the usage is below (--help).
import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { cliArgs, HELP, isMain, UsageError } from "./lib/args.js";
import { status as clusterStatus, up as clusterUp } from "./lib/cluster.js";
import { projectProgram, pulumiEnv, recoverInterruptedRun, runsProgram, runWithProgram } from "./lib/pulumi.js";
import { namespaceRevisions } from "../components/istio/guard.js";
import { readStackConfig } from "../config/target.js";
import { ConfigError } from "../config/index.js";
import { summarizeOutput } from "./lib/summary.js";
import { groupTools, preflight, projectDir } from "../lib/tools.js";

const COMMANDS = ["up", "preview", "destroy", "refresh"] as const;
type Command = (typeof COMMANDS)[number];

const USAGE = `
usage: npm run up|preview|destroy|refresh -- [--stack S] [--summary FILE] [pulumi flags] [-- any pulumi flags]

Runs pulumi up, preview, destroy or refresh on stack S with the pinned CLI (the program is
served from this process). For stack local the embedded cluster is started when needed. The
canary step's workload restarts are resources of the program (plain pulumi up does them too).
preview adds --diff unless --diff or --json is given.

options:
  -s, --stack S      the stack, config/Pulumi.S.yaml: local, dev, staging, prod (default: local)
  --summary FILE     preview only: also writes the reviewer's Markdown summary to FILE (default: none)
  -h, --help         this text

flags for pulumi:
  Everything after a literal \`--\` goes to pulumi unchanged. npm takes the first \`--\` of
  an npm command line for itself, so there it is the second one. These pulumi flags are also
  accepted before it and passed on as given:
    -y, --yes   -f, --skip-preview   --diff   -j, --json   -r, --refresh   -t, --target URN (repeatable)
    --target-dependents   --replace URN (repeatable)   -m, --message MSG   -p, --parallel N
    --expect-no-changes   --suppress-outputs   --suppress-progress   --show-sames
  Any other flag before \`--\` is an error (exit 2).

examples:
  npm run up -- --stack dev --yes
  npm run preview -- --stack prod --summary summary.md
  npm run up -- --stack dev -- --target 'urn:pulumi:dev::observability-stack::...' --target-dependents
`;

/** The pulumi flags accepted before `--` (see USAGE); they go to pulumi as given. */
export const PULUMI_FLAGS = {
  yes: { type: "boolean", short: "y" },
  "skip-preview": { type: "boolean", short: "f" },
  diff: { type: "boolean" },
  json: { type: "boolean", short: "j" },
  refresh: { type: "boolean", short: "r" },
  target: { type: "string", short: "t", multiple: true },
  "target-dependents": { type: "boolean" },
  replace: { type: "string", multiple: true },
  message: { type: "string", short: "m" },
  parallel: { type: "string", short: "p" },
  "expect-no-changes": { type: "boolean" },
  "suppress-outputs": { type: "boolean" },
  "suppress-progress": { type: "boolean" },
  "show-sames": { type: "boolean" },
} as const;

/**
 * `<command> [--stack S] [--summary FILE] [pulumi flags] [-- anything for pulumi]`: the script's
 * own values, and the arguments for pulumi in their order and spelling.
 */
export function parseStackArgs(argv: string[]) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, strict: true, allowPositionals: true, tokens: true, options: { ...HELP, stack: { type: "string", short: "s", default: "local" }, summary: { type: "string" }, ...PULUMI_FLAGS } });
  } catch (e) {
    const { code, message } = e as { code?: string; message: string };
    const flag = /'(-[^']*)'/.exec(message)?.[1];
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && flag) throw new UsageError(`unknown option ${flag}; a pulumi flag not listed in --help goes after a second --: npm run ${commandIn(argv) ?? "up"} -- --stack S -- ${flag}`);
    throw e;
  }
  const { values, tokens } = parsed;
  const end = tokens.findIndex((t) => t.kind === "option-terminator");
  const own = end < 0 ? tokens : tokens.slice(0, end);
  const [command, ...extra] = own.flatMap((t) => (t.kind === "positional" ? [t.value] : []));
  if (!COMMANDS.includes(command as Command)) throw new UsageError(command === undefined ? `name a command: ${COMMANDS.join("|")}` : `unknown command '${command}' (commands: ${COMMANDS.join(", ")})`);
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'; arguments for pulumi go after --`);
  if (values.summary !== undefined && command !== "preview") throw new UsageError("--summary goes with preview");
  const pulumiArgs = [
    ...own.flatMap((t) => (t.kind !== "option" || !(t.name in PULUMI_FLAGS) ? [] : t.value === undefined ? [t.rawName] : t.inlineValue ? [`${t.rawName}${t.rawName.startsWith("--") ? "=" : ""}${t.value}`] : [t.rawName, t.value])),
    ...(end < 0 ? [] : tokens.slice(end + 1).flatMap((t) => (t.kind === "positional" ? [t.value] : []))),
  ];
  return { values, command: command as Command, pulumiArgs };
}

const commandIn = (argv: string[]) => COMMANDS.find((c) => c === argv[0]);

async function main(): Promise<number> {
  const name = `npm run ${commandIn(process.argv.slice(2)) ?? COMMANDS.join("|")}`;
  const { values, command: cmd, pulumiArgs: rest } = cliArgs(name, USAGE, parseStackArgs);
  const { stack, summary } = values;
  if (!existsSync(path.join(projectDir, "config", `Pulumi.${stack}.yaml`))) {
    console.error(`no stack '${stack}': config/Pulumi.${stack}.yaml does not exist (stacks: local, dev, staging, prod)`);
    return 2;
  }
  // Bad config is refused here, once, before a tool runs or the local cluster starts (the program
  // checks it again, with the secrets decrypted, when plain pulumi runs it).
  if (cmd !== "destroy" && cmd !== "refresh") {
    try {
      readStackConfig(stack);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      console.error(`error: ${e.message}`);
      return 2;
    }
  }
  // the up group, with istioctl only of this stack's versions and only where the program runs
  preflight("up", groupTools("up", { stack }).filter((t) => runsProgram(cmd) || t.binary !== "istioctl"));
  const env = pulumiEnv({ stack });
  // the program's modules (~1 s to load) load while the CLI calls below run in their own processes
  if (runsProgram(cmd)) void projectProgram.preload?.().catch(() => undefined); // a failing import is reported when the program runs
  if (stack === "local") await clusterUp();
  // what a killed run left (its processes, the stack's lock, half-written state metadata, its
  // pending operations), and the stack selected
  await recoverInterruptedRun(env, stack, cmd);
  const extra = cmd === "preview" && !rest.some((a) => a === "--diff" || a === "-j" || a.startsWith("--json")) ? ["--diff"] : [];
  if (summary) {
    // the JSON plan, then the reviewer's Markdown from it (secret values never printed); a failed
    // preview writes its error there, so the PR comment shows it
    const r = await runWithProgram(projectProgram, ["preview", "--stack", stack, "--json", ...rest], env, { capture: true });
    const md = summarizeOutput(stack, r.stdout, r.code, r.code === 0 ? namespaceRevisions(readStackConfig(stack).istio) : {}, { stderr: r.stderr });
    writeFileSync(summary, md);
    process.stdout.write(md);
    return r.code;
  }
  const { code } = await runWithProgram(projectProgram, [cmd, "--stack", stack, ...extra, ...rest], env);
  if (code !== 0 && stack === "local" && !clusterStatus().healthy) console.error(`npm run ${cmd}: the local cluster is down (its API server does not answer): npm run cluster -- up starts it again with its data, or npm run ${cmd} does`);
  return code;
}

if (isMain(import.meta.url))
  main().then(
    (code) => process.exit(code),
    (e: Error) => {
      console.error(`npm run ${process.argv[2]}: ${e.message}`);
      process.exit(1);
    },
  );
