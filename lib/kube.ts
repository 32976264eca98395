// Kubernetes client helpers: the pinned kubectl against a target (kubeconfig + context), its
// JSON read sync or async, and one error form naming the context.
import { execFile, spawnSync } from "node:child_process";
import { toolPath } from "./tools.js";

export interface Target {
  readonly kubeconfig?: string;
  readonly context?: string;
}

const targetArgs = (t: Target) => [...(t.kubeconfig ? ["--kubeconfig", t.kubeconfig] : []), ...(t.context ? ["--context", t.context] : [])];
const failure = (what: string, t: Target, out: string) => new Error(`${what} (context ${t.context ?? "current"}): ${out.trim()}`);
const JSON_ARGS = ["-o", "json", "--request-timeout=20s"];

/** Runs the pinned kubectl against a target; throws with its stderr when it fails. */
export function kubectlOn(t: Target, args: string[], what = `kubectl ${args.join(" ")}`): string {
  const r = spawnSync(toolPath("kubectl"), [...targetArgs(t), ...args], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw failure(what, t, r.stderr || r.stdout);
  return r.stdout;
}

export function kubectlJson(t: Target, args: string[]): { items: any[] } {
  return JSON.parse(kubectlOn(t, [...args, ...JSON_ARGS], `kubectl ${args.join(" ")}`));
}

/** kubectlJson without blocking the event loop, so several can run at once. */
export function kubectlJsonAsync(t: Target, args: string[]): Promise<{ items: any[] }> {
  return new Promise((resolve, reject) =>
    execFile(toolPath("kubectl"), [...targetArgs(t), ...args, ...JSON_ARGS], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) =>
      err ? reject(failure(`kubectl ${args.join(" ")}`, t, stderr || stdout || err.message)) : resolve(JSON.parse(stdout)),
    ),
  );
}
