// Every Kubernetes object of a stack as YAML, offline; the usage is below (--help).
import { parseArgs } from "node:util";
import { cliArgs, HELP, UsageError } from "./lib/args.js";
import { renderStack } from "./lib/render.js";
import { groupTools, preflight } from "../lib/tools.js";

const USAGE = `
usage: npm run render -- [--stack S] --out DIR

Writes every Kubernetes object of stack S as YAML under DIR (DIR is emptied first): the
stack's program through the real engine, its provider in render-to-directory mode, secrets
replaced by placeholders. No cluster needed. Needs the tools of group up (npm run tools --
--for up) less kubectl: pulumi, its Kubernetes provider and istioctl of the stack's versions.

options:
  -s, --stack S   the stack, config/Pulumi.S.yaml: local, dev, staging, prod (default: local)
  --out DIR       where the YAML goes (required)
  -h, --help      this text

example:
  npm run render -- --stack prod --out /tmp/prod
`;

const { values } = cliArgs(
  "npm run render",
  USAGE,
  (args) => parseArgs({ args, strict: true, options: { ...HELP, stack: { type: "string", short: "s", default: "local" }, out: { type: "string" } } }),
  ({ values }) => {
    if (!values.out) throw new UsageError("--out DIR is required");
  },
);

async function main(stack: string, out: string): Promise<number> {
  // pulumi, the provider and this stack's istioctl versions: no cluster, so no kubectl
  preflight("up", groupTools("up", { stack }).filter((t) => t.binary !== "kubectl"));
  const r = await renderStack(stack, out);
  console.log(`rendered stack '${stack}': ${r.files.length} files under ${out} in ${r.seconds.toFixed(1)}s`);
  return 0;
}

main(values.stack, values.out!).then(
  (c) => process.exit(c),
  (e: Error) => {
    console.error(`npm run render: ${e.message}`);
    process.exit(1);
  },
);
