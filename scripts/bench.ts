// Times the product against its baseline; the usage is below (--help).
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { parse, stringify } from "yaml";
import { runSync } from "./lib/sh.js";
import { cliArgs, HELP, UsageError } from "./lib/args.js";
import { renderCacheDir } from "../components/istio/render.js";
import { cacheRoot, repoRoot, toolPath } from "../lib/tools.js";

const USAGE = `
usage: npm run bench [-- --runs N --out FILE]

Times the product against its baseline (istioctl + kubectl on the same rendered objects):
render prod (cold and warm istioctl cache), up of stack local from empty against kubectl apply
and wait, a no-op preview against kubectl diff, a one-value change (preview + up) and one canary
step. Each figure is the median of N runs. It starts a local cluster of its own (cluster-bench)
and works on a copy of the project: your cluster and state are not touched. Table on stdout,
JSON to FILE, the machine's load average beside them.

options:
  --runs N     runs per measurement (default: 3)
  --out FILE   the JSON results (default: bench-results.json)
  -h, --help   this text

example:
  npm run bench -- --runs 5 --out /tmp/bench.json
`;

const { values: flags } = cliArgs(
  "npm run bench",
  USAGE,
  (argv) => parseArgs({ args: argv, strict: true, options: { ...HELP, runs: { type: "string", default: "3" }, out: { type: "string", default: "bench-results.json" } } }),
  ({ values }) => {
    if (!/^[1-9]\d*$/.test(values.runs)) throw new UsageError(`--runs needs a whole number of at least 1, not '${values.runs}'`);
  },
);
const RUNS = Number(flags.runs);
const OUT = path.resolve(flags.out);

// The bench owns its cluster and project copy: nothing of the developer's is touched.
process.env.OBS_CLUSTER_DIR = path.join(cacheRoot, "cluster-bench");
const { down: clusterDown, kubeconfigPath, up: clusterUp, kubectl } = await import("./lib/cluster.js");
const project = mkdtempSync(path.join(os.tmpdir(), "obs-bench-"));
cpSync(path.join(repoRoot, "Pulumi.yaml"), path.join(project, "Pulumi.yaml"));
cpSync(path.join(repoRoot, "config"), path.join(project, "config"), { recursive: true });
const env = { ...process.env, OBS_PROJECT_DIR: project, OBS_CLUSTER_DIR: process.env.OBS_CLUSTER_DIR, PULUMI_BACKEND_URL: `file://${path.join(project, "state")}` };
const tsx = path.join(repoRoot, "node_modules", "tsx", "dist", "cli.mjs");

interface Run {
  seconds: number;
  maxRssMb?: number;
  output?: string;
}

/** Runs a command; returns wall time and, for our own Node commands, peak RSS (GNU time). */
function timed(what: string, cmd: string, args: string[], opts: { allowFail?: boolean } = {}): Run {
  const t0 = process.hrtime.bigint();
  const r = runSync({ env })`/usr/bin/time -f MAXRSS_KB=%M ${cmd} ${args}`;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.exitCode !== 0 && !opts.allowFail) throw new Error(`${what} failed (exit ${r.exitCode}):\n${(r.stdout + r.stderr).split("\n").slice(-30).join("\n")}`);
  const rss = /MAXRSS_KB=(\d+)/.exec(r.stderr);
  return { seconds, maxRssMb: rss ? Number(rss[1]) / 1024 : undefined, output: r.stdout + r.stderr };
}

const npm = (what: string, ...args: string[]) => timed(what, process.execPath, [tsx, ...args]);
/** The baseline: the pinned kubectl on the bench cluster, timed like our commands. */
const timedKubectl = (what: string, args: string[], opts: { allowFail?: boolean } = {}) => timed(what, toolPath("kubectl"), ["--kubeconfig", kubeconfigPath, ...args], opts);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const results: Record<string, { median: number; runs: number[]; baseline?: number; ratio?: number; maxRssMb?: number }> = {};
function record(name: string, runs: Run[], baseline?: Run[]): void {
  const m = median(runs.map((r) => r.seconds));
  const b = baseline ? median(baseline.map((r) => r.seconds)) : undefined;
  const rss = runs.map((r) => r.maxRssMb ?? 0);
  results[name] = { median: m, runs: runs.map((r) => r.seconds), ...(b !== undefined ? { baseline: b, ratio: m / b } : {}), ...(rss.some(Boolean) ? { maxRssMb: Math.max(...rss) } : {}) };
  console.log(`[bench] ${name}: ${m.toFixed(1)}s${b !== undefined ? ` (baseline ${b.toFixed(1)}s, ${(m / b).toFixed(2)}x)` : ""}`);
}

function editLocalConfig(edit: (config: Record<string, any>) => void): void {
  const file = path.join(project, "config", "Pulumi.local.yaml");
  const doc = parse(readFileSync(file, "utf8"));
  edit(doc.config);
  writeFileSync(file, stringify(doc));
}
const setSampling = (percent: number) => editLocalConfig((c) => (c["obs:istio"].samplingPercent = percent));
const localConfig = readFileSync(path.join(project, "config", "Pulumi.local.yaml"), "utf8");
const restoreLocalConfig = () => writeFileSync(path.join(project, "config", "Pulumi.local.yaml"), localConfig);

// A workload in the injected namespace, its pods labelled by the revision (what the injector would
// do): the canary step's restart then rolls one real Deployment.
const DEMO_WORKLOAD = `apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: demo }
spec:
  replicas: 2
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec: { containers: [{ name: web, image: nginx:1.27 }] }
`;

/** One canary step: 1-31 added beside 1-30 (untimed), then the timed `up` that moves the tag to it and restarts the namespace's workloads. */
function canaryStep(): Run {
  const tag = (c: Record<string, any>) => Object.keys(c["obs:istio"].tags)[0]!;
  editLocalConfig((c) => c["obs:istio"].revisions.push({ name: "1-31", version: "1.31" }));
  npm("canary: add 1-31", "scripts/stack.ts", "up", "--stack", "local", "--yes", "--skip-preview");
  kubectl(["apply", "-f", "-"], { input: DEMO_WORKLOAD });
  kubectl(["rollout", "status", "deployment/web", "-n", "demo", "--timeout=120s"]);
  editLocalConfig((c) => (c["obs:istio"].tags[tag(c)] = "1-31"));
  const step = npm("canary: tag -> 1-31", "scripts/stack.ts", "up", "--stack", "local", "--yes", "--skip-preview");
  const out = step.output ?? "";
  if (!/\[canary\] namespace demo: restarted 1 workload/.test(out)) throw new Error(`the canary step restarted nothing:\n${out.split("\n").slice(-20).join("\n")}`);
  return step;
}

// kubectl's equivalent of Pulumi's readiness: every workload rolled out, every Job complete.
function waitReady(): Run {
  const t0 = process.hrtime.bigint();
  const workloads = JSON.parse(kubectl(["get", "deployments,statefulsets,daemonsets", "-A", "-o", "json"])).items as { kind: string; metadata: { name: string; namespace: string } }[];
  for (const w of workloads) kubectl(["rollout", "status", `${w.kind.toLowerCase()}/${w.metadata.name}`, "-n", w.metadata.namespace, "--timeout=300s"]);
  kubectl(["wait", "--for=condition=Complete", "job", "--all", "-A", "--timeout=300s"], { allowFail: true });
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

const loadBefore = os.loadavg();

async function main(): Promise<void> {
  await clusterUp();
  const renderDir = path.join(project, "render");

  const cold: Run[] = [];
  const warm: Run[] = [];
  for (let i = 0; i < RUNS; i++) {
    rmSync(renderCacheDir, { recursive: true, force: true });
    cold.push(npm("render prod (cold)", "scripts/render.ts", "--stack", "prod", "--out", renderDir));
    warm.push(npm("render prod (warm)", "scripts/render.ts", "--stack", "prod", "--out", renderDir));
  }
  record("render prod, cold istioctl cache", cold);
  record("render prod, warm", warm);

  // the baseline's objects: the local stack rendered, applied with kubectl
  const localRender = path.join(project, "render-local");
  npm("render local", "scripts/render.ts", "--stack", "local", "--out", localRender);
  const upRuns: Run[] = [];
  const applyRuns: Run[] = [];
  const previewRuns: Run[] = [];
  const diffRuns: Run[] = [];
  const changeRuns: Run[] = [];
  const canaryRuns: Run[] = [];
  for (let i = 0; i < RUNS; i++) {
    upRuns.push(npm("up from empty", "scripts/stack.ts", "up", "--stack", "local", "--yes", "--skip-preview"));
    previewRuns.push(npm("no-op preview", "scripts/stack.ts", "preview", "--stack", "local"));
    diffRuns.push(timedKubectl("kubectl diff", ["diff", "--server-side", "--force-conflicts", "-R", "-f", localRender], { allowFail: true }));
    setSampling(i % 2 ? 100 : 50);
    const p = npm("change preview", "scripts/stack.ts", "preview", "--stack", "local");
    const u = npm("change up", "scripts/stack.ts", "up", "--stack", "local", "--yes", "--skip-preview");
    changeRuns.push({ seconds: p.seconds + u.seconds, maxRssMb: Math.max(p.maxRssMb ?? 0, u.maxRssMb ?? 0) });
    canaryRuns.push(canaryStep());
    npm("destroy", "scripts/stack.ts", "destroy", "--stack", "local", "--yes", "--skip-preview");
    restoreLocalConfig();
    // baseline: the same objects with kubectl, CRDs first, then a wait for the same readiness
    const a0 = timedKubectl("kubectl apply crds", ["apply", "--server-side", "-f", path.join(localRender, "0-crd")]);
    kubectl(["wait", "--for=condition=Established", "crd", "--all", "--timeout=60s"]);
    // namespaces first, as Pulumi orders them; kubectl applies a folder alphabetically
    const manifests = path.join(localRender, "1-manifest");
    const nsFiles = readdirSync(manifests).filter((f) => f.includes("namespace")).map((f) => path.join(manifests, f));
    const aNs = timedKubectl("kubectl apply namespaces", ["apply", "--server-side", ...nsFiles.flatMap((f) => ["-f", f])]);
    const a1 = timedKubectl("kubectl apply", ["apply", "--server-side", "--force-conflicts", "-f", manifests]);
    a1.seconds += aNs.seconds;
    const w = waitReady();
    applyRuns.push({ seconds: a0.seconds + a1.seconds + w.seconds });
    kubectl(["delete", "--wait=true", "--ignore-not-found", "-f", path.join(localRender, "1-manifest")], { allowFail: true });
    kubectl(["delete", "--wait=true", "--ignore-not-found", "-f", path.join(localRender, "0-crd")], { allowFail: true });
  }
  record("up local from empty", upRuns, applyRuns);
  record("no-op preview", previewRuns, diffRuns);
  record("one-value change (preview + up)", changeRuns);
  record("one canary step (tag -> new revision: up + restart of the moved namespace)", canaryRuns);
  const peak = Math.max(...[...upRuns, ...previewRuns, ...changeRuns, ...canaryRuns].map((r) => r.maxRssMb ?? 0));
  results["peak memory of the Pulumi program's Node process (MB)"] = { median: peak, runs: [] };

  console.log("\n| measurement | median (s) | baseline (s) | ratio |\n| --- | --- | --- | --- |");
  for (const [k, v] of Object.entries(results)) console.log(`| ${k} | ${v.median.toFixed(1)} | ${v.baseline?.toFixed(1) ?? ""} | ${v.ratio ? `${v.ratio.toFixed(2)}x` : ""} |`);
  writeFileSync(OUT, JSON.stringify({ runs: RUNS, date: new Date().toISOString(), load: { before: loadBefore, after: os.loadavg() }, cores: os.cpus().length, results }, null, 2));
  console.log(`load average before ${loadBefore.map((l) => l.toFixed(2)).join(" ")}, after ${os.loadavg().map((l) => l.toFixed(2)).join(" ")} (${os.cpus().length} cores; other work on the machine counts)`);
  console.log(`\nJSON: ${OUT}`);
}

main()
  .catch((e: Error) => {
    console.error(`npm run bench: ${e.message}`);
    process.exitCode = 1;
  })
  .finally(() => {
    clusterDown({ quiet: true, remove: true });
    rmSync(project, { recursive: true, force: true });
  });
