// Operator mode: the PodMonitor/ServiceMonitor/ScrapeConfig/PrometheusRule objects carry the
// same jobs and rules as the server's prometheus.yml and rule file, from one definition.
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parsePrometheusConfig, type PrometheusConfig } from "../../../components/prometheus/config.js";
import { meshMonitor, type MonitorObject, operatorObjects, operatorRelabeling, SERVER_ONLY_JOBS } from "../../../components/prometheus/operator.js";
import { renderRulesYaml } from "../../../components/prometheus/rules.js";
import { buildPrometheusConfig, type MeshMtls, mtlsPodsJob, type RelabelConfig } from "../../../components/prometheus/scrape.js";
import { JOBS } from "../../../components/mesh/metrics.js";
import { type Created, recordResources } from "../mocks.js";

const config = (over: Record<string, unknown> = {}): PrometheusConfig => {
  const { config: c, issues } = parsePrometheusConfig(over);
  if (!c) throw new Error(JSON.stringify(issues));
  return c;
};

const RAW = { excludeNamespaces: ["kube-system"], extraScrapeConfigs: [{ jobName: "edge", staticTargets: ["edge.example.com:9100"], scheme: "https", metricsPath: "/probe" }], operator: { selectorLabels: { release: "kps", team: "platform" } } };

function bothModes(meshMtls: MeshMtls, over: Record<string, unknown> = {}) {
  const c = config({ ...RAW, ...over });
  const server = buildPrometheusConfig({ config: c, clusterName: "c", environment: "prod", meshMtls });
  const objects = operatorObjects({ config: { ...c, mode: "operator" }, meshMtls, namespace: "observability", name: "prometheus", labels: { "app.kubernetes.io/name": "prometheus" } });
  return { server, objects };
}

/** The job a monitor's targets get: its last relabeling (operator.ts's jobLabel), or a ScrapeConfig's jobName. */
function jobOf(o: MonitorObject): string {
  if (o.kind === "ScrapeConfig") return o.spec.jobName as string;
  const ep = ((o.spec.podMetricsEndpoints ?? o.spec.endpoints) as { relabelings: { targetLabel?: string; replacement?: string }[] }[])[0]!;
  const last = ep.relabelings.at(-1)!;
  expect(last.targetLabel).toBe("job");
  return last.replacement!;
}

const endpointOf = (o: MonitorObject) => ((o.spec.podMetricsEndpoints ?? o.spec.endpoints) as Record<string, any>[])[0]!;

describe("operator mode: one definition of jobs and rules", () => {
  it.each<[string, MeshMtls, Record<string, unknown>]>([
    ["PERMISSIVE mesh", "PERMISSIVE", {}],
    ["STRICT mesh without mTLS scraping", "STRICT", { mtlsScraping: false }],
  ])("has the server's jobs (less the ones an operator installation scrapes itself) with the same relabelling (%s)", (_, meshMtls, over) => {
    const { server, objects } = bothModes(meshMtls, over);
    const monitors = objects.filter((o) => o.kind !== "PrometheusRule");
    const serverJobs = server.scrape_configs.map((s) => s.job_name).filter((j) => !(j in SERVER_ONLY_JOBS));
    expect(monitors.map(jobOf)).toEqual(serverJobs);
    expect(serverJobs).toEqual([JOBS.istiod, JOBS.envoy, JOBS.pods, JOBS.serviceEndpoints, "edge"]);

    for (const o of monitors.filter((m) => m.kind !== "ScrapeConfig")) {
      const s = server.scrape_configs.find((c) => c.job_name === jobOf(o))!;
      const ep = endpointOf(o);
      // the server's port keep is the monitor's `port`; every other rule is the same, in the same order
      const serverRules = (s.relabel_configs ?? []).filter((r: RelabelConfig) => !(r.source_labels?.[0] === "__meta_kubernetes_endpointslice_port_name"));
      expect(ep.relabelings.slice(0, -1), s.job_name).toEqual(serverRules.map(operatorRelabeling));
      expect(o.kind, s.job_name).toBe(s.kubernetes_sd_configs![0]!.role === "pod" ? "PodMonitor" : "ServiceMonitor");
      expect(ep.path, s.job_name).toBe(s.metrics_path);
      expect(o.spec.fallbackScrapeProtocol, s.job_name).toBe(s.fallback_scrape_protocol);
      expect(o.spec.namespaceSelector, s.job_name).toEqual(s.kubernetes_sd_configs![0]!.namespaces ? { matchNames: s.kubernetes_sd_configs![0]!.namespaces.names } : { any: true });
    }
    const istiod = objects.find((o) => o.metadata.name === "prometheus-istiod")!;
    expect(endpointOf(istiod).port).toBe("http-monitoring");
    expect(objects.find((o) => o.kind === "ScrapeConfig")!.spec).toEqual({ jobName: "edge", scheme: "HTTPS", metricsPath: "/probe", staticConfigs: [{ targets: ["edge.example.com:9100"] }] });
  });

  it("has the server's rule groups, unchanged, in one PrometheusRule", () => {
    const rules = bothModes("PERMISSIVE").objects.filter((o) => o.kind === "PrometheusRule");
    expect(rules).toHaveLength(1);
    expect(rules[0]!.spec.groups).toEqual(parse(renderRulesYaml()).groups);
  });

  it("labels every object with the configured selector labels, in the stack's namespace", () => {
    const { objects } = bothModes("PERMISSIVE");
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      "ServiceMonitor/prometheus-istiod",
      "PodMonitor/prometheus-envoy-stats",
      "PodMonitor/prometheus-kubernetes-pods",
      "ServiceMonitor/prometheus-kubernetes-service-endpoints",
      "ScrapeConfig/prometheus-edge",
      "PrometheusRule/prometheus-rules",
    ]);
    for (const o of objects) {
      expect(o.metadata.namespace).toBe("observability");
      expect(o.metadata.labels).toEqual({ "app.kubernetes.io/name": "prometheus", release: "kps", team: "platform" });
      expect(o.apiVersion).toBe(o.kind === "ScrapeConfig" ? "monitoring.coreos.com/v1alpha1" : "monitoring.coreos.com/v1");
    }
  });

  it("cannot express the mTLS job (certificate files only the stack's own Prometheus has): the config refuses that combination", () => {
    expect(() => meshMonitor(mtlsPodsJob({ mtls: true, excludeNamespaces: [] }), { name: "x", namespace: "y", labels: {} })).toThrow(/certificate files/);
    expect(parsePrometheusConfig({ mode: "operator" }, "obs:prometheus", { meshMtls: "STRICT" }).issues.map((i) => i.key)).toEqual(["obs:prometheus.mtlsScraping"]);
  });
});

describe("PrometheusMonitors component", () => {
  const created: Created[] = [];
  beforeAll(async () => {
    await recordResources(created);
  });

  it("registers the objects as custom resources under the component, and no Prometheus server", async () => {
    const { PrometheusMonitors } = await import("../../../components/prometheus/operator.js");
    const c = { ...config({ mtlsScraping: false }), mode: "operator" as const };
    const m = new PrometheusMonitors("prometheus", { namespace: "observability", config: c, meshMtls: "STRICT" });
    const urns = await Promise.all(m.objects.map((o) => new Promise<string>((resolve) => o.urn.apply(resolve))));
    for (const urn of urns) expect(urn).toContain("::obs:prometheus:PrometheusMonitors$kubernetes:");
    const kinds = created.filter((x) => x.type.startsWith("kubernetes:")).map((x) => `${x.type} ${x.inputs.kind}`);
    expect(kinds.sort()).toEqual(
      [
        "kubernetes:monitoring.coreos.com/v1:PodMonitor PodMonitor",
        "kubernetes:monitoring.coreos.com/v1:PodMonitor PodMonitor",
        "kubernetes:monitoring.coreos.com/v1:PrometheusRule PrometheusRule",
        "kubernetes:monitoring.coreos.com/v1:ServiceMonitor ServiceMonitor",
        "kubernetes:monitoring.coreos.com/v1:ServiceMonitor ServiceMonitor",
      ].sort(),
    );
    expect(created.some((x) => /StatefulSet|ConfigMap/.test(x.type))).toBe(false);
  });
});
