// Read-only look at a cluster's mesh with the pinned kubectl: which revisions run, which pods
// and namespaces use them. Used by the canary guard rails at preview and by `canary status`.
import { execFile, spawnSync } from "node:child_process";
import type { ObservedMesh } from "../../components/istio/guard.js";
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

/** The three reads run at once: the guard runs before every preview and up. */
export async function observeMesh(t: Target): Promise<ObservedMesh> {
  const [istiodList, podList, nsList] = await Promise.all([
    kubectlJsonAsync(t, ["get", "deployments", "-n", "istio-system", "-l", "app=istiod"]),
    kubectlJsonAsync(t, ["get", "pods", "-A", "-l", "istio.io/rev"]),
    kubectlJsonAsync(t, ["get", "namespaces", "-l", "istio.io/rev"]),
  ]);
  const istiods = istiodList.items;
  const revisions = [...new Set(istiods.map((d) => d.metadata.labels?.["istio.io/rev"]).filter(Boolean) as string[])];
  const podsByRevision: Record<string, string[]> = {};
  for (const p of podList.items) {
    if (p.metadata.namespace === "istio-system") continue;
    (podsByRevision[p.metadata.labels["istio.io/rev"]] ??= []).push(`${p.metadata.namespace}/${p.metadata.name}`);
  }
  const namespacesByLabel: Record<string, string[]> = {};
  for (const n of nsList.items) (namespacesByLabel[n.metadata.labels["istio.io/rev"]] ??= []).push(n.metadata.name);
  return { revisions, podsByRevision, namespacesByLabel };
}

/** Rolling restart of every Deployment, StatefulSet and DaemonSet in a namespace; returns what restarted. */
export function restartWorkloads(t: Target, namespace: string): string[] {
  const restarted: string[] = [];
  for (const kind of ["deployment", "statefulset", "daemonset"]) {
    const items = kubectlJson(t, ["get", kind, "-n", namespace]).items;
    for (const w of items) {
      const name = `${kind}/${w.metadata.name}`;
      kubectlOn(t, ["rollout", "restart", name, "-n", namespace]);
      kubectlOn(t, ["rollout", "status", name, "-n", namespace, "--timeout=300s"], `${name} in ${namespace} did not finish rolling within 300s`);
      restarted.push(name);
    }
  }
  return restarted;
}

/** Drops the legacy `istio-injection` label (it would take precedence over istio.io/rev); true if it was there. */
export function removeLegacyInjectionLabel(t: Target, namespace: string): boolean {
  const ns = kubectlJson(t, ["get", "namespaces", "--field-selector", `metadata.name=${namespace}`]).items[0];
  if (!ns?.metadata.labels?.["istio-injection"]) return false;
  kubectlOn(t, ["label", "namespace", namespace, "istio-injection-"]);
  return true;
}
