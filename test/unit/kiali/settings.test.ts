import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { Issue } from "../../../lib/schema.js";
import { type KialiConfig, kialiSchema } from "../../../components/kiali/config.js";
import { buildKialiSettings, grafanaDashboardLink, kialiMetricQueries, type KialiSettingsInput, renderKialiSettings } from "../../../components/kiali/settings.js";
import { bucket, ISTIO } from "../../../components/mesh/metrics.js";

const config = (raw: unknown = {}): KialiConfig => {
  const issues: Issue[] = [];
  const c = kialiSchema.parse(raw, "obs:kiali", issues);
  if (!c) throw new Error(JSON.stringify(issues));
  return c;
};

const input = (over: Partial<KialiSettingsInput> = {}): KialiSettingsInput => ({
  config: config(),
  namespace: "observability",
  istioNamespace: "istio-system",
  prometheusUrl: "http://prometheus.observability.svc:9090",
  tracingUrl: "http://jaeger-query.observability.svc.cluster.local:16686",
  ...over,
});

const settings = (over: Partial<KialiSettingsInput> = {}) => parse(renderKialiSettings(input(over)));

describe("Kiali config.yaml", () => {
  it("points at the stack's Prometheus and Jaeger query (HTTP API, jaeger provider)", () => {
    const s = settings({ tracingExternalUrl: "https://jaeger.example.com" });
    expect(s.external_services.prometheus).toEqual({ url: "http://prometheus.observability.svc:9090" });
    expect(s.external_services.tracing).toEqual({ enabled: true, provider: "jaeger", internal_url: "http://jaeger-query.observability.svc.cluster.local:16686", use_grpc: false, external_url: "https://jaeger.example.com" });
    expect(settings({ tracingUrl: "" }).external_services.tracing).toEqual({ enabled: false });
  });

  it("links Grafana only when a Grafana URL is given, with the dashboards passed in", () => {
    expect(settings().external_services.grafana).toEqual({ enabled: false });
    expect(settings({ grafanaUrl: "" }).external_services.grafana).toEqual({ enabled: false });
    const g = settings({
      grafanaUrl: "http://grafana.observability.svc:3000",
      grafanaExternalUrl: "https://grafana.example.com",
      grafanaDashboards: [{ name: "Mesh overview" }, { name: "Istio workload", variables: { namespace: "var-namespace", workload: "var-workload", datasource: "var-datasource" } }],
    }).external_services.grafana;
    expect(g).toEqual({
      enabled: true,
      internal_url: "http://grafana.observability.svc:3000",
      external_url: "https://grafana.example.com",
      dashboards: [{ name: "Mesh overview" }, { name: "Istio workload", variables: { namespace: "var-namespace", workload: "var-workload", datasource: "var-datasource" } }],
    });
  });

  it("takes the auth strategy and view-only mode from config", () => {
    expect(settings().auth).toEqual({ strategy: "token" });
    expect(settings().deployment).toEqual({ cluster_wide_access: true, namespace: "observability", view_only_mode: true });
    const writable = settings({ config: config({ viewOnly: false, auth: { strategy: "anonymous" } }) });
    expect(writable.auth).toEqual({ strategy: "anonymous" });
    expect(writable.deployment.view_only_mode).toBe(false);
    const oidc = settings({ config: config({ auth: { strategy: "openid", openid: { issuerUri: "https://idp.example.com", clientId: "kiali" } } }) });
    expect(oidc.auth).toEqual({ strategy: "openid", openid: { issuer_uri: "https://idp.example.com", client_id: "kiali", username_claim: "sub", scopes: ["openid", "profile", "email"] } });
  });

  it("serves on 20001 under /kiali with metrics on 9090, Istio in istio-system", () => {
    const s = settings();
    expect(s.server).toEqual({ port: 20001, web_root: "/kiali", observability: { metrics: { enabled: true, port: 9090 } } });
    expect(s.istio_namespace).toBe("istio-system");
    expect(s.external_services.istio).toMatchObject({ root_namespace: "istio-system", istio_api_enabled: true });
    expect(s.external_services.istio.component_status.components).toEqual([{ app_label: "istio-ingressgateway", is_core: true, is_proxy: true, namespace: "istio-system" }]);
  });

  it("pins no single istiod (so two revisions side by side both work) and looks for no remote-cluster secrets", () => {
    const text = renderKialiSettings(input());
    for (const key of ["istiod_deployment_name", "config_map_name", "istio_sidecar_injector_config_map_name", "url_service_version", "istio_canary_revision", "istiod_url", "registry"]) expect(text, key).not.toContain(key);
    expect(text).not.toMatch(/istiod-[a-z0-9]/);
    expect(parse(text).clustering).toEqual({ autodetect_secrets: { enabled: false } });
  });

  it("never carries a secret (signing key and client secret come as files)", () => {
    const text = renderKialiSettings(input({ config: config({ auth: { strategy: "openid", openid: { issuerUri: "https://idp.example.com", clientId: "kiali" } } }) }));
    expect(text).not.toContain("signing_key");
    expect(text).not.toContain("client_secret");
    expect(buildKialiSettings(input())).not.toHaveProperty("login_token");
  });
});

describe("kialiMetricQueries", () => {
  const queries = kialiMetricQueries();

  it("names each query as a unique recording rule", () => {
    expect(new Set(queries.map((q) => q.name)).size).toBe(queries.length);
    for (const q of queries) expect(q.name).toMatch(/^kiali:[a-z0-9_]+:[a-z0-9_]+$/);
  });

  it("covers every standard Istio metric Kiali's graph, health and metrics pages read", () => {
    const all = queries.map((q) => q.expr).join("\n");
    for (const m of [ISTIO.requests, bucket(ISTIO.requestDuration), ISTIO.tcpSentBytes, ISTIO.tcpReceivedBytes, bucket(ISTIO.requestBytes), bucket(ISTIO.responseBytes), ISTIO.tcpOpened, ISTIO.tcpClosed]) {
      expect(all, m).toMatch(new RegExp(`\\b${m}\\{`));
    }
  });

  it("rates counters and takes quantiles of histogram buckets", () => {
    for (const q of queries) {
      const metrics = [...q.expr.matchAll(/\b([a-z_]+)(?=\{|\[)/g)].map((m) => m[1]!);
      for (const m of metrics) {
        if (m.endsWith("_bucket")) expect(q.expr, q.name).toMatch(/^histogram_quantile\(0\.\d+, sum by \(le[,)]/);
        else if (m.endsWith("_total")) expect(q.expr, q.name).toContain(`rate(${m}{`);
      }
    }
    expect(queries.find((q) => q.name === "kiali:istio_requests:health_rate5m")!.expr).toBe(
      'sum by (destination_workload_namespace, destination_workload, request_protocol, response_code, grpc_response_status) (rate(istio_requests_total{reporter="destination"}[5m]))',
    );
  });
});

describe("grafanaDashboardLink", () => {
  it("passes on the variables Kiali fills, as Grafana's var- parameters, and drops the others", () => {
    expect(grafanaDashboardLink("Mesh / Workload", ["namespace", "workload"])).toEqual({ name: "Mesh / Workload", variables: { namespace: "var-namespace", workload: "var-workload" } });
    expect(grafanaDashboardLink("Mesh / Control plane", ["revision"])).toEqual({ name: "Mesh / Control plane", variables: {} });
  });
});
