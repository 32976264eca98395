// usage: npm run canary -- status [--stack S]
// Per namespace the desired and the running revisions, each tag's target, which revisions are removable.
import { namespaceRevisions } from "../components/istio/guard.js";
import { readStackConfig, targetOf } from "../config/target.js";
import { up as clusterUp } from "./lib/cluster.js";
import { kubectlJson } from "../lib/kube.js";
import { observeMesh } from "../components/istio/observe.js";

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const stackIdx = argv.indexOf("--stack");
  const stack = stackIdx >= 0 ? argv[stackIdx + 1]! : "local";
  if (argv[0] !== "status") {
    console.error("usage: npm run canary -- status [--stack S]");
    return 2;
  }
  const cfg = readStackConfig(stack);
  const target = targetOf(cfg);
  if (!target) throw new Error(`stack '${stack}' renders to a directory; canary status needs a cluster`);
  if (stack === "local") await clusterUp();
  const observed = await observeMesh(target);
  const desired = namespaceRevisions(cfg.istio);
  const tagHooks = kubectlJson(target, ["get", "mutatingwebhookconfigurations", "-l", "istio.io/tag"]).items as { metadata: { labels: Record<string, string> } }[];

  console.log(`stack ${stack}: revisions running: ${observed.revisions.join(", ") || "none"}; in config: ${cfg.istio.revisions.map((r) => `${r.name} (${r.version})`).join(", ")}`);
  console.log("\nNAMESPACE            LABEL (config)        DESIRED REVISION   RUNNING PODS BY REVISION");
  const running: Record<string, Record<string, number>> = {};
  for (const [rev, pods] of Object.entries(observed.podsByRevision)) for (const p of pods) {
    const ns = p.split("/")[0]!;
    (running[ns] ??= {})[rev] = (running[ns]![rev] ?? 0) + 1;
  }
  for (const ns of [...new Set([...Object.keys(desired), ...Object.keys(running)])].sort()) {
    const pods = Object.entries(running[ns] ?? {}).map(([r, n]) => `${r}: ${n}`).join(", ") || "-";
    const moving = running[ns] && desired[ns] && Object.keys(running[ns]!).some((r) => r !== desired[ns]) ? "  (restart pending)" : "";
    console.log(`${ns.padEnd(20)} ${(cfg.istio.namespaces[ns] ?? "-").padEnd(21)} ${(desired[ns] ?? "-").padEnd(18)} ${pods}${moving}`);
  }
  console.log("\nTAG                  CONFIG -> REVISION    CLUSTER -> REVISION");
  const clusterTags = Object.fromEntries(tagHooks.map((h) => [h.metadata.labels["istio.io/tag"], h.metadata.labels["istio.io/rev"]]));
  for (const tag of [...new Set([...Object.keys(cfg.istio.tags), ...Object.keys(clusterTags)])].sort()) console.log(`${tag.padEnd(20)} ${(cfg.istio.tags[tag] ?? "-").padEnd(21)} ${clusterTags[tag] ?? "-"}`);
  console.log("\nREVISION             REMOVABLE");
  for (const rev of [...new Set([...observed.revisions, ...cfg.istio.revisions.map((r) => r.name)])].sort()) {
    const users = [
      ...Object.entries(cfg.istio.tags).filter(([, r]) => r === rev).map(([t]) => `tag ${t}`),
      ...Object.entries(desired).filter(([, r]) => r === rev).map(([ns]) => `namespace ${ns}`),
      ...((observed.podsByRevision[rev] ?? []).length ? [`${observed.podsByRevision[rev]!.length} pod(s)`] : []),
    ];
    console.log(`${rev.padEnd(20)} ${users.length ? `no: used by ${users.join(", ")}` : "yes"}`);
  }
  return 0;
}

main().then(
  (c) => process.exit(c),
  (e: Error) => {
    console.error(`npm run canary: ${e.message}`);
    process.exit(1);
  },
);
