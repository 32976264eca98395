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
  if (r.status !== 0 && r.status !== 1) throw new Error(`kube-score failed (${r.status}): ${r.stderr}`);
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
let work: string;

describe("kube-score on the render of every stack", () => {
  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), "obs-e2e-kube-score-"));
    for (const stack of STACKS) {
      const r = await renderStack(stack, path.join(work, stack), { quiet: true });
      const files = r.files.filter((f) => f.endsWith(".yaml"));
      findings[stack] = kubeScore(files);
      published[stack] = files
        .map((f) => parse(readFileSync(f, "utf8")) as { kind: string; metadata: { name: string; namespace?: string }; spec?: { type?: string } })
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

  it("fails what it should: an unlisted object with the stack's gaps is reported", () => {
    // the shape of a workload before this issue: no resources, no security context, no policy
    const bad = path.join(work, "bad.yaml");
    writeFileSync(bad, JSON.stringify({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "bad", namespace: "observability" }, spec: { replicas: 2, selector: { matchLabels: { app: "bad" } }, template: { metadata: { labels: { app: "bad" } }, spec: { containers: [{ name: "c", image: "busybox:1.37" }] } } } }));
    const f = kubeScore([bad]);
    const unlisted = f.filter((x) => !listed(x, exceptions)).map((x) => x.check);
    expect(unlisted).toEqual(expect.arrayContaining(["container-resources", "container-ephemeral-storage-request-and-limit", "pod-networkpolicy"]));
  });
});
