// The canary upgrade, each step one `npm run up` (the real command: program, engine, provider,
// then the restarts of moved namespaces), on a copy of the local stack.
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { e2eEnv, getJson, kubectl, stackWorkDir } from "./helpers.js";

let dir: string;
const timings: Record<string, number> = {};

function editConfig(edit: (istio: Record<string, any>) => void): void {
  const file = path.join(dir, "config", "Pulumi.local.yaml");
  const doc = parse(readFileSync(file, "utf8"));
  edit(doc.config["obs:istio"]);
  writeFileSync(file, stringify(doc));
}

// async, so the test worker keeps answering vitest while a step runs for a minute
function npmRun(step: string, ...args: string[]): Promise<{ code: number; out: string }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.resolve("node_modules/tsx/dist/cli.mjs"), ...args], {
      env: { ...process.env, ...e2eEnv(), OBS_PROJECT_DIR: dir, PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}` },
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("close", (code) => {
      timings[step] = (Date.now() - t0) / 1000;
      resolve({ code: code ?? 1, out });
    });
  });
}
const up = (step: string) => npmRun(step, "scripts/stack.ts", "up", "--stack", "local", "--yes", "--skip-preview");

/** Kiali's config and the generation of its Deployment: a canary step must change neither. */
const kialiState = () => ({ config: getJson(["get", "configmap", "kiali", "-n", "observability"]).data, generation: getJson(["get", "deployment", "kiali", "-n", "observability"]).metadata.generation });
let kiali: ReturnType<typeof kialiState>;

describe("canary control-plane upgrade 1.30 -> 1.31", () => {
  beforeAll(() => {
    dir = stackWorkDir("local", (c) => {
      const istio = c["obs:istio"] as Record<string, any>;
      istio.tags = { stable: "1-30" };
      istio.namespaces = { shop: "stable", legacy: "stable" };
    });
  });
  afterAll(async () => {
    await npmRun("destroy", "scripts/stack.ts", "destroy", "--stack", "local", "--yes");
    console.log(`[e2e canary timings, s] ${JSON.stringify(timings)}`);
  });

  it("starts on 1-30 with a workload whose pods carry the revision label; a legacy-labelled namespace migrates", async () => {
    // a namespace injected the old way before the stack existed
    kubectl(["create", "namespace", "legacy"]);
    kubectl(["label", "namespace", "legacy", "istio-injection=enabled"]);
    kubectl(["create", "deployment", "old-app", "-n", "legacy", "--image=nginx:1.27"]);
    kubectl(["rollout", "status", "deployment/old-app", "-n", "legacy", "--timeout=120s"]);
    const r = await up("up 1-30");
    expect(r.out).toContain("[canary] namespace legacy: removed the legacy istio-injection label");
    expect(r.out).toMatch(/\[canary\] namespace legacy: restarted 1 workload\(s\) in [\d.]+s: deployment\/old-app/);
    const legacy = getJson(["get", "namespace", "legacy"]).metadata.labels;
    expect(legacy["istio.io/rev"]).toBe("stable");
    expect(legacy["istio-injection"]).toBeUndefined();
    expect(r.code, r.out).toBe(0);
    // what the injector of 1-30 would have done to the pods (webhooks are not called on this cluster)
    kubectl(["apply", "-f", "-"], {
      input: `apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: shop }
spec:
  replicas: 2
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web, istio.io/rev: "1-30" } }
    spec: { containers: [{ name: web, image: nginx:1.27 }] }
`,
    });
    kubectl(["rollout", "status", "deployment/web", "-n", "shop", "--timeout=120s"]);
    kiali = kialiState();
  });

  it("step 1: adding 1-31 brings its control plane up beside 1-30 and moves nothing", async () => {
    editConfig((i) => i.revisions.push({ name: "1-31", version: "1.31" }));
    const r = await up("add 1-31");
    expect(r.code, r.out).toBe(0);
    expect(r.out).not.toContain("[canary]");
    for (const rev of ["1-30", "1-31"]) expect(getJson(["get", "deployment", `istiod-${rev}`, "-n", "istio-system"]).status.availableReplicas).toBeGreaterThan(0);
    expect(getJson(["get", "mutatingwebhookconfiguration", "istio-revision-tag-stable"]).webhooks[0].clientConfig.service.name).toBe("istiod-1-30");
    // Kiali finds both control planes by label: its config and pod are untouched by the new revision
    expect(kialiState()).toEqual(kiali);
  });

  it("step 2: pointing the tag at 1-31 moves its webhook and restarts the namespace's workloads", async () => {
    const before = getJson(["get", "deployment", "web", "-n", "shop"]).spec.template.metadata.annotations?.["kubectl.kubernetes.io/restartedAt"];
    editConfig((i) => (i.tags.stable = "1-31"));
    // the pull-request view of this step: the summary names the tag move and the restarts
    const summaryFile = path.join(dir, "summary.md");
    const p = await npmRun("preview summary", "scripts/stack.ts", "preview", "--stack", "local", "--summary", summaryFile);
    expect(p.code, p.out).toBe(0);
    const summary = readFileSync(summaryFile, "utf8");
    expect(summary).toContain("- moves revision tag `stable`");
    expect(summary).toContain("- namespace `shop`: revision 1-30 → 1-31; **its workloads restart** (rolling) after `up`");
    expect(summary).not.toMatch(/local-(elastic|kibana)-only/);
    const r = await up("tag -> 1-31");
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain("[canary] namespace shop: revision 1-30 -> 1-31, restarting its workloads");
    expect(r.out).toMatch(/\[canary\] namespace shop: restarted 1 workload\(s\) in [\d.]+s: deployment\/web/);
    expect(getJson(["get", "mutatingwebhookconfiguration", "istio-revision-tag-stable"]).webhooks[0].clientConfig.service.name).toBe("istiod-1-31");
    const after = getJson(["get", "deployment", "web", "-n", "shop"]).spec.template.metadata.annotations?.["kubectl.kubernetes.io/restartedAt"];
    expect(after).toBeTruthy();
    expect(after).not.toBe(before);
  });

  it("step 3: canary status shows desired 1-31 and the pods still labelled 1-30", async () => {
    const r = await npmRun("status", "scripts/canary.ts", "status", "--stack", "local");
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/shop\s+stable\s+1-31\s+1-30: 2\s+\(restart pending\)/);
    expect(r.out).toMatch(/stable\s+1-31\s+1-31/);
    expect(r.out).toMatch(/1-30\s+no: used by 2 pod\(s\)/);
  });

  it("step 4: removing 1-30 is refused while pods it injected run, and nothing changes", async () => {
    editConfig((i) => (i.revisions = i.revisions.filter((r: { name: string }) => r.name !== "1-30")));
    const r = await up("remove refused");
    expect(r.code).not.toBe(0);
    expect(r.out).toContain("removing revision '1-30' is refused: 2 running pod(s) injected by it (shop/web-");
    expect(getJson(["get", "deployment", "istiod-1-30", "-n", "istio-system"]).status.availableReplicas).toBeGreaterThan(0);
  });

  it("step 5: with the explicit override 1-30 goes; the shared CRDs stay", async () => {
    editConfig((i) => (i.forceRemoveRevisions = ["1-30"]));
    const r = await up("remove forced");
    expect(r.code, r.out).toBe(0);
    expect(kubectl(["get", "deployment", "istiod-1-30", "-n", "istio-system", "--ignore-not-found", "-o", "name"]).trim()).toBe("");
    expect(getJson(["get", "deployment", "istiod-1-31", "-n", "istio-system"]).status.availableReplicas).toBeGreaterThan(0);
    expect(getJson(["get", "crd", "virtualservices.networking.istio.io"]).metadata.name).toBe("virtualservices.networking.istio.io");
    expect(kialiState()).toEqual(kiali);
  });
});
