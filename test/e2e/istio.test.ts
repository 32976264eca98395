// The local stack end to end: real istioctl, engine, provider and API server.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { parse } from "yaml";
import { localKubeconfig, toolPath } from "../../lib/tools.js";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Stack } from "@pulumi/pulumi/automation/index.js";
import { getJson, kubectl, projectStack, stackWorkDir, stopwatch } from "./helpers.js";
import { renderStack } from "../../scripts/lib/render.js";

const { timings, timed } = stopwatch();

describe("local stack: Istio from istioctl profiles", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await projectStack("local", stackWorkDir("local"));
  });
  afterAll(() => console.log(`[e2e timings, s] ${JSON.stringify(timings)}`));

  it("up brings istiod Available, CRDs Established and the mesh config in place", async () => {
    const res = await timed("up", () => stack.up());
    expect(res.summary.result).toBe("succeeded");
    console.log(`[e2e] local stack: ${Object.values(res.summary.resourceChanges ?? {}).reduce((a, b) => a + (b ?? 0), 0)} resources`);
    const istiod = getJson(["get", "deployment", "istiod-1-30", "-n", "istio-system"]);
    expect(istiod.status.conditions.find((c: { type: string }) => c.type === "Available").status).toBe("True");
    const crds = getJson(["get", "crd"]).items.filter((c: { spec: { group: string } }) => c.spec.group.endsWith("istio.io"));
    expect(crds.length).toBeGreaterThan(10);
    for (const c of crds) expect(c.status.conditions.find((x: { type: string }) => x.type === "Established").status, c.metadata.name).toBe("True");
    const mesh = getJson(["get", "configmap", "istio-1-30", "-n", "istio-system"]).data.mesh as string;
    expect(mesh).toContain("accessLogFile: /dev/stdout");
    expect(mesh).toContain("accessLogEncoding: JSON");
    expect(mesh).toMatch(/zipkin:\s+port: 9411\s+service: jaeger-collector\.observability\.svc\.cluster\.local/);
    const telemetry = getJson(["get", "telemetries.telemetry.istio.io", "mesh-default", "-n", "istio-system"]);
    expect(telemetry.spec.tracing[0].randomSamplingPercentage).toBe(100);
    expect(getJson(["get", "namespace", "demo"]).metadata.labels["istio.io/rev"]).toBe("stable");
    expect(getJson(["get", "namespace", "istio-system"]).metadata.labels?.["istio.io/rev"]).toBeUndefined();
    const tag = getJson(["get", "mutatingwebhookconfiguration", "istio-revision-tag-stable"]);
    expect(tag.webhooks[0].clientConfig.service.name).toBe("istiod-1-30");
  });

  it("Grafana and Kiali become ready, wired to the stack's Prometheus, Jaeger and Elasticsearch", () => {
    for (const name of ["grafana", "kiali"]) {
      const d = getJson(["get", "deployment", name, "-n", "observability"]);
      expect(d.status.conditions.find((c: { type: string }) => c.type === "Available").status, name).toBe("True");
    }
    const datasources = parse(getJson(["get", "configmap", "grafana-datasources", "-n", "observability"]).data["stack.yaml"]);
    expect(datasources.datasources.map((d: { uid: string; url: string }) => `${d.uid} ${d.url}`)).toEqual([
      "prometheus http://prometheus.observability.svc.cluster.local:9090",
      "jaeger http://jaeger-query.observability.svc.cluster.local:16686",
      "es-envoy-access https://logging-es-http.observability.svc.cluster.local:9200",
      "es-k8s-logs https://logging-es-http.observability.svc.cluster.local:9200",
    ]);
    const dashboards = Object.keys(getJson(["get", "configmap", "grafana-dashboards-mesh", "-n", "observability"]).data);
    expect(dashboards).toContain("obs-control-plane.json");
    expect(getJson(["get", "pvc", "grafana-data", "-n", "observability"]).status.phase).toBe("Bound");
    const kiali = parse(getJson(["get", "configmap", "kiali", "-n", "observability"]).data["config.yaml"]);
    expect(kiali.external_services.prometheus.url).toBe("http://prometheus.observability.svc.cluster.local:9090");
    expect(kiali.external_services.grafana.internal_url).toBe("http://grafana.observability.svc.cluster.local:3000");
    expect(kiali.external_services.grafana.dashboards).toContainEqual({ name: "Mesh / Service", variables: { namespace: "var-namespace", service: "var-service" } });
    expect(kiali.external_services.tracing).toMatchObject({ enabled: true, provider: "jaeger", internal_url: "http://jaeger-query.observability.svc.cluster.local:16686" });
    expect(kiali.auth.strategy).toBe("anonymous");
  });

  it("a second preview plans no change", async () => {
    const res = await timed("preview", () => stack.preview());
    const changes = Object.entries(res.changeSummary).filter(([op, n]) => op !== "same" && n > 0);
    expect(changes).toEqual([]);
  });

  it("refresh finds no drift", async () => {
    const res = await timed("refresh", () => stack.refresh());
    const changes = Object.entries(res.summary.resourceChanges ?? {}).filter(([op, n]) => op !== "same" && (n ?? 0) > 0);
    expect(changes).toEqual([]);
  });

  it("destroy removes what up created", async () => {
    const res = await timed("destroy", () => stack.destroy());
    expect(res.summary.result).toBe("succeeded");
    expect(kubectl(["get", "namespace", "istio-system", "--ignore-not-found", "-o", "name"]).trim()).toMatch(/^(|namespace\/istio-system)$/);
    expect(kubectl(["get", "deployment", "-A", "-l", "app=istiod", "-o", "name"]).trim()).toBe("");
    expect(getJson(["get", "crd"]).items.filter((c: { spec: { group: string } }) => c.spec.group.endsWith("istio.io"))).toEqual([]);
  });
});

describe("bad input is refused at preview, nothing applied", () => {
  it.each([
    ["unknown profile", (c: Record<string, any>) => (c["obs:istio"].profile = "ambient"), /obs:istio\.profile = "ambient": expected one of default, demo, minimal, empty/],
    ["unknown key", (c: Record<string, any>) => (c["obs:istio"].samplingPrecent = 5), /obs:istio\.samplingPrecent = 5: expected a known key/],
    ["sampling rate", (c: Record<string, any>) => (c["obs:istio"].samplingPercent = 150), /obs:istio\.samplingPercent = 150: expected a number >= 0 and <= 100/],
    ["Kiali anonymous outside local", (c: Record<string, any>) => (c["obs:environment"] = "staging"), /obs:kiali\.auth\.strategy = "anonymous": expected one of token, openid, header \(anonymous is allowed only where obs:environment is "local"; here it is "staging"\)/],
    ["Kiali without Prometheus", (c: Record<string, any>) => (c["obs:prometheus"].enabled = false), /obs:kiali\.enabled = true: expected false while obs:prometheus\.enabled is false/],
    ["dashboard naming an unknown datasource", (c: Record<string, any>) => (c["obs:grafana"].extraDashboards = ["test/e2e/fixtures/dashboard-unknown-datasource.json"]), /obs:grafana\.extraDashboards\[0\] = "panels\[0\]\.targets\[0\]\.datasource = loki": expected a datasource uid this stack provisions: prometheus, jaeger, es-envoy-access, es-k8s-logs/],
  ])("%s", async (_name, edit, message) => {
    const stack = await projectStack("local", stackWorkDir("local", edit));
    await expect(stack.preview()).rejects.toThrow(message);
    await expect(stack.up()).rejects.toThrow(message);
    expect(kubectl(["get", "namespace", "istio-system", "--ignore-not-found", "-o", "name"]).trim()).toBe("");
  });
});

describe("offline render", () => {
  it.each(["local", "dev", "staging", "prod"])("%s renders and passes a server-side dry-run", async (name) => {
    const out = mkdtempSync(path.join(os.tmpdir(), `obs-render-${name}-`));
    // a shell with KUBECONFIG set (the local one: a reachable cluster) renders all the same, without touching it
    const kubeconfigBefore = process.env.KUBECONFIG;
    if (name === "local") process.env.KUBECONFIG = localKubeconfig();
    const r = await timed(`render ${name}`, () => renderStack(name, out, { quiet: true })).finally(() => {
      if (kubeconfigBefore === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = kubeconfigBefore;
    });
    console.log(`[e2e] render ${name}: ${r.files.length} objects in ${r.seconds.toFixed(1)}s`);
    expect(r.files.length).toBeGreaterThan(20);
    const crdDir = path.join(out, "0-crd");
    const manifests = path.join(out, "1-manifest");
    // CRDs and namespaces must exist before objects in them can be dry-run; they are applied, then removed.
    kubectl(["apply", "--server-side", "-f", crdDir]);
    kubectl(["wait", "--for=condition=Established", "crd", "--all", "--timeout=60s"]);
    const nsFiles = readdirSync(manifests).filter((f) => f.includes("namespace"));
    for (const f of nsFiles) kubectl(["apply", "--server-side", "-f", path.join(manifests, f)]);
    // a validator is rendered whole, with the failurePolicy it starts with (not the fields of a Patch)
    for (const f of readdirSync(manifests).filter((f) => f.includes("validatingwebhookconfiguration"))) {
      const v = parse(readFileSync(path.join(manifests, f), "utf8"));
      for (const w of v.webhooks) expect([f, w.failurePolicy, w.clientConfig?.service?.name]).toEqual([f, "Ignore", expect.stringMatching(/^istiod-/)]);
    }
    const dry = kubectl(["apply", "--server-side", "--dry-run=server", "--force-conflicts", "-f", manifests]);
    expect(dry.split("\n").filter(Boolean).length).toBe(readdirSync(manifests).length);
    for (const f of nsFiles) kubectl(["delete", "--wait=false", "-f", path.join(manifests, f)]);
    kubectl(["delete", "--wait=true", "-f", crdDir]);

    // the rendered Prometheus configuration and rules pass the real promtool
    const cm = readdirSync(manifests).map((f) => parse(readFileSync(path.join(manifests, f), "utf8"))).find((o) => o?.kind === "ConfigMap" && o.data?.["prometheus.yml"]);
    expect(cm, "a ConfigMap with prometheus.yml").toBeTruthy();
    const promDir = mkdtempSync(path.join(os.tmpdir(), `obs-prom-${name}-`));
    for (const [file, text] of Object.entries(cm.data as Record<string, string>)) writeFileSync(path.join(promDir, file), text);
    const promtool = (...args: string[]) => spawnSync(toolPath("promtool"), args, { cwd: promDir, encoding: "utf8" });
    const config = promtool("check", "config", "--syntax-only", "prometheus.yml");
    expect(config.status, config.stdout + config.stderr).toBe(0);
    const ruleFiles = (parse(cm.data["prometheus.yml"]).rule_files as string[]) ?? [];
    expect(ruleFiles.length).toBeGreaterThan(0);
    const rules = promtool("check", "rules", ...ruleFiles);
    expect(rules.status, rules.stdout + rules.stderr).toBe(0);
    expect(rules.stdout).toMatch(/SUCCESS: \d+ rules found/);
  });
});
