// The canary's state on a stack's cluster; the usage is below (--help).
import { parseArgs } from "node:util";
import { cliArgs, HELP, UsageError } from "./lib/args.js";
import { namespaceRevisions } from "../components/istio/guard.js";
import { defaultRevision } from "../components/istio/config.js";
import { readStackConfig, targetOf } from "../config/target.js";
import { up as clusterUp } from "./lib/cluster.js";
import { observeMesh } from "../components/istio/observe.js";

const USAGE = `
usage: npm run canary -- status [--stack S]

status: per namespace the desired and the running Istio revisions (the revision that injected each
pod's sidecar, as the injector recorded it; pods without a sidecar are not counted), each revision
tag's target in config and in the cluster, and which revisions are removable (used by no tag,
namespace or pod). It reads the cluster through the Kubernetes API with the stack's kubeconfig
and context.
For stack local the embedded cluster is started when needed.

options:
  -s, --stack S   the stack, config/Pulumi.S.yaml: local, dev, staging, prod (default: local)
  -h, --help      this text

example:
  npm run canary -- status --stack staging
`;

const { values } = cliArgs(
  "npm run canary",
  USAGE,
  (args) => parseArgs({ args, strict: true, allowPositionals: true, options: { ...HELP, stack: { type: "string", short: "s", default: "local" } } }),
  ({ positionals: [command, ...extra] }) => {
    if (command !== "status") throw new UsageError(command === undefined ? "name a command: status" : `unknown command '${command}' (commands: status)`);
    if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
  },
);

async function main(stack: string): Promise<number> {
  const cfg = readStackConfig(stack);
  const target = targetOf(cfg);
  if (!target) throw new Error(`stack '${stack}' renders to a directory; canary status needs a cluster`);
  if (stack === "local") await clusterUp();
  const observed = await observeMesh(target);
  const desired = namespaceRevisions(cfg.istio);

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
  const clusterTags = observed.tags ?? {};
  for (const tag of [...new Set([...Object.keys(cfg.istio.tags), ...Object.keys(clusterTags)])].sort()) console.log(`${tag.padEnd(20)} ${(cfg.istio.tags[tag] ?? "-").padEnd(21)} ${clusterTags[tag] ?? "-"}`);
  console.log("\nREVISION             REMOVABLE");
  for (const rev of [...new Set([...observed.revisions, ...cfg.istio.revisions.map((r) => r.name)])].sort()) {
    const users = [
      ...Object.entries(cfg.istio.tags).filter(([, r]) => r === rev).map(([t]) => `tag ${t}`),
      ...(defaultRevision(cfg.istio) === rev ? ["the default tag (obs:istio.defaultRevision)"] : []),
      ...Object.entries(desired).filter(([, r]) => r === rev).map(([ns]) => `namespace ${ns}`),
      ...((observed.podsByRevision[rev] ?? []).length ? [`${observed.podsByRevision[rev]!.length} pod(s)`] : []),
    ];
    console.log(`${rev.padEnd(20)} ${users.length ? `no: used by ${users.join(", ")}` : "yes"}`);
  }
  return 0;
}

main(values.stack).then(
  (c) => process.exit(c),
  (e: Error) => {
    console.error(`npm run canary: ${e.message}`);
    process.exit(1);
  },
);
