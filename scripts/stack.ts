// usage: npm run up|preview|destroy|refresh -- [--stack S] [--summary FILE] [pulumi flags...]
// Default stack `local` (the embedded cluster is started when needed). Other flags go to pulumi.
import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { up as clusterUp } from "./lib/cluster.js";
import { projectProgram, pulumiAsync, pulumiEnv, runsProgram, runWithProgram, selectStackAsync } from "./lib/pulumi.js";
import { movedNamespaces, namespaceRevisions } from "../components/istio/guard.js";
import { readStackConfig, targetOf } from "../config/target.js";
import { removeLegacyInjectionLabel, restartWorkloads } from "./lib/workloads.js";
import { summarize } from "./lib/summary.js";
import { projectDir } from "../lib/tools.js";

const COMMANDS = ["up", "preview", "destroy", "refresh"] as const;
type Command = (typeof COMMANDS)[number];

export function parseArgs(argv: string[]): { stack: string; rest: string[]; summary?: string } {
  const rest: string[] = [];
  let stack = "local";
  let summary: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--stack" || a === "-s") stack = argv[++i] ?? "";
    else if (a === "--summary") summary = argv[++i];
    else if (a.startsWith("--stack=")) stack = a.slice("--stack=".length);
    else rest.push(a);
  }
  return { stack, rest, summary };
}

async function main(): Promise<number> {
  const cmd = process.argv[2] as Command;
  if (!COMMANDS.includes(cmd)) {
    console.error("usage: npm run up|preview|destroy|refresh -- [--stack S] [pulumi flags...]");
    return 2;
  }
  const { stack, rest, summary } = parseArgs(process.argv.slice(3));
  if (!existsSync(path.join(projectDir, "config", `Pulumi.${stack}.yaml`))) {
    console.error(`no stack '${stack}': config/Pulumi.${stack}.yaml does not exist (stacks: local, dev, staging, prod)`);
    return 2;
  }
  const env = pulumiEnv({ stack });
  // the program's modules (~1 s to load) load while the CLI calls below run in their own processes
  if (runsProgram(cmd)) void projectProgram.preload?.().catch(() => undefined); // a failing import is reported when the program runs
  if (stack === "local") await clusterUp();
  // what `up` moves is judged against the deployed outputs, read while the stack is selected
  const [before] = await Promise.all([cmd === "up" ? namespaceRevisionsOutput(stack, env) : Promise.resolve({}), selectStackAsync(stack, env)]);
  const extra = cmd === "preview" && !rest.some((a) => a === "--diff" || a.startsWith("--json")) ? ["--diff"] : [];
  if (summary) {
    if (cmd !== "preview") throw new Error("--summary goes with preview");
    // the JSON plan, then the reviewer's Markdown from it (values never printed)
    const r = await runWithProgram(projectProgram, ["preview", "--stack", stack, "--json", ...rest], env, { capture: true });
    if (r.code !== 0) {
      process.stdout.write(r.stdout);
      return r.code;
    }
    const md = summarize(stack, JSON.parse(r.stdout), namespaceRevisions(readStackConfig(stack).istio));
    writeFileSync(summary, md);
    process.stdout.write(md);
    return 0;
  }
  const { code } = await runWithProgram(projectProgram, [cmd, "--stack", stack, ...extra, ...rest], env);
  // after a successful up the output is what the program computes from this config: no second CLI call
  if (code === 0 && cmd === "up") restartMoved(stack, before, namespaceRevisions(readStackConfig(stack).istio));
  return code;
}

async function namespaceRevisionsOutput(stack: string, env: NodeJS.ProcessEnv): Promise<Record<string, string>> {
  const r = await pulumiAsync(["stack", "output", "namespaceRevisions", "--json", "--stack", stack], env);
  try {
    return r.status === 0 ? JSON.parse(r.stdout) ?? {} : {};
  } catch {
    return {};
  }
}

// The canary step's second half: workloads of namespaces that moved to another revision are
// restarted, rolling, so their sidecars come from the new control plane.
function restartMoved(stack: string, before: Record<string, string>, after: Record<string, string>): void {
  const target = targetOf(readStackConfig(stack));
  if (!target) return;
  const moved = movedNamespaces(before, after);
  // namespaces migrating from the legacy label: it is removed, and their pods move to istio.io/rev
  for (const [ns, rev] of Object.entries(after)) {
    if (!removeLegacyInjectionLabel(target, ns)) continue;
    console.log(`[canary] namespace ${ns}: removed the legacy istio-injection label (istio.io/rev now decides)`);
    if (!moved.some((m) => m.namespace === ns)) moved.push({ namespace: ns, from: "istio-injection", to: rev });
  }
  for (const m of moved) {
    const t0 = Date.now();
    console.log(`[canary] namespace ${m.namespace}: revision ${m.from} -> ${m.to}, restarting its workloads`);
    const restarted = restartWorkloads(target, m.namespace);
    console.log(`[canary] namespace ${m.namespace}: restarted ${restarted.length} workload(s) in ${((Date.now() - t0) / 1000).toFixed(1)}s${restarted.length ? `: ${restarted.join(", ")}` : ""}`);
  }
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    console.error(`npm run ${process.argv[2]}: ${e.message}`);
    process.exit(1);
  },
);
