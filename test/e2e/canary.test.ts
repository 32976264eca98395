// The canary upgrade 1.30 -> 1.31 on the local cluster with real istiods (one pilot-discovery per
// revision, admission webhooks on): each step one `npm run up` (program, engine, provider; the
// workload restarts are resources of the program). No revision label or annotation is written by
// hand: the test creates plain workloads and the injectors of the stack's revisions inject them.
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { pins, toolPath } from "../../lib/tools.js";
import { waitForIstiod, waitForIstiodGone } from "../../scripts/lib/istiod.js";
import { e2eEnv, getJson, kubectl, kubeconfigPath, stackWorkDir } from "./helpers.js";
import { workloadYaml } from "../builders/workloads.js";

let dir: string;
const timings: Record<string, number> = {};
const figures: Record<string, number> = {};

function editConfig(edit: (istio: Record<string, any>) => void): void {
  const file = path.join(dir, "config", "Pulumi.local.yaml");
  const doc = parse(readFileSync(file, "utf8"));
  edit(doc.config["obs:istio"]);
  writeFileSync(file, stringify(doc));
}

interface Run {
  code: number;
  out: string;
}
/** `tsx <script> <args>` against the test's copy of the stack; `onOutput` may kill it (SIGKILL to its process group). */
function npmRun(step: string, args: string[], onOutput?: (out: string, kill: () => void) => void): Promise<Run> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.resolve("node_modules/tsx/dist/cli.mjs"), ...args], {
      env: { ...process.env, ...e2eEnv(), OBS_PROJECT_DIR: dir, PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}` },
      detached: true,
    });
    let out = "";
    const kill = () => process.kill(-child.pid!, "SIGKILL");
    const take = (d: Buffer) => {
      out += d;
      onOutput?.(out, kill);
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    child.on("close", (code, signal) => {
      timings[step] = (Date.now() - t0) / 1000;
      resolve({ code: code ?? (signal ? 137 : 1), out });
    });
  });
}
const up = (step: string, onOutput?: (out: string, kill: () => void) => void) => npmRun(step, ["scripts/stack.ts", "up", "--stack", "local", "--yes", "--skip-preview"], onOutput);

interface Pod {
  metadata: { name: string; uid: string; annotations?: Record<string, string>; deletionTimestamp?: string };
  spec: { containers: { name: string; image: string; env?: { name: string; value?: string }[] }[] };
}
const pods = (ns: string): Pod[] => getJson(["get", "pods", "-n", ns]).items.filter((p: Pod) => !p.metadata.deletionTimestamp);

/** The pod's sidecar as its injector made it: the revision it recorded, the proxy image and the discovery address. */
function sidecar(p: Pod): { revision?: string; image?: string; discovery?: string } {
  const proxy = p.spec.containers.find((c) => c.name === "istio-proxy");
  const config = proxy?.env?.find((e) => e.name === "PROXY_CONFIG")?.value;
  return { revision: p.metadata.annotations?.["istio.io/rev"], image: proxy?.image, discovery: config ? JSON.parse(config).discoveryAddress : undefined };
}
const expected = (rev: "1-30" | "1-31") => {
  const version = rev === "1-30" ? "1.30" : "1.31";
  return { revision: rev, image: `${pins.istioctl.hub}/proxyv2:${pins.istioctl.versions[version]!.imageTag}`, discovery: `istiod-${rev}.istio-system.svc:15012` };
};

/** Waits until every pod of the namespace runs a sidecar of `rev` (old pods of a finished rollout may still terminate). */
async function allOn(ns: string, rev: "1-30" | "1-31", count: number, seconds = 120): Promise<Pod[]> {
  const deadline = Date.now() + seconds * 1000;
  let now: Pod[] = [];
  while (Date.now() < deadline) {
    now = pods(ns);
    if (now.length === count && now.every((p) => sidecar(p).revision === rev)) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  expect(now.map((p) => ({ pod: p.metadata.name, ...sidecar(p) }))).toEqual(now.map((p) => ({ pod: p.metadata.name, ...expected(rev) })));
  expect(now.length).toBe(count);
  return now;
}

const apply = (yaml: string) => spawnSync(toolPath("kubectl"), ["--kubeconfig", kubeconfigPath, "apply", "-f", "-"], { input: yaml, encoding: "utf8" });
const statefulSet = (ns: string, name: string) => workloadYaml({ kind: "StatefulSet", name, namespace: ns, image: "redis:7.4" });
const stuckDeployment = workloadYaml({ kind: "Deployment", name: "stuck", namespace: "shop", image: "nginx:1.27", nodeSelector: { "obs-e2e/no-such-node": "true" } });
const virtualService = (name: string, labels: string, weight: number) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${name}, namespace: shop${labels ? `, labels: { ${labels} }` : ""} }
spec:
  hosts: [web]
  http: [{ route: [{ destination: { host: web }, weight: ${weight} }] }]
`;

describe("canary control-plane upgrade 1.30 -> 1.31 with real istiods", () => {
  beforeAll(() => {
    dir = stackWorkDir("local", (c) => {
      const istio = c["obs:istio"] as Record<string, any>;
      istio.tags = { stable: "1-30" };
      istio.namespaces = { shop: "stable", blog: "stable", legacy: "stable" };
      // the canary moves the mesh: the observability components add nothing to it but time
      for (const k of ["obs:logging", "obs:grafana", "obs:kiali"]) c[k] = { ...(c[k] as object), enabled: false };
    });
  });
  afterAll(async () => {
    await npmRun("destroy", ["scripts/stack.ts", "destroy", "--stack", "local", "--yes"]);
    for (const ns of ["shop", "blog", "legacy", "team", "solo"]) kubectl(["delete", "namespace", ns, "--ignore-not-found", "--wait=false"], { allowFail: true });
    console.log(`[e2e canary timings, s] ${JSON.stringify(timings)}`);
    console.log(`[e2e canary figures] ${JSON.stringify(figures)}`);
  });

  it("install: 1-30 with two app namespaces; the test's workloads are injected by 1-30 at admission; a legacy-labelled namespace is adopted", async () => {
    // a namespace injected the old way before the stack existed (no injector runs yet: its pod has no sidecar)
    kubectl(["create", "namespace", "legacy"]);
    kubectl(["label", "namespace", "legacy", "istio-injection=enabled"]);
    kubectl(["create", "deployment", "old-app", "-n", "legacy", "--image=nginx:1.27"]);
    kubectl(["rollout", "status", "deployment/old-app", "-n", "legacy", "--timeout=120s"]);
    const r = await up("up 1-30");
    expect(r.code, r.out).toBe(0);
    await waitForIstiod("1-30", 120);
    const legacy = getJson(["get", "namespace", "legacy"]).metadata;
    expect(legacy.labels["istio.io/rev"]).toBe("stable");
    expect(legacy.labels["istio-injection"]).toBeUndefined();
    expect(legacy.annotations["istio.observability-stack/adopted-istio-injection"]).toBe("enabled");
    // its pod has no sidecar, so nothing restarted it; restarted by hand, it is injected by the label's revision
    expect(pods("legacy").map((p) => sidecar(p).revision)).toEqual([undefined]);
    kubectl(["rollout", "restart", "deployment/old-app", "-n", "legacy"]);
    kubectl(["rollout", "status", "deployment/old-app", "-n", "legacy", "--timeout=120s"]);
    await allOn("legacy", "1-30", 1);
    kubectl(["create", "deployment", "web", "-n", "shop", "--image=nginx:1.27", "--replicas=2"]);
    expect(apply(statefulSet("shop", "db")).status).toBe(0);
    kubectl(["create", "deployment", "news", "-n", "blog", "--image=nginx:1.27", "--replicas=2"]);
    expect(apply(statefulSet("blog", "cache")).status).toBe(0);
    // a namespace outside the stack that follows its tag by its own label, as a team would label it
    kubectl(["create", "namespace", "team"]);
    kubectl(["label", "namespace", "team", "istio.io/rev=stable"]);
    kubectl(["create", "deployment", "api", "-n", "team", "--image=nginx:1.27"]);
    // and an unlabelled namespace whose pods opt in themselves (the default tag's legacy object hook)
    kubectl(["create", "namespace", "solo"]);
    expect(apply(workloadYaml({ kind: "Deployment", name: "tool", namespace: "solo", image: "nginx:1.27", podLabels: { "sidecar.istio.io/inject": "true" } })).status).toBe(0);
    for (const [ns, w] of [["shop", "deployment/web"], ["shop", "statefulset/db"], ["blog", "deployment/news"], ["blog", "statefulset/cache"], ["team", "deployment/api"], ["solo", "deployment/tool"]]) kubectl(["rollout", "status", w!, "-n", ns!, "--timeout=180s"]);
    // a workload whose pods can never be scheduled (no node matches): injected, but its rollouts never finish
    expect(apply(stuckDeployment).status).toBe(0);
    await allOn("shop", "1-30", 4);
    await allOn("blog", "1-30", 3);
    await allOn("team", "1-30", 1);
    await allOn("solo", "1-30", 1);
  });

  it("step 1: 1-31 beside 1-30 with a canary tag; blog relabelled onto it; SIGKILL of `npm run up` during its migration, then a plain re-run converges", async () => {
    editConfig((i) => {
      i.revisions.push({ name: "1-31", version: "1.31" });
      i.tags.canary = "1-31";
      i.namespaces.blog = "canary";
      i.migration = { batchSize: 1 };
    });
    const shopBefore = pods("shop").map((p) => p.metadata.uid).sort();
    let killed = false;
    const killedRun = await up("add 1-31 (killed)", (out, kill) => {
      // the first batch's restart is under way: kill every process of the run
      if (!killed && /istio-migration\/blog\/[a-z]+\/[a-z]+ creating/.test(out)) {
        killed = true;
        kill();
      }
    });
    expect(killed, killedRun.out).toBe(true);
    expect(killedRun.code).not.toBe(0);
    // the second batch (blog/statefulset/cache) never started: its pod still runs 1-30's sidecar
    expect(sidecar(pods("blog").find((p) => p.metadata.name === "cache-0")!).revision).toBe("1-30");
    const r = await up("add 1-31 (re-run)");
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/istio-migration\/blog\/statefulset\/cache created/);
    await waitForIstiod("1-31", 120);
    const blog = await allOn("blog", "1-31", 3);
    figures["pods re-injected, step 1"] = blog.length;
    // shop did not move: its pods are the same ones
    expect(pods("shop").map((p) => p.metadata.uid).sort()).toEqual(shopBefore);
    expect(getJson(["get", "mutatingwebhookconfiguration", "istio-revision-tag-stable"]).webhooks[0].clientConfig.service.name).toBe("istiod-1-30");
  });

  it("refusal: removing 1-30 while pods it injected run is refused at preview, and nothing is applied", async () => {
    editConfig((i) => {
      i.revisions = i.revisions.filter((x: { name: string }) => x.name !== "1-30");
      i.tags.stable = "1-31";
    });
    const r = await up("remove refused");
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/removing revision '1-30' is refused: 7 running pod\(s\) injected by it \(legacy\/old-app-[a-z0-9-]+, shop\/(web|db|stuck)-/);
    expect(getJson(["get", "mutatingwebhookconfiguration", "istio-revision-tag-stable"]).webhooks[0].clientConfig.service.name).toBe("istiod-1-30");
    expect(getJson(["get", "deployment", "istiod-1-30", "-n", "istio-system"]).metadata.name).toBe("istiod-1-30");
    await allOn("shop", "1-30", 4);
  });

  it("step 2: the stable and default tags move to 1-31; the preview names each workload to restart; a rollout past its bound stops up naming the workload; up re-injects shop, blog stays", async () => {
    editConfig((i) => {
      i.revisions = [{ name: "1-30", version: "1.30" }, { name: "1-31", version: "1.31" }];
      i.tags.stable = "1-31";
      i.defaultRevision = "1-31";
      i.migration = { batchSize: 5, rolloutTimeoutSeconds: 20 };
    });
    const summaryFile = path.join(dir, "summary.md");
    const p = await npmRun("preview summary", ["scripts/stack.ts", "preview", "--stack", "local", "--summary", summaryFile]);
    expect(p.code, p.out).toBe(0);
    const summary = readFileSync(summaryFile, "utf8");
    expect(summary).toContain("- moves revision tag `stable`");
    expect(summary).toContain("- moves revision tag `default`");
    expect(summary).toContain("- restarts `shop/deployment/web` (rolling)");
    expect(summary).toContain("- restarts `shop/statefulset/db` (rolling)");
    expect(summary).toContain("- restarts `legacy/deployment/old-app` (rolling)");
    expect(summary).toContain("- restarts `shop/deployment/stuck` (rolling)");
    expect(summary).toContain("- restarts `team/deployment/api` (rolling)");
    expect(summary).toContain("- restarts `solo/deployment/tool` (rolling)");
    expect(summary).not.toContain("blog/");
    const blogBefore = pods("blog").map((p) => p.metadata.uid).sort();
    const failed = await up("tag -> 1-31 (one rollout past its bound)");
    expect(failed.code).not.toBe(0);
    expect(failed.out).toMatch(/kubernetes:apps\/v1:DeploymentPatch \(istio-migration\/shop\/deployment\/stuck\):\s+error: [\s\S]{0,1500}?(failed to fully initialize|[Tt]imed out|[Tt]imeout)/);
    // the stuck workload is removed by its owner; the re-run converges
    kubectl(["delete", "deployment", "stuck", "-n", "shop"]);
    const r = await up("tag -> 1-31");
    expect(r.code, r.out).toBe(0);
    const shop = await allOn("shop", "1-31", 3);
    const legacy = await allOn("legacy", "1-31", 1);
    const team = await allOn("team", "1-31", 1);
    const solo = await allOn("solo", "1-31", 1);
    figures["pods re-injected, step 2"] = shop.length + legacy.length + team.length + solo.length;
    // the stack owns nothing of team's: its namespace keeps its own label, its Deployment got only the restart annotation
    expect(getJson(["get", "namespace", "team"]).metadata.labels["istio.io/rev"]).toBe("stable");
    const api = getJson(["get", "deployment", "api", "-n", "team"]);
    expect(Object.keys(api.spec.template.metadata.annotations ?? {})).toEqual(["istio.observability-stack/restarted-for"]);
    expect(pods("blog").map((p) => p.metadata.uid).sort()).toEqual(blogBefore);
    expect(getJson(["get", "mutatingwebhookconfiguration", "istio-revision-tag-stable"]).webhooks[0].clientConfig.service.name).toBe("istiod-1-31");
    // the default tag's injector and validator moved, and failurePolicy stayed istiod's
    const defaultTag = getJson(["get", "mutatingwebhookconfiguration", "istio-revision-tag-default"]);
    expect(defaultTag.metadata.labels["istio.io/rev"]).toBe("1-31");
    for (const w of defaultTag.webhooks) expect(w.clientConfig.service.name).toBe("istiod-1-31");
    const validator = getJson(["get", "validatingwebhookconfiguration", "istiod-default-validator", "--show-managed-fields"]);
    expect(validator.metadata.labels["istio.io/rev"]).toBe("1-31");
    expect(validator.webhooks[0].clientConfig.service.name).toBe("istiod-1-31");
    const owners = (validator.metadata.managedFields as { manager: string; fieldsV1?: unknown }[]).filter((m) => JSON.stringify(m.fieldsV1 ?? {}).includes("f:failurePolicy")).map((m) => m.manager);
    expect(owners).not.toContain("observability-stack");
    // a second preview plans no restart: converged
    const again = await npmRun("preview after", ["scripts/stack.ts", "preview", "--stack", "local", "--summary", summaryFile]);
    expect(again.code, again.out).toBe(0);
    expect(readFileSync(summaryFile, "utf8")).not.toContain("- restarts ");
  });

  it("the default validator (1-31 now) rejects invalid config without a revision label and with a tag label, and accepts valid config", async () => {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && getJson(["get", "validatingwebhookconfiguration", "istiod-default-validator"]).webhooks[0].failurePolicy !== "Fail") await new Promise((r) => setTimeout(r, 1000));
    for (const labels of ["", 'istio.io/rev: "stable"']) {
      const bad = apply(virtualService("invalid", labels, -5));
      expect(bad.status, labels).not.toBe(0);
      expect(bad.stderr).toContain('admission webhook "validation.istio.io" denied the request: configuration is invalid: weight -5 < 0');
    }
    expect(apply(virtualService("valid", "", 100)).status).toBe(0);
    kubectl(["delete", "virtualservice", "valid", "-n", "shop"]);
  });

  it("step 3: canary status shows 1-30 unused", async () => {
    const r = await npmRun("status", ["scripts/canary.ts", "status", "--stack", "local"]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/shop\s+stable\s+1-31\s+1-31: 3\n/);
    expect(r.out).toMatch(/blog\s+canary\s+1-31\s+1-31: 3\n/);
    expect(r.out).toMatch(/legacy\s+stable\s+1-31\s+1-31: 1\n/);
    expect(r.out).toMatch(/team\s+istio\.io\/rev=stable \(own\)\s+1-31\s+1-31: 1\n/);
    expect(r.out).toMatch(/stable\s+1-31\s+1-31/);
    expect(r.out).toMatch(/1-30\s+yes/);
  });

  it("step 4: 1-30 is removed without forceRemoveRevisions: its objects go and its istiod stops", async () => {
    editConfig((i) => (i.revisions = i.revisions.filter((x: { name: string }) => x.name !== "1-30")));
    const r = await up("remove 1-30");
    expect(r.code, r.out).toBe(0);
    for (const [kind, name, ns] of [["deployment", "istiod-1-30", "istio-system"], ["configmap", "istio-1-30", "istio-system"], ["configmap", "istio-sidecar-injector-1-30", "istio-system"], ["mutatingwebhookconfiguration", "istio-sidecar-injector-1-30"], ["validatingwebhookconfiguration", "istio-validator-1-30-istio-system"]]) {
      expect(kubectl(["get", kind!, name!, ...(ns ? ["-n", ns] : []), "--ignore-not-found", "-o", "name"]).trim(), `${kind} ${name}`).toBe("");
    }
    await waitForIstiodGone("1-30", 60);
    expect(getJson(["get", "crd", "virtualservices.networking.istio.io"]).metadata.name).toBe("virtualservices.networking.istio.io");
    await allOn("shop", "1-31", 3);
  });
});
