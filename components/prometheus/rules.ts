// The Prometheus rule file: mesh recording rules (reused by dashboards) and the alerts of the
// control plane, the data plane and Prometheus itself; plus a `promtool test rules` file for it.
import { stringify } from "yaml";
import { bucket, ISTIO, ISTIOD, JOBS, OUTBOUND_CLUSTERS, PROMETHEUS, RECORDING_RULES } from "../mesh/metrics.js";

/** Labels every destination_workload:* series carries. */
export const WORKLOAD_LABELS = ["destination_workload_namespace", "destination_workload"] as const;

export const ALERTS = {
  istiodDown: "IstiodDown",
  xdsPushErrors: "IstioXdsPushErrors",
  xdsRejects: "IstioXdsRejects",
  injectionFailures: "IstioSidecarInjectionFailures",
  high5xxRatio: "IstioHigh5xxRatio",
  highP99Latency: "IstioHighP99Latency",
  outboundBlocked: "IstioOutboundTrafficBlocked",
  configReloadFailed: "PrometheusConfigReloadFailed",
  tsdbCompactionsFailing: "PrometheusTSDBCompactionsFailing",
  tsdbHeadTruncationsFailing: "PrometheusTSDBHeadTruncationsFailing",
  tsdbWalCorruptions: "PrometheusTSDBWALCorruptions",
  targetDown: "TargetDown",
} as const;

export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
}

export interface AlertingRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels: { readonly severity: "critical" | "warning" };
  /** Templates use only `{{ $labels.<name> }}`, so tests can expand them (see expandAnnotations). */
  readonly annotations: { readonly summary: string; readonly description: string };
}

export interface RuleGroup {
  readonly name: string;
  readonly rules: readonly (RecordingRule | AlertingRule)[];
}

export interface RuleFile {
  readonly groups: readonly RuleGroup[];
}

export interface RuleOptions {
  /** IstioHigh5xxRatio fires above this share of 5xx (0..1). */
  readonly errorRatio?: number;
  /** ... on workloads serving at least this many requests/s (a few failures of a trickle are noise). */
  readonly minRequestRate?: number;
  /** IstioHighP99Latency fires above this p99 in milliseconds. */
  readonly p99LatencyMs?: number;
}

export const DEFAULT_RULE_OPTIONS: Required<RuleOptions> = { errorRatio: 0.05, minRequestRate: 0.1, p99LatencyMs: 1000 };

const R = RECORDING_RULES;
const BY_WORKLOAD = WORKLOAD_LABELS.join(", ");
// Server-side (sidecar of the destination) view: one report per request, whoever the client is.
const REQUESTS = `${ISTIO.requests}{reporter="destination"}`;
const REQUESTS_5XX = `${ISTIO.requests}{reporter="destination", response_code=~"5.."}`;
const DURATION_BUCKETS = `${bucket(ISTIO.requestDuration)}{reporter="destination"}`;

/** Per calling workload, calls its sidecar sent to BlackHoleCluster (blocked under REGISTRY_ONLY). */
const blocked = (metric: string) => `sum by (source_workload_namespace, source_workload) (rate(${metric}{reporter="source", destination_service_name="${OUTBOUND_CLUSTERS.blackHole}"}[5m]))`;

const quantile = (q: number, by: string) => `histogram_quantile(${q}, sum by (${by}) (rate(${DURATION_BUCKETS}[5m])))`;

export function recordingRules(): RecordingRule[] {
  return [
    { record: R.workloadRequestRate, expr: `sum by (${BY_WORKLOAD}) (rate(${REQUESTS}[5m]))` },
    // `or ... * 0`: a workload without errors records 0 rather than nothing.
    { record: R.workload5xxRate, expr: `sum by (${BY_WORKLOAD}) (rate(${REQUESTS_5XX}[5m])) or ${R.workloadRequestRate} * 0` },
    { record: R.workload5xxRatio, expr: `${R.workload5xxRate} / (${R.workloadRequestRate} > 0)` },
    { record: R.workloadLatencyP50, expr: quantile(0.5, `${BY_WORKLOAD}, le`) },
    { record: R.workloadLatencyP90, expr: quantile(0.9, `${BY_WORKLOAD}, le`) },
    { record: R.workloadLatencyP99, expr: quantile(0.99, `${BY_WORKLOAD}, le`) },
    { record: R.meshRequestRate, expr: `sum(${R.workloadRequestRate})` },
    { record: R.mesh5xxRatio, expr: `sum(${R.workload5xxRate}) / (sum(${R.workloadRequestRate}) > 0)` },
    { record: R.meshLatencyP99, expr: quantile(0.99, "le") },
  ];
}

export function alertingRules(options: RuleOptions = {}): { controlPlane: AlertingRule[]; dataPlane: AlertingRule[]; prometheus: AlertingRule[] } {
  const o = { ...DEFAULT_RULE_OPTIONS, ...options };
  const counterRising = (alert: string, metric: string, summary: string, description: string, severity: "critical" | "warning" = "warning"): AlertingRule => ({
    alert,
    expr: `sum by (revision, pod) (rate(${metric}{job="${JOBS.istiod}"}[5m])) > 0`,
    for: "10m",
    labels: { severity },
    annotations: { summary, description },
  });
  const tsdb = (alert: string, metric: string, what: string, severity: "critical" | "warning"): AlertingRule => ({
    alert,
    expr: `increase(${metric}[3h]) > 0`,
    labels: { severity },
    annotations: { summary: `Prometheus ${what}`, description: `${metric} increased on {{ $labels.instance }} in the last 3 hours; check the Prometheus log and the data volume.` },
  });
  return {
    controlPlane: [
      {
        alert: ALERTS.istiodDown,
        expr: `absent(${PROMETHEUS.up}{job="${JOBS.istiod}"} == 1)`,
        for: "5m",
        labels: { severity: "critical" },
        annotations: { summary: "No istiod is up", description: "No istiod target has been scraped successfully for 5 minutes: new pods get no sidecar and proxies no configuration updates." },
      },
      counterRising(ALERTS.xdsPushErrors, ISTIOD.xdsPushErrors, "istiod fails to push xDS", "istiod {{ $labels.pod }} (revision {{ $labels.revision }}) has failed xDS pushes to proxies for 10 minutes."),
      counterRising(ALERTS.xdsRejects, ISTIOD.xdsRejects, "Proxies reject istiod's configuration", "Proxies have rejected xDS from istiod {{ $labels.pod }} (revision {{ $labels.revision }}) for 10 minutes; see pilot_total_xds_rejects by type and istioctl proxy-status."),
      counterRising(ALERTS.injectionFailures, ISTIOD.injectionFailures, "Sidecar injection fails", "The injection webhook of istiod {{ $labels.pod }} (revision {{ $labels.revision }}) has failed injections for 10 minutes; pods start without a sidecar or not at all."),
    ],
    dataPlane: [
      {
        alert: ALERTS.high5xxRatio,
        expr: `${R.workload5xxRatio} > ${o.errorRatio} and ${R.workloadRequestRate} > ${o.minRequestRate}`,
        for: "5m",
        labels: { severity: "warning" },
        annotations: { summary: "Workload answers with many 5xx", description: `More than ${o.errorRatio * 100}% of the requests to {{ $labels.destination_workload_namespace }}/{{ $labels.destination_workload }} have failed with 5xx for 5 minutes.` },
      },
      {
        alert: ALERTS.highP99Latency,
        expr: `${R.workloadLatencyP99} > ${o.p99LatencyMs}`,
        for: "10m",
        labels: { severity: "warning" },
        annotations: { summary: "Workload is slow", description: `The p99 latency of {{ $labels.destination_workload_namespace }}/{{ $labels.destination_workload }} has been above ${o.p99LatencyMs} ms for 10 minutes.` },
      },
      {
        // Only REGISTRY_ONLY sends calls to BlackHoleCluster; under ALLOW_ANY this never fires.
        alert: ALERTS.outboundBlocked,
        expr: `${blocked(ISTIO.requests)} > 0 or ${blocked(ISTIO.tcpClosed)} > 0`,
        for: "5m",
        labels: { severity: "warning" },
        annotations: {
          summary: "Outbound calls are blocked by REGISTRY_ONLY",
          description: "{{ $labels.source_workload_namespace }}/{{ $labels.source_workload }} has called destinations outside the mesh registry for 5 minutes; its sidecar blocks them (BlackHoleCluster). Register the destination in obs:istio.externalServices, or fix the caller.",
        },
      },
    ],
    prometheus: [
      {
        alert: ALERTS.configReloadFailed,
        expr: `${PROMETHEUS.reloadSuccessful} == 0`,
        for: "10m",
        labels: { severity: "warning" },
        annotations: { summary: "Prometheus configuration reload failed", description: "Prometheus {{ $labels.instance }} could not load its configuration and runs with the previous one." },
      },
      tsdb(ALERTS.tsdbCompactionsFailing, PROMETHEUS.compactionsFailed, "TSDB compactions fail", "warning"),
      tsdb(ALERTS.tsdbHeadTruncationsFailing, PROMETHEUS.headTruncationsFailed, "TSDB head truncations fail", "critical"),
      tsdb(ALERTS.tsdbWalCorruptions, PROMETHEUS.walCorruptions, "TSDB write-ahead log is corrupted", "critical"),
      {
        alert: ALERTS.targetDown,
        expr: `${PROMETHEUS.up} == 0`,
        for: "10m",
        labels: { severity: "warning" },
        annotations: { summary: "Scrape target down", description: "{{ $labels.job }} target {{ $labels.instance }} has been unreachable for 10 minutes." },
      },
    ],
  };
}

export function buildRules(options: RuleOptions = {}): RuleFile {
  const a = alertingRules(options);
  return {
    groups: [
      { name: "istio-mesh.rules", rules: recordingRules() },
      { name: "istio-control-plane.alerts", rules: a.controlPlane },
      { name: "istio-data-plane.alerts", rules: a.dataPlane },
      { name: "prometheus.alerts", rules: a.prometheus },
    ],
  };
}

export function renderRulesYaml(options: RuleOptions = {}): string {
  return stringify(buildRules(options), { lineWidth: 0, aliasDuplicateObjects: false });
}

/** An alert's annotations as Prometheus renders them for a label set. */
export function expandAnnotations(rule: AlertingRule, labels: Record<string, string>): Record<string, string> {
  const expand = (t: string) => t.replace(/\{\{ \$labels\.([a-zA-Z_][a-zA-Z0-9_]*) \}\}/g, (_, n: string) => labels[n] ?? "");
  return { summary: expand(rule.annotations.summary), description: expand(rule.annotations.description) };
}
