// kube-score 1.20 (the pinned build) on the offline render of every stack: each critical finding
// must be listed, with its reason, in tools/kube-score-exceptions.yaml; an entry that matches no
// finding in any stack is stale and fails too. No cluster needed.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { renderStack } from "../../scripts/lib/render.js";
import { projectDir, toolPath } from "../../lib/tools.js";

const STACKS = ["local", "dev", "staging", "prod"] as const;
const EXCEPTIONS_FILE = path.join(projectDir, "tools", "kube-score-exceptions.yaml");

interface Exception {
  readonly check: string;
  readonly reason: string;
  readonly objects: readonly string[];
}

interface Finding {
  readonly check: string;
  /** Kind/namespace/name */
  readonly object: string;
  readonly container: string;
  readonly summary: string;
}

interface ScoredObject {
  object_meta: { name: string; namespace?: string };
  type_meta: { kind: string };
  checks: { check: { id: string }; grade: number; skipped: boolean; comments: { path?: string; summary: string }[] | null }[];
}

/** kube-score's grade for a critical finding (GradeCritical). */
const CRITICAL = 1;

function kubeScore(files: readonly string[]): Finding[] {
  // exit code 1 means "critical findings": the JSON is read either way
  const r = spawnSync(toolPath("kube-score"), ["score", "--output-format", "json", "--kubernetes-version", "v1.34", ...files], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if ((r.status !== 0 && r.status !== 1) || !r.stdout.trim()) throw new Error(`kube-score on ${files.length} file(s) failed (exit ${r.status}, no JSON report): ${r.stderr}`);
  return (JSON.parse(r.stdout) as ScoredObject[]).flatMap((o) =>
    o.checks
      .filter((c) => !c.skipped && c.grade === CRITICAL)
      .flatMap((c) => (c.comments ?? []).map((cm) => ({ check: c.check.id, object: `${o.type_meta.kind}/${o.object_meta.namespace ?? ""}/${o.object_meta.name}`, container: cm.path ?? "", summary: cm.summary }))),
  );
}

const glob = (pattern: string) => new RegExp(`^${pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
const listed = (f: Finding, exceptions: readonly Exception[]) => exceptions.find((e) => e.check === f.check && e.objects.some((o) => glob(o).test(f.object)));

const exceptions = parse(readFileSync(EXCEPTIONS_FILE, "utf8")) as Exception[];
const findings: Record<string, Finding[]> = {};
/** Per stack, the rendered Services reachable from outside the cluster (NodePort, LoadBalancer). */
const published: Record<string, string[]> = {};
type Obj = { kind: string; metadata: { name: string; namespace?: string; annotations?: Record<string, string> }; spec?: any };
const rendered: Record<string, Obj[]> = {};
let work: string;

describe("kube-score on the render of every stack", () => {
  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), "obs-e2e-kube-score-"));
    for (const stack of STACKS) {
      const r = await renderStack(stack, path.join(work, stack), { quiet: true });
      const files = r.files.filter((f) => f.endsWith(".yaml"));
      findings[stack] = kubeScore(files);
      rendered[stack] = files.map((f) => parse(readFileSync(f, "utf8")) as Obj);
      published[stack] = rendered[stack]
        .filter((o) => o.kind === "Service" && (o.spec?.type === "NodePort" || o.spec?.type === "LoadBalancer"))
        .map((o) => `${o.metadata.namespace}/${o.metadata.name}`);
      console.log(`kube-score ${stack}: ${findings[stack]!.length} critical findings, all listed in ${path.basename(EXCEPTIONS_FILE)} or the test fails`);
    }
  });

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("gives every exception a check, a reason and objects", () => {
    expect(exceptions.length).toBeGreaterThan(0);
    for (const e of exceptions) {
      expect(e.check, JSON.stringify(e)).toMatch(/^[a-z-]+$/);
      expect(e.reason?.length ?? 0, `${e.check}: a reason`).toBeGreaterThan(40);
      expect(e.objects?.length ?? 0, `${e.check}: objects`).toBeGreaterThan(0);
    }
  });

  it.each(STACKS)("%s: every critical finding is a listed exception", (stack) => {
    const unlisted = findings[stack]!.filter((f) => !listed(f, exceptions)).map((f) => `${f.check} ${f.object} ${f.container}: ${f.summary}`);
    expect(unlisted).toEqual([]);
  });

  it("lists no exception that matches nothing (a fixed finding leaves the file)", () => {
    const all = Object.values(findings).flat();
    const stale = exceptions.flatMap((e) => e.objects.filter((o) => !all.some((f) => f.check === e.check && glob(o).test(f.object))).map((o) => `${e.check} ${o}`));
    expect(stale).toEqual([]);
  });

  it.each(STACKS)("%s: only the ingress gateway's Service is reachable from outside (the UIs, Jaeger query included, only through it)", (stack) => {
    expect(published[stack]!.filter((s) => s !== "istio-system/istio-ingressgateway")).toEqual([]);
  });

  it.each(STACKS)("%s: the NetworkPolicies open each port Prometheus scrapes by annotation, and every port they open is a container's", (stack) => {
    const objs = rendered[stack]!;
    const policies = objs.filter((o) => o.kind === "NetworkPolicy" && o.metadata.name.startsWith("allow-"));
    const pods = objs
      .filter((o) => ["Deployment", "StatefulSet", "DaemonSet", "Job"].includes(o.kind))
      .map((o) => ({ id: `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`, namespace: o.metadata.namespace!, labels: o.spec.template.metadata.labels ?? {}, annotations: o.spec.template.metadata.annotations ?? {}, ports: (o.spec.template.spec.containers as { ports?: { containerPort: number }[] }[]).flatMap((c) => (c.ports ?? []).map((p) => p.containerPort)) }));
    const selects = (pol: Obj, pod: (typeof pods)[number]) => pol.metadata.namespace === pod.namespace && Object.entries(pol.spec.podSelector.matchLabels as Record<string, string>).every(([k, v]) => pod.labels[k] === v);
    const fromPrometheus = (rule: any) => rule.from.some((p: any) => p.podSelector?.matchLabels?.["app.kubernetes.io/name"] === "prometheus" || (p.namespaceSelector && Object.keys(p.namespaceSelector).length === 0));
    const problems: string[] = [];
    const scraper = objs.some((o) => o.kind === "StatefulSet" && o.metadata.name === "prometheus");
    for (const pod of pods) {
      const mine = policies.filter((p) => selects(p, pod));
      const port = Number(pod.annotations["prometheus.io/port"]);
      const open = mine.some((p) => ((p.spec.ingress ?? []) as any[]).some((r) => fromPrometheus(r) && (!r.ports || r.ports.some((x: { port: number }) => x.port === port))));
      if (scraper && port && !open) problems.push(`${pod.id}: scraped on ${port}, no ingress from Prometheus there`);
    }
    for (const pol of policies) {
      const selected = pods.filter((p) => selects(pol, p));
      if (!selected.length) problems.push(`${pol.metadata.namespace}/${pol.metadata.name}: selects no pod`);
      for (const rule of (pol.spec.ingress ?? []) as { ports?: { port: number }[] }[]) {
        // a port the pod declares, or the one it is scraped on (Istio's agent serves 15020 undeclared)
        for (const { port } of rule.ports ?? []) if (!selected.some((p) => p.ports.includes(port) || Number(p.annotations["prometheus.io/port"]) === port)) problems.push(`${pol.metadata.namespace}/${pol.metadata.name}: ingress port ${port} is no container port of ${selected.map((p) => p.id).join(", ")}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("fails what it should: an unlisted object with the stack's gaps is reported", () => {
    // the shape of a workload before this issue: no resources, no security context, no policy
    const bad = path.join(work, "bad.yaml");
    writeFileSync(bad, JSON.stringify({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "bad", namespace: "observability" }, spec: { replicas: 2, selector: { matchLabels: { app: "bad" } }, template: { metadata: { labels: { app: "bad" } }, spec: { containers: [{ name: "c", image: "busybox:1.37" }] } } } }));
    const f = kubeScore([bad]);
    const unlisted = f.filter((x) => !listed(x, exceptions)).map((x) => x.check);
    expect(unlisted).toEqual(expect.arrayContaining(["container-resources", "container-ephemeral-storage-request-and-limit", "pod-networkpolicy"]));
  });
});
