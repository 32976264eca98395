// A `promtool test rules` file for the rule file of rules.ts: input series shaped like what
// Envoy (istio_requests_total, istio_request_duration_milliseconds) and istiod expose, and
// the values and alerts the rules must produce from them.
import { stringify } from "yaml";
import { ISTIO, ISTIOD, JOBS, OUTBOUND_CLUSTERS, RECORDING_RULES as R } from "../../components/mesh/metrics.js";
import { ALERTS, type AlertingRule, alertingRules, expandAnnotations, expandLabels, type RuleOptions } from "../../components/prometheus/rules.js";
import { RULES_FILE } from "../../components/prometheus/scrape.js";

type Labels = Record<string, string>;

interface InputSeries {
  readonly series: string;
  readonly values: string;
}

interface Sample {
  readonly labels: string;
  readonly value: number;
}

export interface RuleTestFile {
  readonly rule_files: readonly string[];
  readonly evaluation_interval: string;
  readonly tests: readonly {
    readonly name: string;
    readonly interval: string;
    readonly input_series: readonly InputSeries[];
    readonly promql_expr_test?: readonly { readonly expr: string; readonly eval_time: string; readonly exp_samples: readonly Sample[] }[];
    readonly alert_rule_test?: readonly { readonly eval_time: string; readonly alertname: string; readonly exp_alerts: readonly { readonly exp_labels: Labels; readonly exp_annotations: Labels }[] }[];
  }[];
}

/** A series selector with exact label values, as promtool input series and expectations write it. */
export const sel = (name: string, labels: Labels) => `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(", ")}}`;
// Per minute, so the 5m rates come out as whole numbers and promtool compares them exactly.
const perMinute = (n: number) => `0+${n}x30`;

const BOOKINFO = "bookinfo";
// The sidecar that reports: the destination's for reporter="destination", the client's otherwise.
const envoyTarget = (workload: string) => ({ job: JOBS.pods, namespace: BOOKINFO, pod: `${workload}-7d9f8c-x2x4z` });

function requests(workload: string, code: string, reporter: "source" | "destination", perMin: number): InputSeries {
  const labels = {
    ...envoyTarget(reporter === "destination" ? workload : "productpage-v1"),
    reporter,
    source_workload: "productpage-v1",
    source_workload_namespace: BOOKINFO,
    destination_workload: workload,
    destination_workload_namespace: BOOKINFO,
    destination_service: `${workload.replace(/-v[0-9]+$/, "")}.${BOOKINFO}.svc.cluster.local`,
    request_protocol: "http",
    response_code: code,
    connection_security_policy: reporter === "destination" ? "mutual_tls" : "unknown",
  };
  return { series: sel("istio_requests_total", labels), values: perMinute(perMin) };
}

/** A call out of the mesh, reported by the caller's sidecar only (nothing answers on the other side). */
function outbound(metric: string, from: string, destination: string, extra: Labels, perMin: number): InputSeries {
  const labels = {
    ...envoyTarget(from),
    reporter: "source",
    source_workload: from,
    source_workload_namespace: BOOKINFO,
    destination_workload: "unknown",
    destination_workload_namespace: "unknown",
    destination_service: destination,
    destination_service_name: destination,
    destination_service_namespace: "unknown",
    connection_security_policy: "unknown",
    ...extra,
  };
  return { series: sel(metric, labels), values: perMinute(perMin) };
}

/** Cumulative bucket counts per minute, by upper bound. */
function durations(workload: string, cumulative: Record<string, number>): InputSeries[] {
  return Object.entries(cumulative).map(([le, n]) => ({
    series: sel("istio_request_duration_milliseconds_bucket", { ...envoyTarget(workload), reporter: "destination", destination_workload: workload, destination_workload_namespace: BOOKINFO, response_code: "200", le }),
    values: perMinute(n),
  }));
}

export function buildRuleTests(rulesFile: string = RULES_FILE, options: RuleOptions = {}): RuleTestFile {
  const all = alertingRules(options);
  const rule = (name: string): AlertingRule => [...all.controlPlane, ...all.dataPlane, ...all.prometheus].find((r) => r.alert === name)!;
  const alert = (name: string, labels: Labels) => ({ exp_labels: { ...labels, ...expandLabels(rule(name), labels) }, exp_annotations: expandAnnotations(rule(name), labels) });
  const istiod = { job: JOBS.istiod, namespace: "istio-system", pod: "istiod-1-27-5c8d7b-abcde", revision: "1-27", instance: "10.1.0.5:15014" };
  const istiodInternal = { job: JOBS.istiod, namespace: "istio-system", pod: "istiod-1-29-4b8c2d-klmno", revision: "1-29", instance: "10.1.0.7:15014" };
  const istiodOk = { job: JOBS.istiod, namespace: "istio-system", pod: "istiod-1-28-7f6d9c-fghij", revision: "1-28", instance: "10.1.0.6:15014" };
  const reviews = { destination_workload: "reviews-v1", destination_workload_namespace: BOOKINFO };
  const ratings = { destination_workload: "ratings-v1", destination_workload_namespace: BOOKINFO };
  const details = { destination_workload: "details-v1", destination_workload_namespace: BOOKINFO };
  const self = { job: JOBS.prometheus, instance: "localhost:9090" };
  const alertmanagerPod = { job: JOBS.pods, namespace: "observability", pod: "alertmanager-0", instance: "10.1.0.9:9093" };
  const sample = (name: string, labels: Labels, value: number): Sample => ({ labels: sel(name, labels), value });

  return {
    rule_files: [rulesFile],
    evaluation_interval: "1m",
    tests: [
      {
        name: "mesh recording rules, 5xx and latency alerts, istiod down",
        interval: "1m",
        input_series: [
          // reviews: 1 req/s 200 and 1 req/s 503 as its sidecar reports them ...
          requests("reviews-v1", "200", "destination", 60),
          requests("reviews-v1", "503", "destination", 60),
          // ... and the client's view of the same requests, which the rules must not count again.
          requests("reviews-v1", "200", "source", 60),
          requests("reviews-v1", "503", "source", 60),
          // ratings: 2 req/s, all fine.
          requests("ratings-v1", "200", "destination", 120),
          // reviews latency: half within 10 ms, 90% within 100 ms, 99% within 1 s.
          ...durations("reviews-v1", { "10": 3000, "100": 5400, "1000": 5940, "5000": 6000, "+Inf": 6000 }),
          // details: every request between 1 s and 5 s.
          ...durations("details-v1", { "10": 0, "100": 0, "1000": 0, "5000": 6000, "+Inf": 6000 }),
          // istiod scraped but down, failing pushes meanwhile.
          { series: sel("up", istiod), values: "0x30" },
          { series: sel(ISTIOD.xdsPushes, { ...istiod, type: "lds_senderr" }), values: perMinute(3) },
          // a healthy istiod of another revision: pushes that succeed, no internal errors
          { series: sel(ISTIOD.xdsPushes, { ...istiodOk, type: "cds" }), values: perMinute(30) },
          { series: sel(ISTIOD.xdsInternalErrors, istiodOk), values: "0x30" },
          // an istiod whose sends succeed but which hits internal xDS errors
          { series: sel(ISTIOD.xdsInternalErrors, istiodInternal), values: perMinute(2) },
        ],
        promql_expr_test: [
          { expr: R.workloadRequestRate, eval_time: "10m", exp_samples: [sample(R.workloadRequestRate, ratings, 2), sample(R.workloadRequestRate, reviews, 2)] },
          { expr: R.workload5xxRate, eval_time: "10m", exp_samples: [sample(R.workload5xxRate, ratings, 0), sample(R.workload5xxRate, reviews, 1)] },
          { expr: R.workload5xxRatio, eval_time: "10m", exp_samples: [sample(R.workload5xxRatio, ratings, 0), sample(R.workload5xxRatio, reviews, 0.5)] },
          { expr: sel(R.workloadLatencyP50, reviews), eval_time: "10m", exp_samples: [sample(R.workloadLatencyP50, reviews, 10)] },
          { expr: sel(R.workloadLatencyP90, reviews), eval_time: "10m", exp_samples: [sample(R.workloadLatencyP90, reviews, 100)] },
          { expr: sel(R.workloadLatencyP99, reviews), eval_time: "10m", exp_samples: [sample(R.workloadLatencyP99, reviews, 1000)] },
          { expr: R.meshRequestRate, eval_time: "10m", exp_samples: [{ labels: R.meshRequestRate, value: 4 }] },
          { expr: R.mesh5xxRatio, eval_time: "10m", exp_samples: [{ labels: R.mesh5xxRatio, value: 0.25 }] },
        ],
        alert_rule_test: [
          { eval_time: "15m", alertname: ALERTS.istiodDown, exp_alerts: [alert(ALERTS.istiodDown, { revision: istiod.revision })] },
          { eval_time: "15m", alertname: ALERTS.xdsPushErrors, exp_alerts: [alert(ALERTS.xdsPushErrors, { revision: istiod.revision, pod: istiod.pod }), alert(ALERTS.xdsPushErrors, { revision: istiodInternal.revision, pod: istiodInternal.pod })] },
          // Pending, not firing, before `for` has passed.
          { eval_time: "3m", alertname: ALERTS.high5xxRatio, exp_alerts: [] },
          { eval_time: "15m", alertname: ALERTS.high5xxRatio, exp_alerts: [alert(ALERTS.high5xxRatio, reviews)] },
          { eval_time: "15m", alertname: ALERTS.highP99Latency, exp_alerts: [alert(ALERTS.highP99Latency, details)] },
          { eval_time: "15m", alertname: ALERTS.targetDown, exp_alerts: [alert(ALERTS.targetDown, istiod)] },
        ],
      },
      {
        // The shape of Istio's own outbound-traffic-policy integration tests: blocked HTTP calls are
        // istio_requests_total{destination_service_name="BlackHoleCluster", response_code="502"},
        // blocked TCP istio_tcp_connections_closed_total with the same destination.
        name: "calls blocked by REGISTRY_ONLY alert per calling workload; passthrough does not",
        interval: "1m",
        input_series: [
          outbound(ISTIO.requests, "productpage-v1", OUTBOUND_CLUSTERS.blackHole, { request_protocol: "http", response_code: "502" }, 6),
          outbound(ISTIO.tcpClosed, "reviews-v1", OUTBOUND_CLUSTERS.blackHole, {}, 2),
          outbound(ISTIO.requests, "details-v1", OUTBOUND_CLUSTERS.passthrough, { request_protocol: "http", response_code: "200" }, 6),
        ],
        alert_rule_test: [
          { eval_time: "3m", alertname: ALERTS.outboundBlocked, exp_alerts: [] },
          {
            eval_time: "15m",
            alertname: ALERTS.outboundBlocked,
            exp_alerts: [alert(ALERTS.outboundBlocked, { source_workload: "productpage-v1", source_workload_namespace: BOOKINFO }), alert(ALERTS.outboundBlocked, { source_workload: "reviews-v1", source_workload_namespace: BOOKINFO })],
          },
        ],
      },
      {
        name: "quiet when istiod is up and Prometheus healthy",
        interval: "1m",
        input_series: [
          { series: sel("up", istiod), values: "1x30" },
          { series: sel("prometheus_config_last_reload_successful", self), values: "1x30" },
          { series: sel("prometheus_tsdb_compactions_failed_total", self), values: "0x30" },
        ],
        alert_rule_test: [
          { eval_time: "15m", alertname: ALERTS.istiodDown, exp_alerts: [] },
          { eval_time: "15m", alertname: ALERTS.targetDown, exp_alerts: [] },
          { eval_time: "15m", alertname: ALERTS.configReloadFailed, exp_alerts: [] },
          { eval_time: "15m", alertname: ALERTS.tsdbCompactionsFailing, exp_alerts: [] },
        ],
      },
      {
        // the labels Alertmanager 0.35 gives the counter (integration, reason; receiver_name with
        // --enable-feature=receiver-name-in-metrics) and those the kubernetes-pods job adds
        name: "Alertmanager failing to notify a receiver",
        interval: "1m",
        input_series: [
          { series: sel("alertmanager_notifications_failed_total", { ...alertmanagerPod, integration: "slack", reason: "clientError", receiver_name: "platform" }), values: perMinute(2) },
          { series: sel("alertmanager_notifications_failed_total", { ...alertmanagerPod, integration: "webhook", reason: "other", receiver_name: "deadmans" }), values: "0x30" },
        ],
        alert_rule_test: [
          { eval_time: "5m", alertname: ALERTS.alertmanagerNotificationsFailing, exp_alerts: [] },
          { eval_time: "15m", alertname: ALERTS.alertmanagerNotificationsFailing, exp_alerts: [alert(ALERTS.alertmanagerNotificationsFailing, { namespace: "observability", pod: "alertmanager-0", receiver_name: "platform", integration: "slack" })] },
        ],
      },
      {
        name: "Prometheus reload and TSDB failures",
        interval: "1m",
        input_series: [
          { series: sel("prometheus_config_last_reload_successful", self), values: "0x30" },
          { series: sel("prometheus_tsdb_compactions_failed_total", self), values: "0 0 0 0 0 1 1 1 1 1" },
          { series: sel("prometheus_tsdb_wal_corruptions_total", self), values: "0x30" },
        ],
        alert_rule_test: [
          { eval_time: "15m", alertname: ALERTS.configReloadFailed, exp_alerts: [alert(ALERTS.configReloadFailed, self)] },
          { eval_time: "8m", alertname: ALERTS.tsdbCompactionsFailing, exp_alerts: [alert(ALERTS.tsdbCompactionsFailing, self)] },
          { eval_time: "8m", alertname: ALERTS.tsdbWalCorruptions, exp_alerts: [] },
        ],
      },
    ],
  };
}

export function renderRuleTestsYaml(rulesFile: string = RULES_FILE, options: RuleOptions = {}): string {
  return stringify(buildRuleTests(rulesFile, options), { lineWidth: 0, aliasDuplicateObjects: false });
}
