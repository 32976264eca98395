// usage: npm run up|preview|destroy|refresh -- [--stack S] [pulumi flags...]
// Default stack `local` (the embedded cluster is started when needed). Other flags go to pulumi.
import { existsSync } from "node:fs";
import path from "node:path";
import { up as clusterUp } from "./lib/cluster.js";
import { projectProgram, pulumiEnv, runWithProgram, selectStack } from "./lib/pulumi.js";
import { repoRoot } from "./lib/tools.js";

const COMMANDS = ["up", "preview", "destroy", "refresh"] as const;
type Command = (typeof COMMANDS)[number];

export function parseArgs(argv: string[]): { stack: string; rest: string[] } {
  const rest: string[] = [];
  let stack = "local";
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--stack" || a === "-s") stack = argv[++i] ?? "";
    else if (a.startsWith("--stack=")) stack = a.slice("--stack=".length);
    else rest.push(a);
  }
  return { stack, rest };
}

async function main(): Promise<number> {
  const cmd = process.argv[2] as Command;
  if (!COMMANDS.includes(cmd)) {
    console.error("usage: npm run up|preview|destroy|refresh -- [--stack S] [pulumi flags...]");
    return 2;
  }
  const { stack, rest } = parseArgs(process.argv.slice(3));
  if (!existsSync(path.join(repoRoot, "config", `Pulumi.${stack}.yaml`))) {
    console.error(`no stack '${stack}': config/Pulumi.${stack}.yaml does not exist (stacks: local, dev, staging, prod)`);
    return 2;
  }
  const env = pulumiEnv({ stack });
  if (stack === "local") await clusterUp();
  selectStack(stack, env);
  const extra = cmd === "preview" && !rest.some((a) => a === "--diff" || a.startsWith("--json")) ? ["--diff"] : [];
  const { code } = await runWithProgram(projectProgram, [cmd, "--stack", stack, ...extra, ...rest], env);
  return code;
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    console.error(`npm run ${process.argv[2]}: ${e.message}`);
    process.exit(1);
  },
);
