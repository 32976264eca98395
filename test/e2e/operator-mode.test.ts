// Operator mode against the local API server: the Prometheus Operator's CRDs, taken from its Go
// module's published CRD YAML (pinned below, fetched with `go mod download` into the Go module
// cache, never committed), are installed; then the stack's PrometheusMonitors component goes
// through the real Pulumi engine and provider, and the API server, validating against those
// CRDs' schemas, accepts every PodMonitor, ServiceMonitor, ScrapeConfig and PrometheusRule.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as k8s from "@pulumi/kubernetes";
import type { LocalWorkspace } from "@pulumi/pulumi/automation/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { parsePrometheusConfig } from "../../components/prometheus/config.js";
import { operatorObjects, PrometheusMonitors } from "../../components/prometheus/operator.js";
import { buildRules } from "../../components/prometheus/rules.js";
import { getJson, inlineStack, kubeconfigPath, kubectl, projectStack, stackWorkDir } from "./helpers.js";

/** The Prometheus Operator release whose CRDs the objects are checked against (kube-prometheus-stack 77.x ships it). */
const OPERATOR_MODULE = "github.com/prometheus-operator/prometheus-operator";
const OPERATOR_VERSION = "v0.85.0";
const CRD_DIR = "example/prometheus-operator-crd";
const NAMESPACE = "obs-operator-e2e";
const KINDS = ["podmonitors", "servicemonitors", "scrapeconfigs", "prometheusrules"];

/** The module's directory in the Go module cache (`go mod download` verifies it against the checksum database). */
function operatorModuleDir(): string {
  const out = execFileSync("go", ["mod", "download", "-json", `${OPERATOR_MODULE}@${OPERATOR_VERSION}`], { cwd: os.tmpdir(), encoding: "utf8", env: { ...process.env, GOFLAGS: "-mod=mod" }, timeout: 300_000 });
  return (JSON.parse(out) as { Dir: string }).Dir;
}

const config = (() => {
  const { config: c, issues } = parsePrometheusConfig(
    {
      mode: "operator",
      mtlsScraping: false,
      excludeNamespaces: ["kube-system"],
      extraScrapeConfigs: [{ jobName: "edge", staticTargets: ["edge.example.com:9100"], scheme: "https" }],
      operator: { selectorLabels: { release: "kube-prometheus-stack" }, queryUrl: "http://kube-prometheus-stack-prometheus.monitoring:9090" },
    },
    "obs:prometheus",
    { grafanaEnabled: true, kialiEnabled: true, meshMtls: "STRICT" },
  );
  if (!c) throw new Error(JSON.stringify(issues));
  return c;
})();

describe("operator mode: the monitors on an API server with the Prometheus Operator's CRDs", () => {
  let crdFiles: string[] = [];

  beforeAll(async () => {
    const dir = path.join(operatorModuleDir(), CRD_DIR);
    // the CRDs of the kinds the stack renders (the Prometheus, Alertmanager, ThanosRuler and agent
    // CRDs are megabytes of schema the objects never touch)
    crdFiles = readdirSync(dir).filter((f) => KINDS.some((k) => f === `monitoring.coreos.com_${k}.yaml`)).map((f) => path.join(dir, f));
    expect(crdFiles).toHaveLength(KINDS.length);
    // server-side: the CRDs are larger than client-side apply's last-applied annotation allows
    kubectl(["apply", "--server-side", "--force-conflicts", ...crdFiles.flatMap((f) => ["-f", f])]);
    // `kubectl wait` fails outright while a new CRD has no status yet: poll until each is Established
    const established = () => kubectl(["get", ...crdFiles.flatMap((f) => ["-f", f]), "-o", 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Established")].status}{" "}{end}'], { allowFail: true }).trim().split(/\s+/);
    for (let i = 0; i < 120 && !(established().length === crdFiles.length && established().every((x) => x === "True")); i++) await new Promise((r) => setTimeout(r, 500));
    expect(established()).toEqual(crdFiles.map(() => "True"));
    kubectl(["create", "namespace", NAMESPACE], { allowFail: true });
  });

  afterAll(() => {
    kubectl(["delete", "namespace", NAMESPACE, "--wait=false"], { allowFail: true });
    kubectl(["delete", "--wait=false", ...crdFiles.flatMap((f) => ["-f", f])], { allowFail: true });
  });

  it("installs the pinned release's CRDs of the rendered kinds", () => {
    const names = crdFiles.map((f) => (parse(readFileSync(f, "utf8")) as { metadata: { name: string } }).metadata.name);
    expect(names).toEqual(expect.arrayContaining(["podmonitors.monitoring.coreos.com", "servicemonitors.monitoring.coreos.com", "prometheusrules.monitoring.coreos.com", "scrapeconfigs.monitoring.coreos.com"]));
    const crd = getJson(["get", "crd", "podmonitors.monitoring.coreos.com"]);
    expect(crd.metadata.annotations["operator.prometheus.io/version"]).toBe(OPERATOR_VERSION.slice(1));
  });

  it("pulumi up of the PrometheusMonitors component: the API server accepts every object, as rendered", async () => {
    const stack = await inlineStack("e2e-operator-mode", "operator", async () => {
      const provider = new k8s.Provider("local", { kubeconfig: readFileSync(kubeconfigPath, "utf8") });
      new PrometheusMonitors("prometheus", { namespace: NAMESPACE, config, meshMtls: "STRICT" }, { providers: { kubernetes: provider } });
    });
    try {
      const up = await stack.up();
      expect(up.summary.result).toBe("succeeded");
      const expected = operatorObjects({ config, meshMtls: "STRICT", namespace: NAMESPACE, name: "prometheus", labels: {} });
      expect(expected.map((o) => o.kind).sort()).toEqual(["PodMonitor", "PodMonitor", "PrometheusRule", "ScrapeConfig", "ServiceMonitor", "ServiceMonitor"]);
      for (const o of expected) {
        const live = getJson(["get", "-n", NAMESPACE, `${o.kind.toLowerCase()}.${o.apiVersion.split("/")[0]}`, o.metadata.name]);
        expect(live.metadata.labels.release, o.metadata.name).toBe("kube-prometheus-stack");
        // the API server kept every field (a field unknown to the CRD schema would be pruned)
        expect(live.spec, `${o.kind}/${o.metadata.name}`).toEqual(JSON.parse(JSON.stringify(o.spec)));
      }
      const rule = getJson(["get", "-n", NAMESPACE, "prometheusrule", "prometheus-rules"]);
      expect(rule.spec.groups.map((g: { name: string }) => g.name)).toEqual(buildRules().groups.map((g) => g.name));
    } finally {
      const destroy = await stack.destroy();
      expect(destroy.summary.result).toBe("succeeded");
    }
  });

  it("the whole program in operator mode (render, no cluster): the monitors and rules, no Prometheus server, Grafana and Kiali on the configured URL", async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), "obs-e2e-operator-render-"));
    const queryUrl = "http://kube-prometheus-stack-prometheus.monitoring.svc:9090";
    const stack = await projectStack(
      "local",
      stackWorkDir("local", (c) => {
        Object.assign(c["obs:prometheus"] as Record<string, unknown>, { mode: "operator", operator: { queryUrl } });
        c["obs:kubernetes"] = { renderDir: out };
      }),
    );
    // a throwaway backend, as `npm run render` does: no checkpoint per step
    (stack.workspace as LocalWorkspace).envVars.PULUMI_SKIP_CHECKPOINTS = "true";
    const up = await stack.up();
    expect(up.summary.result).toBe("succeeded");
    expect(up.outputs.prometheusUrl?.value).toBe(queryUrl);
    const docs = readdirSync(out, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith(".yaml"))
      .flatMap((e) => parseAllDocuments(readFileSync(path.join(e.parentPath, e.name), "utf8")).map((d) => d.toJS()))
      .filter(Boolean) as { kind: string; metadata: { name: string }; data?: Record<string, string>; stringData?: Record<string, string> }[];
    const names = (kind: string) => docs.filter((d) => d.kind === kind).map((d) => d.metadata.name).sort();
    expect(names("PodMonitor")).toEqual(["prometheus-envoy-stats", "prometheus-kubernetes-pods"]);
    expect(names("ServiceMonitor")).toEqual(["prometheus-istiod", "prometheus-kubernetes-service-endpoints"]);
    expect(names("PrometheusRule")).toEqual(["prometheus-rules"]);
    expect(docs.filter((d) => d.kind === "StatefulSet").map((d) => d.metadata.name)).not.toContain("prometheus");
    // Grafana's datasource and Kiali's settings name the operator's Prometheus
    const text = (d: (typeof docs)[number]) => JSON.stringify({ ...d.data, ...d.stringData });
    expect(docs.filter((d) => /ConfigMap|Secret/.test(d.kind) && /grafana/.test(d.metadata.name) && text(d).includes(queryUrl)).length).toBeGreaterThan(0);
    expect(docs.filter((d) => /ConfigMap|Secret/.test(d.kind) && /kiali/.test(d.metadata.name) && text(d).includes(queryUrl)).length).toBeGreaterThan(0);
    rmSync(out, { recursive: true, force: true });
  });

  it("bad input stops the preview of the whole program, naming each key, before anything is applied", async () => {
    const bad = await projectStack(
      "local",
      stackWorkDir("local", (c) => {
        const prom = c["obs:prometheus"] as Record<string, unknown>;
        // operator mode without the URL Grafana and Kiali (enabled in `local`) would query, and a remote-write URL without a host
        Object.assign(prom, { mode: "operator", remoteWrite: [{ url: "https://:9090/api/v1/push" }] });
      }),
    );
    const expected = [
      /obs:prometheus\.remoteWrite\[0\]\.url = "https:\/\/:9090\/api\/v1\/push": expected an http:\/\/ or https:\/\/ URL with a host/,
      /obs:prometheus\.operator\.queryUrl = "": expected an http:\/\/ or https:\/\/ URL of the operator's Prometheus \(required with mode operator while obs:grafana\.enabled and obs:kiali\.enabled is true/,
      /obs:prometheus\.remoteWrite = \["https:\/\/:9090\/api\/v1\/push"\]: expected an empty list with mode operator/,
    ];
    const error = await bad.preview().then(
      () => "",
      (e: Error) => e.message,
    );
    for (const m of expected) expect(error).toMatch(m);
    expect(((await bad.exportStack()).deployment.resources ?? []).map((r: { type: string }) => r.type).filter((t: string) => t !== "pulumi:pulumi:Stack")).toEqual([]);
  });

  it("the API server does check them: a relabeling with an unknown action is refused", () => {
    const bad = operatorObjects({ config, meshMtls: "STRICT", namespace: NAMESPACE, name: "bad", labels: {} }).find((o) => o.kind === "PodMonitor")!;
    const spec = structuredClone(bad.spec) as { podMetricsEndpoints: { relabelings: { action: string }[] }[] };
    spec.podMetricsEndpoints[0]!.relabelings[0]!.action = "explode";
    const out = kubectl(["apply", "--dry-run=server", "-f", "-"], { input: JSON.stringify({ ...bad, spec }), allowFail: true });
    expect(out).not.toContain("created");
    expect(() => kubectl(["apply", "--dry-run=server", "-f", "-"], { input: JSON.stringify({ ...bad, spec }) })).toThrow(/Unsupported value: "explode"/);
  });
});
