// Runs the pinned Pulumi CLI on this project's program.
//
// The program runs in this Node process behind @pulumi/pulumi's own language server, and the
// CLI connects to it with `--client` (what the Automation API does for inline programs). So no
// pulumi-language-nodejs binary is needed: the module proxy here does not serve it.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
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
  const { LanguageServer } = require("@pulumi/pulumi/automation/server");
  const langrpc = require("@pulumi/pulumi/proto/language_grpc_pb");
  const server = new grpc.Server({ "grpc.max_receive_message_length": 1024 * 1024 * 400 });
  const languageServer = new LanguageServer(program);
  server.addService(langrpc.LanguageRuntimeService, languageServer);
  const port: number = await new Promise((resolve, reject) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err: Error | null, p: number) => (err ? reject(err) : resolve(p))));
  const child = spawn(toolPath("pulumi"), [...args, `--client=127.0.0.1:${port}`], { env, cwd: opts.cwd ?? projectDir, stdio: ["inherit", opts.capture ? "pipe" : "inherit", opts.capture ? "pipe" : "inherit"] });
  // the CLI needs about a second before it asks for the program: load the program's modules meanwhile
  if (runsProgram(args[0]!)) program.preload?.().catch(() => undefined);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d) => (stdout += d));
  child.stderr?.on("data", (d) => ((stderr += d), process.stderr.write(d)));
  const code: number = await new Promise((resolve) => child.on("close", (c) => resolve(c ?? 1)));
  server.forceShutdown();
  return { code, stdout, stderr };
}

/** The project program: index.ts's default export. Importing it has no side effects, so it can be preloaded. */
const importProgram = () => import(path.join(repoRoot, "index.ts"));
export const projectProgram: Program = Object.assign(async () => (await importProgram()).default(), { preload: importProgram });
