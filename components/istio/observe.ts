// Read-only look at a cluster's mesh: which revisions run, which pods and namespaces use them.
// Used by the canary guard rails at preview and by `canary status`.
import { kubectlJsonAsync, type Target } from "../../lib/kube.js";
import { ISTIO_NAMESPACE } from "../k8s/labels.js";
import type { ObservedMesh } from "./guard.js";

/** The three reads run at once: the guard runs before every preview and up. */
export async function observeMesh(t: Target): Promise<ObservedMesh> {
  const [istiodList, podList, nsList] = await Promise.all([
    kubectlJsonAsync(t, ["get", "deployments", "-n", ISTIO_NAMESPACE, "-l", "app=istiod"]),
    kubectlJsonAsync(t, ["get", "pods", "-A", "-l", "istio.io/rev"]),
    kubectlJsonAsync(t, ["get", "namespaces", "-l", "istio.io/rev"]),
  ]);
  const istiods = istiodList.items;
  const revisions = [...new Set(istiods.map((d) => d.metadata.labels?.["istio.io/rev"]).filter(Boolean) as string[])];
  const podsByRevision: Record<string, string[]> = {};
  for (const p of podList.items) {
    if (p.metadata.namespace === ISTIO_NAMESPACE) continue;
    (podsByRevision[p.metadata.labels["istio.io/rev"]] ??= []).push(`${p.metadata.namespace}/${p.metadata.name}`);
  }
  const namespacesByLabel: Record<string, string[]> = {};
  for (const n of nsList.items) (namespacesByLabel[n.metadata.labels["istio.io/rev"]] ??= []).push(n.metadata.name);
  return { revisions, podsByRevision, namespacesByLabel };
}
