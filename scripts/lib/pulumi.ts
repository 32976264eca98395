// Runs the pinned Pulumi CLI on this project's program.
//
// The program runs in this Node process behind @pulumi/pulumi's own language server, and the
// CLI connects to it with `--client` (what the Automation API does for inline programs). So no
// pulumi-language-nodejs binary is needed: the module proxy here does not serve it.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { $ } from "zx/core";
import { cacheRoot, preflight, projectDir, repoRoot, toolPath, toolPathDirs } from "../../lib/tools.js";

const require = createRequire(import.meta.url);

/** The passphrase of the disposable `local` stack and of throwaway render stacks. Never for real stacks. */
export const LOCAL_PASSPHRASE = "observability-stack-local";
export const defaultBackend = `file://${path.join(projectDir, ".state")}`;
export const defaultPulumiHome = path.join(cacheRoot, "pulumi-home");

export interface PulumiEnvOptions {
  readonly stack: string;
  /** Overrides PULUMI_BACKEND_URL (render uses a throwaway one). */
  readonly backendUrl?: string;
  readonly passphrase?: string;
}

export function pulumiEnv(o: PulumiEnvOptions): NodeJS.ProcessEnv {
  preflight("up", ["pulumi", "pulumi-resource-kubernetes"]);
  // the engine finds the provider on PATH; naming it here also says which one runs
  toolPath("pulumi");
  toolPath("pulumi-resource-kubernetes");
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: [...toolPathDirs(["pulumi-resource-kubernetes"]), process.env.PATH ?? ""].join(path.delimiter),
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_HOME: process.env.PULUMI_HOME ?? defaultPulumiHome,
    PULUMI_BACKEND_URL: o.backendUrl ?? process.env.PULUMI_BACKEND_URL ?? defaultBackend,
    // inherited by the CLI and the providers it starts: a later run can tell what this one left
    [RUN_MARK]: ownMark(),
  };
  if (o.passphrase) env.PULUMI_CONFIG_PASSPHRASE = o.passphrase;
  else if (!env.PULUMI_CONFIG_PASSPHRASE && !env.PULUMI_CONFIG_PASSPHRASE_FILE) {
    if (o.stack !== "local") throw new Error(`stack '${o.stack}': set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) for its secrets, or use a backend with its own secrets provider`);
    env.PULUMI_CONFIG_PASSPHRASE = LOCAL_PASSPHRASE;
  }
  if (env.PULUMI_BACKEND_URL!.startsWith("file://")) mkdirSync(env.PULUMI_BACKEND_URL!.slice("file://".length), { recursive: true });
  if (env.PULUMI_HOME === defaultPulumiHome) automaticLogs(defaultPulumiHome, process.env.OBS_PULUMI_AUTOLOG === "1");
  return env;
}

/**
 * Pulumi's "automatic logging" (3.2xx) writes every command's debug log, gzip-compressed, under
 * PULUMI_HOME/logs: every resource's inputs and outputs, for Pulumi's support. On this stack
 * it is half of the CLI's CPU time (a no-op preview: 10 s of 13 on 2 cores; ~30 MB per run).
 * The CLI has no switch for it but skips it when it cannot create that folder, so in the
 * PULUMI_HOME these scripts own a file stands there. OBS_PULUMI_AUTOLOG=1 turns it back on;
 * any other PULUMI_HOME is left alone. Only this log is affected: `-v`/`--logtostderr`
 * and checkpoints are not.
 */
function automaticLogs(home: string, keep: boolean): void {
  const logs = path.join(home, "logs");
  try {
    mkdirSync(home, { recursive: true });
    const isDir = existsSync(logs) && statSync(logs).isDirectory();
    if (keep) {
      if (existsSync(logs) && !isDir) rmSync(logs, { force: true });
      return;
    }
    if (isDir) rmSync(logs, { recursive: true, force: true });
    if (!existsSync(logs)) writeFileSync(logs, "Pulumi's automatic logs are off for observability-stack (OBS_PULUMI_AUTOLOG=1 turns them on); see scripts/lib/pulumi.ts\n");
  } catch {
    // a concurrent command changed it: either way the CLI runs, only slower
  }
}

/** A pulumi CLI command, without blocking the event loop: the program's modules load meanwhile. */
export async function pulumiAsync(args: string[], env: NodeJS.ProcessEnv, cwd = projectDir): Promise<{ status: number; stdout: string; stderr: string }> {
  const r = await $({ env, cwd, stdio: ["ignore", "pipe", "pipe"], quiet: true, nothrow: true })`${toolPath("pulumi")} ${args} --non-interactive`;
  return { status: r.exitCode ?? 1, stdout: r.stdout, stderr: r.stderr };
}

export async function selectStackAsync(stack: string, env: NodeJS.ProcessEnv, cwd = projectDir): Promise<void> {
  const r = await pulumiAsync(["stack", "select", stack, "--create"], env, cwd);
  if (r.status !== 0) throw new Error(`pulumi stack select ${stack} --create failed: ${(r.stderr || r.stdout).trim()}`);
}

type Program = (() => Promise<Record<string, unknown> | void>) & { preload?: () => Promise<unknown> };

/** Whether a CLI command runs the program (destroy and refresh do not, by default). */
export const runsProgram = (command: string) => command === "up" || command === "preview";

/**
 * Serves `program` to the engine and runs `pulumi <args> --client=<addr>`; resolves with the CLI's
 * exit code. With `capture`, stdout is kept instead of shown, and stderr is kept as well as shown.
 */
export async function runWithProgram(program: Program, args: string[], env: NodeJS.ProcessEnv, opts: { cwd?: string; capture?: boolean } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const grpc = require("@grpc/grpc-js");
  const langrpc = require("@pulumi/pulumi/proto/language_grpc_pb");
  const server = new grpc.Server({ "grpc.max_receive_message_length": 1024 * 1024 * 400 });
  ownConnectionsPerRun();
  server.addService(langrpc.LanguageRuntimeService, failedUnlessStarted(program));
  const port: number = await new Promise((resolve, reject) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err: Error | null, p: number) => (err ? reject(err) : resolve(p))));
  const child = spawn(toolPath("pulumi"), [...args, `--client=127.0.0.1:${port}`], { env, cwd: opts.cwd ?? projectDir, stdio: ["inherit", opts.capture ? "pipe" : "inherit", opts.capture ? "pipe" : "inherit"] });
  const stopOnSignal = stopTreeOnSignal(child);
  // the CLI needs about a second before it asks for the program: load the program's modules meanwhile
  if (runsProgram(args[0]!)) program.preload?.().catch(() => undefined);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d) => (stdout += d));
  child.stderr?.on("data", (d) => ((stderr += d), process.stderr.write(d)));
  const code: number = await new Promise((resolve) => child.on("close", (c) => resolve(c ?? 1)));
  server.forceShutdown();
  const signal = stopOnSignal();
  if (signal) process.exit(signal === "SIGINT" ? 130 : 143);
  return { code, stdout, stderr };
}

/**
 * Each run's connections to the engine and resource monitor on their own subchannels. grpc-js
 * shares subchannels process-wide by address; a finished run's engine subchannel, left in
 * reconnect backoff by the SDK's last calls, was handed to a later run whose engine happened to
 * get the same 127.0.0.1 port, and that run's first call failed at once with "14 UNAVAILABLE:
 * No connection established. Last error: null". The engine and monitor clients are created with
 * the SDK's grpcClientOptions, so the option goes there (read when a run creates its clients).
 */
export function ownConnectionsPerRun(): void {
  const settings = require("@pulumi/pulumi/runtime/settings");
  settings.grpcClientOptions["grpc.use_local_subchannel_pool"] = 1;
}

/** What a run says when the program never started (see failedUnlessStarted). */
export const PROGRAM_NOT_STARTED =
  "the program never started: the Pulumi SDK's first call to the engine failed, so the engine was about to take this run as a program that declares no resources (an up would delete them all); the run is failed instead and nothing was changed. Run the command again";

type RunCallback = (err: Error | null | undefined, resp?: { getError(): string; setError(m: string): void }) => void;

/**
 * The SDK's language server serving `program`. It registers the stack's root resource before it
 * calls the program, and when that first call fails with a gRPC error it swallows the error (it
 * reads gRPC errors as the engine shutting down) and reports a run that declared nothing as a
 * success. The engine would then plan to delete every resource of the stack. A run whose program
 * never started fails here, with PROGRAM_NOT_STARTED and what the SDK reported, whatever the SDK
 * made of it.
 */
function failedUnlessStarted(program: Program): { run(call: unknown, callback: RunCallback): unknown } {
  const { LanguageServer } = require("@pulumi/pulumi/automation/server");
  let started = false;
  const languageServer = new LanguageServer(reportedOnce(program, () => (started = true)));
  const run = languageServer.run.bind(languageServer);
  languageServer.run = (call: unknown, callback: RunCallback) => {
    // the CLI calls Run once per pass (an up without --skip-preview: preview, then update)
    started = false;
    let answered = false;
    return run(call, (err: Error | null | undefined, resp?: Parameters<RunCallback>[1]) => {
      if (answered) return;
      answered = true;
      if (started) return callback(err, resp);
      const why = err?.message || resp?.getError();
      const message = why ? `${PROGRAM_NOT_STARTED} (${why})` : PROGRAM_NOT_STARTED;
      if (err || !resp) return callback(new Error(message));
      resp.setError(message);
      callback(undefined, resp);
    });
  };
  return languageServer;
}

/** The project program: index.ts's default export. Importing it has no side effects, so it can be preloaded. */
const importProgram = () => import(path.join(repoRoot, "index.ts"));
export const projectProgram: Program = Object.assign(async () => (await importProgram()).default(), { preload: importProgram });

/**
 * The program with its RunErrors (config and guard errors: the message is the whole story)
 * reported once. The in-process language server both logs a RunError and returns it to the
 * engine, which prints each; an error it reads as a gRPC cancellation is returned only. The run
 * still fails: the language server turns what it collected into the run's error. `onStart` is
 * called as the program starts.
 */
function reportedOnce(program: Program, onStart: () => void): Program {
  const grpc = require("@grpc/grpc-js");
  const { RunError } = require("@pulumi/pulumi/errors");
  return Object.assign(
    async () => {
      onStart();
      try {
        return await program();
      } catch (e) {
        if (!RunError.isInstance(e)) throw e;
        throw Object.assign(new Error((e as Error).message), { code: grpc.status.CANCELLED });
      }
    },
    program.preload ? { preload: program.preload } : {},
  );
}

// ---- interrupted runs: processes left behind, stale locks, pending operations ----

/** Environment mark of the processes a script starts (the CLI, and through it the providers): `<pid>:<start>` of the script. */
export const RUN_MARK = "OBS_STACK_RUN";

/**
 * A process's /proc/PID/stat fields after its command name, from field 3 on (state, ppid, pgrp,
 * ...; the start time in clock ticks since boot, field 22, is [19]), or undefined when it does not run.
 */
export function procStat(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** A process's command line (/proc/PID/cmdline), argument by argument, or undefined when it does not run. */
export function procArgs(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return undefined;
  }
}

const startTicks = (pid: number): string | undefined => procStat(pid)?.[19];

const ownMark = () => `${process.pid}:${startTicks(process.pid) ?? "0"}`;

/** Whether the script a mark names still runs: same pid and start time, and not a zombie (a killed script nobody has reaped yet). */
const markAlive = (mark: string) => {
  const stat = procStat(Number(mark.split(":")[0]));
  return !!stat && stat[19] === mark.split(":")[1] && stat[0] !== "Z";
};

export interface MarkedProcess {
  readonly pid: number;
  readonly mark: string;
  readonly command: string;
}

/** Processes of this machine carrying a RUN_MARK (only those one of these scripts started, directly or not). */
export function markedProcesses(): MarkedProcess[] {
  const found: MarkedProcess[] = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!pid || pid === process.pid) continue;
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
      const mark = environ.find((v) => v.startsWith(`${RUN_MARK}=`))?.slice(RUN_MARK.length + 1);
      if (!mark) continue;
      const command = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0]!;
      found.push({ pid, mark, command: path.basename(command) });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

function killAll(procs: readonly MarkedProcess[]): MarkedProcess[] {
  return procs.filter((p) => {
    try {
      process.kill(p.pid, "SIGKILL");
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * Stops what a killed run of these scripts left running: processes whose mark names a script
 * that no longer runs (the provider runs in its own process group, so killing the script's
 * group leaves it behind). Nothing else is touched: a process without the mark, or whose script
 * still runs, is not ours to stop. Says what it stopped in one line.
 */
export function stopLeftovers(): MarkedProcess[] {
  const stopped = killAll(markedProcesses().filter((p) => !markAlive(p.mark)));
  if (stopped.length) console.log(`[recover] stopped ${stopped.length} process(es) a killed run left running: ${stopped.map((p) => `${p.command} (pid ${p.pid})`).join(", ")}`);
  return stopped;
}

/**
 * On SIGINT or SIGTERM while the CLI runs: the CLI gets one SIGINT (it cancels, saves its state
 * and stops its providers), a second signal or 30 s later it is killed; once it has exited, any
 * process this script started that is still running (a provider) is killed. The returned
 * function, called when the CLI has exited, removes the handlers and tells whether a signal came.
 */
function stopTreeOnSignal(child: import("node:child_process").ChildProcess): () => NodeJS.Signals | undefined {
  let received: NodeJS.Signals | undefined;
  let timer: NodeJS.Timeout | undefined;
  const handler = (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (received) {
      child.kill("SIGKILL");
      return;
    }
    received = signal;
    console.error(`\n[stop] ${signal}: stopping pulumi (it saves what it has done and stops its providers; again to kill it)`);
    // Ctrl-C at a terminal reaches the CLI too (same process group): a second SIGINT would kill it
    if (!(signal === "SIGINT" && process.stdin.isTTY)) child.kill("SIGINT");
    timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return () => {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
    if (timer) clearTimeout(timer);
    if (!received) return undefined;
    const own = ownMark();
    const stopped = killAll(markedProcesses().filter((p) => p.mark === own));
    console.error(`[stop] pulumi exited${stopped.length ? `; stopped ${stopped.map((p) => `${p.command} (pid ${p.pid})`).join(", ")}` : ""}; the next run clears a lock or pending operations it left`);
    return received;
  };
}

/** A lock file of the DIY backend (pulumi pkg/backend/diy/lock.go: `.pulumi/locks/<org>/<project>/<stack>/<id>.json`). */
export interface StackLock {
  readonly file: string;
  readonly pid: number;
  readonly username: string;
  readonly hostname: string;
  readonly timestamp: string;
}

const backendDir = (env: NodeJS.ProcessEnv): string | undefined => (env.PULUMI_BACKEND_URL?.startsWith("file://") ? env.PULUMI_BACKEND_URL.slice("file://".length) : undefined);

/** The locks of `stack` of this project in a file backend (none for other backends: they lock in their service). */
export function stackLocks(env: NodeJS.ProcessEnv, stack: string): StackLock[] {
  const dir = backendDir(env);
  if (!dir) return [];
  const root = path.join(dir, ".pulumi", "locks");
  const locks: StackLock[] = [];
  const walk = (d: string) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const f = path.join(d, e.name);
      if (e.isDirectory()) walk(f);
      else if (e.name.endsWith(".json") && path.basename(d) === stack && [PROJECT, "locks"].includes(path.basename(path.dirname(d)))) {
        try {
          const l = JSON.parse(readFileSync(f, "utf8"));
          locks.push({ file: f, pid: Number(l.pid), username: String(l.username ?? "?"), hostname: String(l.hostname ?? "?"), timestamp: String(l.timestamp ?? "?") });
        } catch {
          // being written or removed this instant
        }
      }
    }
  };
  walk(root);
  return locks;
}

/** The project's name (Pulumi.yaml), which names its folders in a file backend. */
export const PROJECT = "observability-stack";

/** Whether a lock's pulumi process runs on this machine: its pid is a pulumi process started no later than the lock. */
export function lockHolderRuns(l: StackLock): boolean {
  if (l.hostname !== os.hostname()) return true; // another machine: it cannot be checked from here
  try {
    const argv0 = readFileSync(`/proc/${l.pid}/cmdline`, "utf8").split("\0")[0]!;
    if (!path.basename(argv0).startsWith("pulumi")) return false;
    const btime = Number(/^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"))![1]);
    const started = (btime + Number(startTicks(l.pid)) / 100) * 1000;
    const locked = Date.parse(l.timestamp);
    return Number.isNaN(locked) || started <= locked + 2000;
  } catch {
    return false;
  }
}

const describeLock = (l: StackLock) => `pulumi pid ${l.pid} of ${l.username}@${l.hostname} since ${l.timestamp}`;

/** A stack locked by a run that may still be going: the message names the holder and how to clear it. */
export class StackLockedError extends Error {}

/**
 * Clears the stack's locks whose pulumi process no longer runs on this machine (one line each);
 * a lock held by a running process, or by another machine, is an error naming its holder.
 */
export function clearStaleLocks(env: NodeJS.ProcessEnv, stack: string): void {
  for (const l of stackLocks(env, stack)) {
    if (!lockHolderRuns(l)) {
      for (const f of [l.file, `${l.file}.attrs`]) rmSync(f, { force: true });
      console.log(`[recover] stack ${stack}: cleared the lock of ${describeLock(l)}, which no longer runs (a killed run)`);
      continue;
    }
    const where = l.hostname === os.hostname() ? "a run still going on this machine" : "a run on another machine (this one cannot tell whether it still runs)";
    throw new StackLockedError(`stack ${stack} is locked by ${where}: ${describeLock(l)}. Wait for it to end, or stop it and clear the lock: npm run cancel -- --stack ${stack}`);
  }
}

interface Checkpoint {
  deployment?: { pending_operations?: { type: string; resource: { urn: string } }[] };
}

/** The stack's state as `pulumi stack export` gives it (undefined for a stack with no state yet). */
async function exportState(env: NodeJS.ProcessEnv, stack: string, cwd: string): Promise<Checkpoint | undefined> {
  const dir = backendDir(env);
  if (dir) {
    // the plain checkpoint file: a look at it costs no CLI start when nothing is pending
    const file = path.join(dir, ".pulumi", "stacks", PROJECT, `${stack}.json`);
    if (existsSync(file) && !readFileSync(file, "utf8").includes('"pending_operations"')) return undefined;
  }
  const r = await pulumiAsync(["stack", "export", "--stack", stack], env, cwd);
  // no state, or an export that is not a checkpoint: nothing to clear here (the command that
  // follows reports pending operations itself)
  if (r.status !== 0 || !r.stdout.trim()) return undefined;
  try {
    return JSON.parse(r.stdout);
  } catch {
    console.log(`[recover] stack ${stack}: pulumi stack export printed no JSON; pending operations are not checked`);
    return undefined;
  }
}

const shortUrn = (urn: string) => urn.split("::").slice(-2).join(" ");

/**
 * Operations a killed run left pending. Every object of the stack has a fixed name and is
 * applied with one field manager, so the next `up` applies them again and takes over whatever
 * they had created: the state forgets them (stack export, import) and the engine's warning does
 * not repeat on every later run. `preview` leaves the state alone and only says so.
 */
export async function clearPendingOperations(env: NodeJS.ProcessEnv, stack: string, command: string, cwd = projectDir): Promise<void> {
  const state = await exportState(env, stack, cwd);
  const pending = state?.deployment?.pending_operations ?? [];
  if (!state || !pending.length) return;
  const list = pending.map((op) => `${op.type} ${shortUrn(op.resource.urn)}`).join(", ");
  if (command === "preview") {
    console.log(`[recover] stack ${stack}: ${pending.length} operation(s) of a killed run are pending (${list}); the next npm run up clears them and applies them again`);
    return;
  }
  delete state.deployment!.pending_operations;
  const dir = mkdtempSync(path.join(os.tmpdir(), "obs-pending-"));
  try {
    const file = path.join(dir, "state.json");
    writeFileSync(file, JSON.stringify(state));
    const r = await pulumiAsync(["stack", "import", "--file", file, "--stack", stack], env, cwd);
    if (r.status !== 0) throw new Error(`clearing the pending operations of stack ${stack} failed: ${(r.stderr || r.stdout).trim()}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const next = command === "up" ? "this up applies them again and takes over what they created" : "npm run up applies them again and takes over what they created";
  console.log(`[recover] stack ${stack}: cleared ${pending.length} operation(s) a killed run left pending (${list}); ${next}`);
}

/** Whether a file holds one JSON value, whole (an empty or cut-off file does not). */
function wholeJson(file: string): boolean {
  try {
    JSON.parse(readFileSync(file, "utf8"));
    return true;
  } catch {
    return false;
  }
}

/**
 * Metadata files of the stack's state in a file backend that a killed run left half-written.
 * The backend (gocloud's fileblob) writes each state file to a temporary file and renames it into
 * place, whole, but writes the `.attrs` file beside it in place: truncate, then write. A run
 * killed between the two leaves it empty, and every later command on the stack, `stack select`
 * first, fails with "failed to load checkpoint: EOF" (seen in CI after a SIGKILL). The file only
 * holds a content type and a checksum that is checked on write, never on read; without it the
 * backend reads the state as it is. So a broken one is removed, said in one line, and the state
 * files themselves are not touched. Only the stack's checkpoint and its backup are rewritten under
 * the same name: locks and history files get a new name per write, so a kill there leaves only an
 * attrs file without its file, which the backend's listing skips. Call it once the stack's lock is
 * known to be stale or absent.
 */
export function repairStateMetadata(env: NodeJS.ProcessEnv, stack: string): string[] {
  const dir = backendDir(env);
  if (!dir) return [];
  const stacks = path.join(dir, ".pulumi", "stacks", PROJECT);
  const files = existsSync(stacks) ? readdirSync(stacks) : [];
  const broken = files.filter((f) => f.startsWith(`${stack}.json`) && f.endsWith(".attrs")).map((f) => path.join(stacks, f)).filter((f) => !wholeJson(f));
  for (const f of broken) rmSync(f, { force: true });
  if (broken.length) {
    console.log(`[recover] stack ${stack}: removed ${broken.length} metadata file(s) a killed run left half-written: ${broken.map((f) => path.relative(dir, f)).join(", ")} (the state files are whole: the backend renames them into place)`);
  }
  return broken;
}

/**
 * Everything a killed run may have left, then the stack selected (created when new): its
 * processes and the lock, half-written state metadata (which `stack select` already trips on),
 * and once selected, its pending operations.
 */
export async function recoverInterruptedRun(env: NodeJS.ProcessEnv, stack: string, command: string, cwd = projectDir): Promise<void> {
  stopLeftovers();
  clearStaleLocks(env, stack);
  repairStateMetadata(env, stack);
  await selectStackAsync(stack, env, cwd);
  await clearPendingOperations(env, stack, command, cwd);
}
