// The canary's state on a stack's cluster; the usage is below (--help).
import { parseArgs } from "node:util";
import { cliArgs, HELP, UsageError } from "./lib/args.js";
import { canaryStatus } from "../components/istio/status.js";
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
  console.log(canaryStatus(stack, cfg.istio, await observeMesh(target)).join("\n"));
  return 0;
}

main(values.stack).then(
  (c) => process.exit(c),
  (e: Error) => {
    console.error(`npm run canary: ${e.message}`);
    process.exit(1);
  },
);
