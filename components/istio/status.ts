// `canary status` (pure): per namespace the desired and the running revisions (the revision that
// injected each pod's sidecar), each tag's target in config and in the cluster, which revisions are
// removable. scripts/canary.ts reads the cluster (observe.ts) and prints these lines.
import { revisionTags, type IstioConfig } from "./config.js";
import { meshNamespaceRevisions, type ObservedMesh, tagFollowers } from "./guard.js";

export function canaryStatus(stack: string, istio: IstioConfig, observed: ObservedMesh): string[] {
  const followers = tagFollowers(istio, observed);
  const desired = meshNamespaceRevisions(istio, observed, followers);
  const lines = [`stack ${stack}: revisions running: ${observed.revisions.join(", ") || "none"}; in config: ${istio.revisions.map((r) => `${r.name} (${r.version})`).join(", ")}`];
  lines.push("", "NAMESPACE            LABEL (config)        DESIRED REVISION   RUNNING PODS BY REVISION");
  const running: Record<string, Record<string, number>> = {};
  for (const [rev, pods] of Object.entries(observed.podsByRevision)) {
    for (const p of pods) {
      const ns = p.split("/")[0]!;
      (running[ns] ??= {})[rev] = (running[ns]![rev] ?? 0) + 1;
    }
  }
  for (const ns of [...new Set([...Object.keys(desired), ...Object.keys(running)])].sort()) {
    const pods = Object.entries(running[ns] ?? {}).map(([r, n]) => `${r}: ${n}`).join(", ") || "-";
    const moving = running[ns] && desired[ns] && Object.keys(running[ns]!).some((r) => r !== desired[ns]) ? "  (restart pending)" : "";
    lines.push(`${ns.padEnd(20)} ${(istio.namespaces[ns] ?? (followers[ns] ? `${followers[ns]!.label} (own)` : "-")).padEnd(21)} ${(desired[ns] ?? "-").padEnd(18)} ${pods}${moving}`);
  }
  if (Object.keys(followers).length) lines.push("(own): a namespace outside obs:istio.namespaces whose own label follows a tag of the stack; its workloads restart when the tag moves");
  lines.push("", "TAG                  CONFIG -> REVISION    CLUSTER -> REVISION");
  const clusterTags = observed.tags ?? {};
  const tags = revisionTags(istio);
  for (const tag of [...new Set([...Object.keys(tags), ...Object.keys(clusterTags)])].sort()) lines.push(`${tag.padEnd(20)} ${(tags[tag] ?? "-").padEnd(21)} ${clusterTags[tag] ?? "-"}`);
  lines.push("", "REVISION             REMOVABLE");
  for (const rev of [...new Set([...observed.revisions, ...istio.revisions.map((r) => r.name)])].sort()) {
    const users = [
      ...Object.entries(tags).filter(([, r]) => r === rev).map(([t]) => (t === "default" ? "the default tag (obs:istio.defaultRevision)" : `tag ${t}`)),
      ...Object.entries(desired).filter(([, r]) => r === rev).map(([ns]) => `namespace ${ns}`),
      ...((observed.podsByRevision[rev] ?? []).length ? [`${observed.podsByRevision[rev]!.length} pod(s)`] : []),
    ];
    lines.push(`${rev.padEnd(20)} ${users.length ? `no: used by ${users.join(", ")}` : "yes"}`);
  }
  return lines;
}
