// Interrupted runs converge by themselves (issue 15), with the real scripts, engine, provider and
// local cluster: `npm run up` killed (SIGKILL to its whole process group) at a point read from its
// own output, then one plain `npm run up` must finish the job with no manual step. Also the local
// API server killed mid-up, and destroy with retainOnDelete followed by up.
//
// One stack on one cluster for every point: `destroy` between points empties the cluster again.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kubectl, stackWorkDir } from "./helpers.js";
import { FIELD_MANAGER } from "../../components/k8s/objects.js";
import { markedProcesses, procArgs, procStat, pulumiAsync, pulumiEnv, RUN_MARK, runWithProgram, selectStackAsync, stackLocks, type MarkedProcess } from "../../scripts/lib/pulumi.js";
import { repoRoot } from "../../lib/tools.js";

const STACK = "local";
const workDir = stackWorkDir(STACK);
const backendUrl = `file://${path.join(workDir, "state")}`;
const env: NodeJS.ProcessEnv = { ...process.env, OBS_PROJECT_DIR: workDir, PULUMI_BACKEND_URL: backendUrl, FORCE_COLOR: "0" };
const pulumiEnvironment = () => pulumiEnv({ stack: STACK, backendUrl });

/** Seconds of each recovering `up`, per interruption point (the closing note quotes them). */
const recovery: Record<string, number> = {};

interface Run {
  code: number | null;
  output: string;
  seconds: number;
  /** Processes of the run (marked by the script) alive just before the kill. */
  marked: MarkedProcess[];
  /** The mark the script gives what it starts (`<pid>:<start ticks>` of the script), read just before the kill. */
  scriptMark?: string;
}

/** Process group of a pid (field 5 of /proc/PID/stat), or undefined when it is gone. */
function pgrp(pid: number): number | undefined {
  const stat = procStat(pid);
  return stat ? Number(stat[2]) : undefined;
}

/**
 * The mark of `npm run up`'s script in process group `group`: of the processes there whose command
 * line runs scripts/stack.ts (npm's shell, tsx's CLI, and the node process tsx starts), the
 * innermost one, which is the script itself.
 */
function scriptMarkIn(group: number): string | undefined {
  const runs = readdirSync("/proc")
    .map(Number)
    .filter((pid) => pid && Number(procStat(pid)?.[2]) === group && procArgs(pid)?.some((a) => a.includes("scripts/stack.ts")));
  const script = runs.find((pid) => !runs.some((other) => Number(procStat(other)?.[1]) === pid));
  const start = script ? procStat(script)?.[19] : undefined;
  return script && start ? `${script}:${start}` : undefined;
}

const alive = (p: MarkedProcess) => markedProcesses().some((q) => q.pid === p.pid && q.mark === p.mark);

/**
 * `npm run <args>` in its own process group. With `killAt`, the group gets SIGKILL on the first
 * line of the update (after "Updating (") that matches it, and `atKill` runs just before that.
 */
function npm(args: string[], opts: { killAt?: RegExp; atKill?: (marked: MarkedProcess[]) => void; killGroup?: boolean } = {}): Promise<Run> {
  const t0 = Date.now();
  const child = spawn("npm", ["run", ...args], { cwd: repoRoot, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  let updating = false;
  let marked: MarkedProcess[] = [];
  let scriptMark: string | undefined;
  let fired = false;
  const onLine = (line: string) => {
    output += `${line}\n`;
    if (/^Updating \(/.test(line)) updating = true;
    if (!opts.killAt || !updating || !opts.killAt.test(line) || fired) return;
    fired = true;
    // the run's own processes: the script's mark names a pid of this process group
    marked = markedProcesses().filter((p) => pgrp(Number(p.mark.split(":")[0])) === child.pid);
    scriptMark = scriptMarkIn(child.pid!);
    opts.atKill?.(marked);
    if (opts.killGroup !== false) process.kill(-child.pid!, "SIGKILL");
  };
  createInterface({ input: child.stdout! }).on("line", onLine);
  createInterface({ input: child.stderr! }).on("line", (l) => (output += `${l}\n`));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, output, seconds: (Date.now() - t0) / 1000, marked, scriptMark })));
}

/** kind/namespace/name of every object of the stack in the state (Patches own no object). */
async function objectsInState(): Promise<string[]> {
  const r = await pulumiAsync(["stack", "export", "--stack", STACK], pulumiEnvironment(), workDir);
  expect(r.status, r.stderr).toBe(0);
  const d = JSON.parse(r.stdout).deployment;
  expect(d.pending_operations ?? []).toEqual([]);
  return (d.resources as { type: string; outputs?: { kind?: string; metadata?: { name?: string; namespace?: string } } }[])
    .filter((r) => r.type.startsWith("kubernetes:") && !r.type.endsWith("Patch"))
    .map((r) => `${r.outputs!.kind}/${r.outputs!.metadata!.namespace ?? ""}/${r.outputs!.metadata!.name}`)
    .sort();
}

/** kind/namespace/name of every object in the cluster that the stack's field manager applied. */
function objectsInCluster(): string[] {
  const types = kubectl(["api-resources", "--verbs=list,create", "-o", "name"]).trim().split("\n").filter((t) => !/^(events|bindings|tokenreviews|selfsubject|subjectaccess|localsubject|componentstatuses)/.test(t));
  const items: { kind: string; metadata: { name: string; namespace?: string; managedFields?: { manager: string; operation: string }[] } }[] = JSON.parse(kubectl(["get", types.join(","), "-A", "--show-managed-fields", "-o", "json"])).items;
  return items
    .filter((o) => o.metadata.managedFields?.some((m) => m.manager === FIELD_MANAGER && m.operation === "Apply"))
    .map((o) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`)
    .sort();
}

/** What every recovery must leave: exit 0, state = cluster, nothing of the killed run running, a preview with no change and no pending-operation warning. */
async function expectConverged(killed: Run, recovered: Run): Promise<void> {
  expect(recovered.code, recovered.output.slice(-3000)).toBe(0);
  expect(await objectsInState()).toEqual(objectsInCluster());
  expect(killed.marked.filter(alive)).toEqual([]);
  const preview = await npm(["preview", "--", "--expect-no-changes"]);
  expect(preview.code, preview.output.slice(-3000)).toBe(0);
  expect(preview.output).not.toMatch(/pending operation/i);
  expect(recovered.output).not.toMatch(/pending operations from previous deployment/);
}

/**
 * The killed run was cut where asked, before its script ended; mid-update, its CLI ran and its
 * provider outlived the kill (it runs in its own process group). After the update the CLI may
 * already have exited: only the script is known to run then.
 */
function expectKilled(killed: Run, midUpdate: boolean): MarkedProcess[] {
  expect(killed.code).not.toBe(0);
  expect(killed.scriptMark).toMatch(/^\d+:\d+$/);
  for (const p of killed.marked) expect(p.mark).toBe(killed.scriptMark);
  if (midUpdate) expect(killed.marked.some((p) => p.command === "pulumi")).toBe(true);
  const left = killed.marked.filter(alive);
  if (midUpdate) expect(left.map((p) => p.command)).toContain("pulumi-resource-kubernetes");
  return left;
}

async function destroy(): Promise<void> {
  const r = await npm(["destroy", "--", "--yes", "--skip-preview"]);
  expect(r.code, r.output.slice(-3000)).toBe(0);
}

const POINTS: [string, RegExp, boolean][] = [
  ["during the CRDs", /CustomResourceDefinition .* created/, true],
  ["during the StatefulSets", /StatefulSet .* Waiting for StatefulSet/, true],
  ["during the Jobs and RBAC", /batch\/v1:Job .* Waiting for Job/, true],
  ["between the update and the end of the command", /^Resources:/, false],
];
const SLOW = 1_500_000;

describe("a killed npm run up is finished by the next one", () => {
  beforeAll(() => {
    // nothing of this stack in the cluster: every point starts from empty
    expect(objectsInCluster()).toEqual([]);
  });

  afterAll(async () => {
    console.log(`[crash] recovering up per point (s): ${JSON.stringify(recovery)}`);
    // kept objects (the retain case) go too: the next file starts on an empty cluster
    await npm(["destroy", "--", "--yes", "--skip-preview"]);
    kubectl(["delete", "namespace", "observability", "istio-system", "demo", "--ignore-not-found", "--wait=true", "--timeout=180s"], { allowFail: true });
    const crds = objectsInCluster().filter((o) => o.startsWith("CustomResourceDefinition/")).map((o) => o.split("/")[2]!);
    if (crds.length) kubectl(["delete", "crd", ...crds, "--ignore-not-found"], { allowFail: true });
  });

  for (const [point, killAt, midUpdate] of POINTS) {
    it(`killed ${point}`, async () => {
      try {
        const killed = await npm(["up", "--", "--yes", "--skip-preview"], { killAt });
        const left = expectKilled(killed, midUpdate);
        // The provider outlives the kill (its own process group) and exits by itself once it
        // notices its engine is gone: within a second on a quiet machine, minutes later on a
        // loaded one (twenty were seen), so whether it still runs when the next run starts is
        // chance. A process of the killed run that surely does: a sleep carrying its mark.
        const straggler = spawn("sleep", ["600"], { env: { ...process.env, [RUN_MARK]: killed.scriptMark }, detached: true, stdio: "ignore" });
        straggler.unref();
        const stragglerProc: MarkedProcess = { pid: straggler.pid!, mark: killed.scriptMark!, command: "sleep" };
        const locked = stackLocks(pulumiEnvironment(), STACK).length > 0;
        if (midUpdate) expect(locked).toBe(true);
        const recovered = await npm(["up", "--", "--yes"]);
        recovery[point] = recovered.seconds;
        // what the killed run left was said, each in one line
        expect(recovered.output).toMatch(new RegExp(`\\[recover\\] stopped \\d+ process\\(es\\) a killed run left running: .*sleep \\(pid ${straggler.pid}\\)`));
        expect(alive(stragglerProc)).toBe(false);
        // whatever of the killed run still ran when the next run started was stopped
        expect(left.filter(alive)).toEqual([]);
        if (locked) expect(recovered.output).toMatch(/\[recover\] stack local: cleared the lock of pulumi pid \d+ .*which no longer runs/);
        if (midUpdate) expect(recovered.output).toMatch(/\[recover\] stack local: cleared \d+ operation\(s\) a killed run left pending/);
        await expectConverged(killed, recovered);
      } finally {
        // the next point starts from empty again
        await destroy();
      }
    }, SLOW);
  }

  it("the local API server killed mid-up: the next up restarts it on its data and converges", async () => {
    const clusterDir = process.env.OBS_CLUSTER_DIR!;
    const ca = readFileSync(path.join(clusterDir, "pki", "ca.crt"), "utf8");
    let namespaceUid = "";
    const apiserverPid = Number(readFileSync(path.join(clusterDir, "pids", "kube-apiserver.pid"), "utf8"));
    // The API server dies; the run, stuck on it (the provider retries for minutes), is stopped
    // with SIGTERM (a cancelled CI job): the script stops pulumi and the providers it started.
    const killed = await npm(["up", "--", "--yes", "--skip-preview"], {
      killAt: /StatefulSet .* Waiting for StatefulSet/,
      killGroup: false,
      atKill: (marked) => {
        namespaceUid = kubectl(["get", "namespace", "observability", "-o", "jsonpath={.metadata.uid}"]);
        process.kill(apiserverPid, "SIGKILL");
        process.kill(Number(marked[0]!.mark.split(":")[0]), "SIGTERM");
      },
    });
    expect(namespaceUid).not.toBe("");
    expect(killed.code).not.toBe(0);
    expect(killed.output).toMatch(/\[stop\] SIGTERM: stopping pulumi/);
    // nothing the stopped run started is left running, before any later run cleans up
    expect(killed.marked.map((p) => p.command)).toContain("pulumi-resource-kubernetes");
    expect(killed.marked.filter(alive)).toEqual([]);
    const recovered = await npm(["up", "--", "--yes"]);
    recovery["the local API server killed"] = recovered.seconds;
    expect(recovered.output).toMatch(/\[cluster\] kube-apiserver not running: starting it again on the kept data, CA and ports/);
    // the same cluster: its CA and its objects (etcd kept)
    expect(readFileSync(path.join(clusterDir, "pki", "ca.crt"), "utf8")).toBe(ca);
    expect(kubectl(["get", "namespace", "observability", "-o", "jsonpath={.metadata.uid}"])).toBe(namespaceUid);
    await expectConverged(killed, recovered);
  }, SLOW);

  it("destroy with retainOnDelete keeps the data volumes and no workload; up adopts what was kept, same claims", async () => {
    const file = path.join(workDir, "config", `Pulumi.${STACK}.yaml`);
    writeFileSync(file, readFileSync(file, "utf8").replace(/obs:retainOnDelete: .*\n/, 'obs:retainOnDelete: "true"\n'));
    const up = await npm(["up", "--", "--yes", "--skip-preview"]);
    expect(up.code, up.output.slice(-3000)).toBe(0);
    const claims = () => Object.fromEntries((JSON.parse(kubectl(["get", "pvc", "-n", "observability", "-o", "json"])).items as { metadata: { name: string; uid: string } }[]).map((c) => [c.metadata.name, c.metadata.uid]));
    const before = claims();
    expect(Object.keys(before)).toEqual(expect.arrayContaining(["grafana-data", "data-prometheus-0"]));
    expect(Object.keys(before).length).toBeGreaterThanOrEqual(4);

    await destroy();
    expect(claims()).toEqual(before);
    // no workload runs on without the config it reads
    expect(JSON.parse(kubectl(["get", "statefulsets,deployments,daemonsets", "-n", "observability", "-o", "json"])).items).toEqual([]);

    const again = await npm(["up", "--", "--yes"]);
    recovery["up after destroy with retainOnDelete"] = again.seconds;
    expect(again.code, again.output.slice(-3000)).toBe(0);
    expect(claims()).toEqual(before);
    expect(await objectsInState()).toEqual(objectsInCluster());
    const preview = await npm(["preview", "--", "--expect-no-changes"]);
    expect(preview.code, preview.output.slice(-3000)).toBe(0);
  }, SLOW);
});

describe("errors of a failed run", () => {
  it("a program's RunError (config and guard errors) is printed once, as one block", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "obs-errors-once-"));
    writeFileSync(path.join(dir, "Pulumi.yaml"), "name: errors-once\nruntime: nodejs\n");
    mkdirSync(path.join(dir, "state"));
    const e = pulumiEnv({ stack: STACK, backendUrl: `file://${path.join(dir, "state")}` });
    await selectStackAsync(STACK, e, dir);
    const program = async () => {
      throw new pulumi.RunError("invalid Grafana dashboards for stack 'local', nothing was changed:\n  - mesh.json panel 3: datasource 'nope' is not provisioned");
    };
    const r = await runWithProgram(program, ["preview", "--stack", STACK], e, { cwd: dir, capture: true });
    expect(r.code).not.toBe(0);
    const out = `${r.stdout}${r.stderr}`;
    const diagnostics = out.slice(out.indexOf("Diagnostics:"));
    expect(out).toContain("Diagnostics:");
    expect(diagnostics.split("invalid Grafana dashboards for stack 'local'").length - 1).toBe(1);
    // the detail lines belong to the block: once in the whole output
    expect(out.split("mesh.json panel 3: datasource 'nope' is not provisioned").length - 1).toBe(1);
  }, 120_000);
});
