// Workload restarts of a canary step, run by `npm run up` after the update.
import { kubectlJson, kubectlOn, type Target } from "../../lib/kube.js";

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
