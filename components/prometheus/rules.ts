// The Prometheus rule file: mesh recording rules (reused by dashboards) and the alerts of the
// control plane, the data plane and Prometheus itself; plus a `promtool test rules` file for it.
import { stringify } from "yaml";
import { ISTIO_NAMESPACE } from "../k8s/labels.js";
import { ALERTMANAGER, bucket, FLUENTD, ISTIO, ISTIOD, JOBS, OUTBOUND_CLUSTERS, PROMETHEUS, RECORDING_RULES, X509, XDS_SEND_ERROR_TYPES } from "../mesh/metrics.js";

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
  watchdog: "Watchdog",
  alertmanagerNotificationsFailing: "AlertmanagerNotificationsFailing",
} as const;

/** Where every alert's runbook_url points: a section of docs/runbooks.md per alert (GitHub's heading anchors). */
/** Default base of every runbook_url: the file's path in this repository, until obs:alerting.runbookUrl says where it is published. */
export const RUNBOOKS_URL = "docs/runbooks.md";
export const runbookUrl = (alert: string, base: string = RUNBOOKS_URL) => `${base}#${alert.toLowerCase()}`;

export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
}

export interface AlertingRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  /** `namespace`, where set, is what Alertmanager routes by namespace on (a template of the alert's labels). */
  readonly labels: { readonly severity: "critical" | "warning" | "none"; readonly namespace?: string };
  /** Templates use only `{{ $labels.<name> }}`, so tests can expand them (see expandAnnotations). */
  readonly annotations: { readonly summary: string; readonly description: string; readonly runbook_url?: string };
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
  /** Base of every alert's runbook_url (the runbooks document; `#<alert name in lowercase>` is appended). */
  readonly runbookBaseUrl?: string;
}

export const DEFAULT_RULE_OPTIONS: Required<RuleOptions> = { errorRatio: 0.05, minRequestRate: 0.1, p99LatencyMs: 1000, runbookBaseUrl: RUNBOOKS_URL };

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
  const byIstiod = (selector: string) => `sum by (revision, pod) (rate(${selector}[5m]))`;
  const counterRising = (alert: string, metric: string, summary: string, description: string, severity: "critical" | "warning" = "warning"): AlertingRule => ({
    alert,
    expr: `sum by (revision, pod) (rate(${metric}{job="${JOBS.istiod}"}[5m])) > 0`,
    for: "10m",
    labels: { severity, namespace: ISTIO_NAMESPACE },
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
        // Per revision (the inhibitions hold back that revision's injection and xDS alerts), or no istiod target at all.
        alert: ALERTS.istiodDown,
        expr: `sum by (revision) (${PROMETHEUS.up}{job="${JOBS.istiod}"}) == 0 or absent(${PROMETHEUS.up}{job="${JOBS.istiod}"})`,
        for: "5m",
        labels: { severity: "critical", namespace: ISTIO_NAMESPACE },
        annotations: {
          summary: "No istiod of a revision is up",
          description: "No istiod of revision '{{ $labels.revision }}' (empty: no istiod target at all) has been scraped successfully for 5 minutes: new pods of its namespaces get no sidecar and its proxies no configuration updates.",
        },
      },
      {
        // Istio 1.30/1.31 count failed sends as pilot_xds_pushes{type="<cds|eds|lds|rds>_senderr"}, and errors
        // while building or serving xDS in pilot_total_xds_internal_errors; there is no pilot_xds_push_errors.
        alert: ALERTS.xdsPushErrors,
        expr: `${byIstiod(`${ISTIOD.xdsPushes}{job="${JOBS.istiod}", type=~"${XDS_SEND_ERROR_TYPES}"}`)} > 0 or ${byIstiod(`${ISTIOD.xdsInternalErrors}{job="${JOBS.istiod}"}`)} > 0`,
        for: "10m",
        labels: { severity: "warning", namespace: ISTIO_NAMESPACE },
        annotations: { summary: "istiod fails to push xDS", description: "istiod {{ $labels.pod }} (revision {{ $labels.revision }}) has failed to send xDS to proxies, or hit internal xDS errors, for 10 minutes." },
      },
      counterRising(ALERTS.xdsRejects, ISTIOD.xdsRejects, "Proxies reject istiod's configuration", "Proxies have rejected xDS from istiod {{ $labels.pod }} (revision {{ $labels.revision }}) for 10 minutes; see pilot_total_xds_rejects by type and istioctl proxy-status."),
      counterRising(ALERTS.injectionFailures, ISTIOD.injectionFailures, "Sidecar injection fails", "The injection webhook of istiod {{ $labels.pod }} (revision {{ $labels.revision }}) has failed injections for 10 minutes; pods start without a sidecar or not at all."),
    ],
    dataPlane: [
      {
        alert: ALERTS.high5xxRatio,
        expr: `${R.workload5xxRatio} > ${o.errorRatio} and ${R.workloadRequestRate} > ${o.minRequestRate}`,
        for: "5m",
        labels: { severity: "warning", namespace: "{{ $labels.destination_workload_namespace }}" },
        annotations: { summary: "Workload answers with many 5xx", description: `More than ${o.errorRatio * 100}% of the requests to {{ $labels.destination_workload_namespace }}/{{ $labels.destination_workload }} have failed with 5xx for 5 minutes.` },
      },
      {
        alert: ALERTS.highP99Latency,
        expr: `${R.workloadLatencyP99} > ${o.p99LatencyMs}`,
        for: "10m",
        labels: { severity: "warning", namespace: "{{ $labels.destination_workload_namespace }}" },
        annotations: { summary: "Workload is slow", description: `The p99 latency of {{ $labels.destination_workload_namespace }}/{{ $labels.destination_workload }} has been above ${o.p99LatencyMs} ms for 10 minutes.` },
      },
      {
        // Only REGISTRY_ONLY sends calls to BlackHoleCluster; under ALLOW_ANY this never fires.
        alert: ALERTS.outboundBlocked,
        expr: `${blocked(ISTIO.requests)} > 0 or ${blocked(ISTIO.tcpClosed)} > 0`,
        for: "5m",
        labels: { severity: "warning", namespace: "{{ $labels.source_workload_namespace }}" },
        annotations: {
          summary: "Outbound calls are blocked by REGISTRY_ONLY",
          description: "{{ $labels.source_workload_namespace }}/{{ $labels.source_workload }} has called destinations outside the mesh registry for 5 minutes; its sidecar blocks them (BlackHoleCluster). Register the destination in obs:istio.externalServices, or fix the caller.",
        },
      },
    ],
    prometheus: [
      {
        // Always firing: the dead man's switch receiver expects it; its silence means the pipeline is broken.
        alert: ALERTS.watchdog,
        expr: "vector(1)",
        labels: { severity: "none" },
        annotations: { summary: "The alert pipeline works", description: "Watchdog always fires. It goes to the dead man's switch receiver (obs:alerting.deadMansSwitch), which alarms when it stops arriving." },
      },
      {
        alert: ALERTS.alertmanagerNotificationsFailing,
        expr: `sum by (namespace, pod, receiver_name, integration) (rate(${ALERTMANAGER.notificationsFailed}[5m])) > 0`,
        for: "10m",
        labels: { severity: "warning" },
        annotations: { summary: "Alertmanager fails to notify a receiver", description: "{{ $labels.namespace }}/{{ $labels.pod }} has failed to send {{ $labels.integration }} notifications to receiver {{ $labels.receiver_name }} for 10 minutes; the alerts routed there reach no one." },
      },
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

/** Every alert of every group gets its runbook_url (the rules of each part are written without it). */
function withRunbooks(file: RuleFile, base: string): RuleFile {
  const annotate = (r: RecordingRule | AlertingRule) => ("alert" in r ? { ...r, annotations: { ...r.annotations, runbook_url: runbookUrl(r.alert, base) } } : r);
  return { groups: file.groups.map((g) => ({ ...g, rules: g.rules.map(annotate) })) };
}

export function buildRules(options: RuleOptions = {}): RuleFile {
  return withRunbooks(ruleGroups(options), options.runbookBaseUrl ?? RUNBOOKS_URL);
}

function ruleGroups(options: RuleOptions): RuleFile {
  const a = alertingRules(options);
  return {
    groups: [
      { name: "istio-mesh.rules", rules: recordingRules() },
      { name: "istio-control-plane.alerts", rules: a.controlPlane },
      { name: "istio-data-plane.alerts", rules: a.dataPlane },
      { name: "prometheus.alerts", rules: a.prometheus },
      { name: "logging.alerts", rules: loggingAlerts() },
    ],
  };
}

/** Alerts of the log pipeline (Fluentd's disk buffers) and of the certificates the stack issues. */
export const LOGGING_ALERTS = {
  fluentdBufferFilling: "FluentdBufferFilling",
  fluentdRetriesGrowing: "FluentdRetriesGrowing",
  certificateExpiring: "CertificateExpiringSoon",
} as const;

/** Share of an output's disk buffer in use above which FluentdBufferFilling fires (a full buffer pauses reading). */
export const FLUENTD_BUFFER_ALERT_PERCENT = 80;
/** CertificateExpiringSoon fires this many days before a certificate's NotAfter. */
export const CERT_EXPIRY_ALERT_DAYS = 30;

export function loggingAlerts(): AlertingRule[] {
  // Fluentd retries forever with a backoff capped at 5 minutes, so a failing output adds a retry
  // at least every 5 minutes: over 10 minutes the count always grows while the outage lasts.
  return [
    {
      alert: LOGGING_ALERTS.fluentdBufferFilling,
      expr: `${FLUENTD.bufferAvailableRatio}{type="elasticsearch"} < ${100 - FLUENTD_BUFFER_ALERT_PERCENT}`,
      for: "5m",
      labels: { severity: "warning" },
      annotations: {
        summary: `A Fluentd disk buffer is above ${FLUENTD_BUFFER_ALERT_PERCENT} %`,
        description: `Output {{ $labels.plugin_id }} of {{ $labels.namespace }}/{{ $labels.pod }} has used more than ${FLUENTD_BUFFER_ALERT_PERCENT} % of its disk buffer for 5 minutes; when it is full, Fluentd stops reading that node's logs until Elasticsearch takes them again.`,
      },
    },
    {
      alert: LOGGING_ALERTS.fluentdRetriesGrowing,
      expr: `increase(${FLUENTD.retries}{type="elasticsearch"}[10m]) > 0`,
      for: "15m",
      labels: { severity: "warning" },
      annotations: {
        summary: "Fluentd keeps retrying its writes to Elasticsearch",
        description: "Output {{ $labels.plugin_id }} of {{ $labels.namespace }}/{{ $labels.pod }} has retried its writes for 15 minutes; its logs wait in the node's disk buffer.",
      },
    },
    {
      alert: LOGGING_ALERTS.certificateExpiring,
      expr: `(${X509.notAfter} - time()) / 86400 < ${CERT_EXPIRY_ALERT_DAYS}`,
      for: "1h",
      labels: { severity: "warning" },
      annotations: {
        summary: `A certificate expires in less than ${CERT_EXPIRY_ALERT_DAYS} days`,
        description: `{{ $labels.filepath }} watched by {{ $labels.namespace }}/{{ $labels.pod }} expires in less than ${CERT_EXPIRY_ALERT_DAYS} days; an \`up\` renews the Elasticsearch certificates once they are within obs:logging.certificates.renewBeforeDays of their end.`,
      },
    },
  ];
}

export function renderRulesYaml(options: RuleOptions = {}): string {
  return stringify(buildRules(options), { lineWidth: 0, aliasDuplicateObjects: false });
}

const expandWith = (labels: Record<string, string>) => (t: string) => t.replace(/\{\{ \$labels\.([a-zA-Z_][a-zA-Z0-9_]*) \}\}/g, (_, n: string) => labels[n] ?? "");

/** An alert's annotations as Prometheus renders them for a label set (runbook_url as buildRules adds it). */
export function expandAnnotations(rule: AlertingRule, labels: Record<string, string>, runbookBaseUrl: string = RUNBOOKS_URL): Record<string, string> {
  const expand = expandWith(labels);
  return { summary: expand(rule.annotations.summary), description: expand(rule.annotations.description), runbook_url: rule.annotations.runbook_url ?? runbookUrl(rule.alert, runbookBaseUrl) };
}

/** An alert's own labels (severity, namespace) as Prometheus renders them for a label set. */
export function expandLabels(rule: AlertingRule, labels: Record<string, string>): Record<string, string> {
  const expand = expandWith(labels);
  return Object.fromEntries(Object.entries(rule.labels).map(([k, v]) => [k, expand(v)]));
}
