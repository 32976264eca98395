// Kiali's config.yaml (the ConfigMap its server reads) built from typed input, and the PromQL
// Kiali runs against the stack's Prometheus. Pure: no Pulumi imports.
//
// Canary upgrades: Kiali v2 finds every control plane itself (istiod Deployments labelled
// app=istiod, one per revision, and the revision tags' injector webhooks), so this config
// names no istiod Deployment, Service or ConfigMap (no istiod_deployment_name,
// config_map_name, istio_sidecar_injector_config_map_name, url_service_version): two
// revisions side by side both show, and removing one needs no change here.
import { stringify } from "yaml";
import { bucket, ISTIO, ISTIOD } from "../mesh/metrics.js";
import type { AuthStrategy, KialiConfig } from "./config.js";

export const KIALI_PORT = 20001;
export const KIALI_METRICS_PORT = 9090;
export const WEB_ROOT = "/kiali";
export const CONFIG_DIR = "/kiali-configuration";
export const CONFIG_FILE = "config.yaml";
/** Kiali reads its session signing key from this file (one of its documented override files), not from the ConfigMap. */
export const SIGNING_KEY_DIR = "/kiali-override-secrets/login-token-signing-key";
export const SIGNING_KEY_FILE = "value.txt";
/** Kiali reads the OpenID client secret from `<dir>/oidc-secret`. */
export const OIDC_SECRET_DIR = "/kiali-secret";
export const OIDC_SECRET_FILE = "oidc-secret";

/** Dashboard variables Kiali fills in when it links to a Grafana dashboard. */
export const KIALI_DASHBOARD_VARIABLES = ["app", "datasource", "namespace", "service", "version", "workload"] as const;
/** Kiali variable -> Grafana's URL parameter (`var-<name>`). */
export type GrafanaVariables = Partial<Record<(typeof KIALI_DASHBOARD_VARIABLES)[number], string>>;

/** A Grafana dashboard Kiali links to, by its title. */
export interface GrafanaDashboardLink {
  readonly name: string;
  readonly variables?: GrafanaVariables;
}

/** The link to a dashboard with these variables: Kiali passes on the ones it knows, by Grafana's `var-<name>`. */
export function grafanaDashboardLink(title: string, variables: readonly string[]): GrafanaDashboardLink {
  const known = variables.filter((v): v is (typeof KIALI_DASHBOARD_VARIABLES)[number] => (KIALI_DASHBOARD_VARIABLES as readonly string[]).includes(v));
  return { name: title, variables: Object.fromEntries(known.map((v) => [v, `var-${v}`])) };
}

export interface KialiSettingsInput {
  readonly config: KialiConfig;
  /** Namespace Kiali runs in. */
  readonly namespace: string;
  /** Namespace of the Istio control planes (every revision) and the mesh root namespace. */
  readonly istioNamespace: string;
  /** In-cluster URL of Prometheus, e.g. http://prometheus.observability.svc:9090. */
  readonly prometheusUrl: string;
  /** In-cluster URL of Jaeger query (HTTP API, 16686); empty turns tracing off. */
  readonly tracingUrl: string;
  /** Jaeger UI as users' browsers reach it, for links; none when absent. */
  readonly tracingExternalUrl?: string;
  /** In-cluster URL of Grafana; absent or empty turns the Grafana links off. */
  readonly grafanaUrl?: string;
  /** Grafana as users' browsers reach it, for links. */
  readonly grafanaExternalUrl?: string;
  /** Grafana dashboards Kiali links to from its metrics pages. */
  readonly grafanaDashboards?: readonly GrafanaDashboardLink[];
  /** `app` labels of the gateway pods whose health Kiali shows beside istiod. */
  readonly gatewayApps?: readonly string[];
}

function authSection(config: KialiConfig): Record<string, unknown> {
  const strategy: AuthStrategy = config.auth.strategy;
  if (strategy !== "openid") return { strategy };
  const o = config.auth.openid;
  return { strategy, openid: { issuer_uri: o.issuerUri, client_id: o.clientId, username_claim: o.usernameClaim, scopes: [...o.scopes] } };
}

/** Kiali's server configuration (the `config.yaml` of its ConfigMap), as a plain object. */
export function buildKialiSettings(i: KialiSettingsInput): Record<string, unknown> {
  const grafanaUrl = i.grafanaUrl ?? "";
  return {
    istio_namespace: i.istioNamespace,
    auth: authSection(i.config),
    deployment: {
      // the ClusterRole(Binding) gives it every namespace; Kiali then watches cluster-wide
      cluster_wide_access: true,
      namespace: i.namespace,
      view_only_mode: i.config.viewOnly,
    },
    // one cluster: no remote-cluster secrets to look for (and no Secret access to grant)
    clustering: { autodetect_secrets: { enabled: false } },
    external_services: {
      istio: {
        root_namespace: i.istioNamespace,
        istio_api_enabled: true,
        component_status: {
          enabled: true,
          components: (i.gatewayApps ?? ["istio-ingressgateway"]).map((app) => ({ app_label: app, is_core: true, is_proxy: true, namespace: i.istioNamespace })),
        },
      },
      prometheus: { url: i.prometheusUrl },
      tracing: i.tracingUrl
        ? { enabled: true, provider: "jaeger", internal_url: i.tracingUrl, use_grpc: false, ...(i.tracingExternalUrl ? { external_url: i.tracingExternalUrl } : {}) }
        : { enabled: false },
      grafana: grafanaUrl
        ? {
            enabled: true,
            internal_url: grafanaUrl,
            ...(i.grafanaExternalUrl ? { external_url: i.grafanaExternalUrl } : {}),
            dashboards: (i.grafanaDashboards ?? []).map((d) => ({ name: d.name, ...(d.variables && Object.keys(d.variables).length ? { variables: { ...d.variables } } : {}) })),
          }
        : { enabled: false },
    },
    server: {
      port: KIALI_PORT,
      web_root: WEB_ROOT,
      observability: { metrics: { enabled: true, port: KIALI_METRICS_PORT } },
    },
  };
}

export function renderKialiSettings(i: KialiSettingsInput): string {
  return stringify(buildKialiSettings(i), { lineWidth: 0, aliasDuplicateObjects: false });
}

// ---- what Kiali asks Prometheus ----

/** A PromQL expression Kiali runs, named as a recording rule (level:metric:operations). */
export interface KialiMetricQuery {
  readonly name: string;
  readonly expr: string;
}

// The labels Kiali's traffic graph groups Istio's telemetry by (workload and service on each side).
const EDGE = ["source_cluster", "source_workload_namespace", "source_workload", "source_canonical_service", "source_canonical_revision", "destination_cluster", "destination_service_namespace", "destination_service_name", "destination_workload_namespace", "destination_workload", "destination_canonical_service", "destination_canonical_revision"];
const HTTP_EDGE = [...EDGE, "request_protocol", "response_code", "grpc_response_status", "response_flags"];
const WORKLOAD = ["destination_workload_namespace", "destination_workload"];
// Kiali's graph covers the selected period (1m by default); health uses health_config.compute.duration (5m).
const GRAPH = "1m";
const HEALTH = "5m";

const by = (labels: readonly string[]) => `by (${labels.join(", ")})`;
const rate = (metric: string, selector: string, window: string) => `rate(${metric}{${selector}}[${window}])`;
const quantile = (q: number, histogram: string, selector: string, labels: readonly string[], window: string) => `histogram_quantile(${q}, sum ${by(["le", ...labels])} (${rate(bucket(histogram), selector, window)}))`;

/**
 * The PromQL Kiali's graph, health, metrics tabs and Mesh page run against Prometheus, one
 * per metric and use, in the shape Kiali builds it (rate for counters, histogram_quantile over
 * `_bucket` for histograms). The generated config.yaml itself names no metric (no custom
 * dashboards or metric-based health rules): these are what the Kiali server asks for.
 */
export function kialiMetricQueries(): KialiMetricQuery[] {
  const src = 'reporter="source"';
  const dst = 'reporter="destination"';
  return [
    // traffic graph: request edges (HTTP/gRPC) and TCP edges, as the source proxies report them
    { name: "kiali:istio_requests:graph_rate1m", expr: `sum ${by(HTTP_EDGE)} (${rate(ISTIO.requests, src, GRAPH)}) > 0` },
    { name: "kiali:istio_tcp_sent_bytes:graph_rate1m", expr: `sum ${by(EDGE)} (${rate(ISTIO.tcpSentBytes, src, GRAPH)}) > 0` },
    { name: "kiali:istio_tcp_received_bytes:graph_rate1m", expr: `sum ${by(EDGE)} (${rate(ISTIO.tcpReceivedBytes, src, GRAPH)}) > 0` },
    // graph edge labels: response time (p95) as the destination reports it
    { name: "kiali:istio_request_duration_milliseconds:graph_p95", expr: quantile(0.95, ISTIO.requestDuration, dst, EDGE, GRAPH) },
    // health: inbound request rate per workload and response code
    { name: "kiali:istio_requests:health_rate5m", expr: `sum ${by([...WORKLOAD, "request_protocol", "response_code", "grpc_response_status"])} (${rate(ISTIO.requests, dst, HEALTH)})` },
    // workload/service metrics tabs: request and response sizes, TCP connections
    { name: "kiali:istio_request_bytes:p95", expr: quantile(0.95, ISTIO.requestBytes, dst, WORKLOAD, HEALTH) },
    { name: "kiali:istio_response_bytes:p95", expr: quantile(0.95, ISTIO.responseBytes, dst, WORKLOAD, HEALTH) },
    { name: "kiali:istio_tcp_connections_opened:rate5m", expr: `sum ${by(WORKLOAD)} (${rate(ISTIO.tcpOpened, dst, HEALTH)})` },
    { name: "kiali:istio_tcp_connections_closed:rate5m", expr: `sum ${by(WORKLOAD)} (${rate(ISTIO.tcpClosed, dst, HEALTH)})` },
    // Mesh page, per control plane: istiod's push convergence and CPU, by revision (canary side by side;
    // only the istiod job's series carry `revision`)
    { name: "kiali:pilot_proxy_convergence_time:p99", expr: `histogram_quantile(0.99, sum by (le, revision) (rate(${bucket(ISTIOD.proxyConvergence)}[${HEALTH}])))` },
    { name: "kiali:istiod_process_cpu_seconds:rate5m", expr: `sum by (revision, pod) (rate(${ISTIOD.processCpu}{revision!=""}[${HEALTH}]))` },
  ];
}
