// Every PromQL query of the dashboards (and any other list of named queries, e.g. Kiali's) as
// a rule file for `promtool check rules`, and a `promtool test rules` file that feeds series
// shaped like Envoy's, istiod's and the stack's exporters' and requires every query to return
// data: a panel that would stay empty fails. A few main panels are also checked for exact values.
import { stringify } from "yaml";
import { bucket, ELASTICSEARCH, FLUENTD, ISTIO, ISTIOD, JAEGER, KAFKA, KUBELET, OUTBOUND_CLUSTERS, PROMETHEUS } from "../../components/mesh/metrics.js";
import { sel } from "./rule-tests.js";
import { JOBS } from "../../components/mesh/metrics.js";
import { INGESTER_GROUP, NAMES, SPANS_TOPIC } from "../../components/jaeger/topology.js";
import { type Dashboard, promQueries, substitute } from "../../components/grafana/model.js";

export interface NamedQuery {
  /** Where the query comes from, for messages (`<dashboard uid>/<panel title>`). */
  readonly source: string;
  readonly expr: string;
}

/** Every Prometheus query of the dashboards, variables replaced by their sample values. */
export function dashboardQueries(dashboards: readonly Dashboard[]): NamedQuery[] {
  return dashboards.flatMap((d) => promQueries(d).map((q) => ({ source: q.panel, expr: substitute(q.expr, d.variables) })));
}

const alertName = (i: number) => `QueryHasData${String(i).padStart(3, "0")}`;

/** One alerting rule per query, firing when the query returns at least one series. */
export function queryRules(queries: readonly NamedQuery[]): { groups: { name: string; rules: { alert: string; expr: string; annotations: { source: string } }[] }[] } {
  return { groups: [{ name: "queries-have-data", rules: queries.map((q, i) => ({ alert: alertName(i), expr: `count(${q.expr}) > 0`, annotations: { source: q.source } })) }] };
}

type Labels = Record<string, string>;
// Sampled every 30s (the stack's scrape interval), for 30 minutes: Prometheus 3's left-open
// windows need two samples inside the shortest range a query uses.
export const STEP = "30s";
const perMinute = (n: number) => `0+${n / 2}x60`;
const constant = (n: number) => `${n}x60`;

const NS = "bookinfo";
const envoy = (workload: string) => ({ job: JOBS.pods, namespace: NS, pod: `${workload}-7d9f8c-x2x4z` });

/** The labels Istio's standard metrics carry, for one caller -> callee edge as one reporter sees it. */
function istioLabels(reporter: "source" | "destination", from: string, to: string, extra: Labels = {}): Labels {
  const service = to.replace(/-v[0-9]+$/, "");
  return {
    ...envoy(reporter === "destination" ? to : from),
    reporter,
    source_workload: from,
    source_workload_namespace: NS,
    destination_workload: to,
    destination_workload_namespace: NS,
    destination_service: `${service}.${NS}.svc.cluster.local`,
    destination_service_name: service,
    destination_service_namespace: NS,
    request_protocol: "http",
    connection_security_policy: reporter === "destination" ? "mutual_tls" : "unknown",
    ...extra,
  };
}

/**
 * A call out of the mesh as the caller's sidecar reports it (no sidecar on the other side): to a
 * ServiceEntry host, or to one of Envoy's synthetic clusters for unregistered destinations (the
 * shape Istio's own outbound-traffic-policy integration tests query: destination_service_name
 * "BlackHoleCluster", HTTP response_code 502, TCP as istio_tcp_connections_closed_total).
 */
function outboundLabels(destination: string, destinationNamespace: string, extra: Labels = {}): Labels {
  return {
    ...envoy("productpage-v1"),
    reporter: "source",
    source_workload: "productpage-v1",
    source_workload_namespace: NS,
    destination_workload: "unknown",
    destination_workload_namespace: "unknown",
    destination_service: destination,
    destination_service_name: destination,
    destination_service_namespace: destinationNamespace,
    connection_security_policy: "unknown",
    ...extra,
  };
}

function histogram(name: string, labels: Labels, cumulativePerMinute: Record<string, number>): { series: string; values: string }[] {
  return Object.entries(cumulativePerMinute).map(([le, n]) => ({ series: sel(bucket(name), { ...labels, le }), values: perMinute(n) }));
}

/** Input series for every metric the dashboards query, shaped like their real exporters'. */
export function inputSeries(namespace: string): { series: string; values: string }[] {
  const edge = (reporter: "source" | "destination", code: string, perMin: number, from = "productpage-v1", to = "reviews-v1") => ({ series: sel(ISTIO.requests, istioLabels(reporter, from, to, { response_code: code })), values: perMinute(perMin) });
  const dest = istioLabels("destination", "productpage-v1", "reviews-v1", { response_code: "200" });
  const tcp = istioLabels("destination", "productpage-v1", "reviews-v1");
  const tcpClient = istioLabels("source", "productpage-v1", "reviews-v1");
  const istiod = (revision: string, pod: string) => ({ job: JOBS.istiod, namespace: "istio-system", revision, pod, instance: `${pod}:15014` });
  const old = istiod("1-30", "istiod-1-30-5c8d7b-abcde");
  const canary = istiod("1-31", "istiod-1-31-6f9a2c-fghij");
  const ns = { namespace };
  const fluentd = (pluginId: string) => ({ ...ns, job: JOBS.pods, pod: "fluentd-x7k2p", plugin_id: pluginId, type: "elasticsearch" });
  const es = { ...ns, job: JOBS.pods, pod: "elasticsearch-0", cluster: "logs", name: "elasticsearch-0" };
  const kafka = { ...ns, job: JOBS.pods, pod: "kafka-exporter-6d8f7-qwert", topic: SPANS_TOPIC };
  const otel = (pod: string, extra: Labels) => ({ ...ns, job: JOBS.pods, pod, ...extra });
  const cassandraPod = { ...ns, job: JOBS.cadvisor, pod: `${NAMES.cassandra}-0`, container: NAMES.cassandra };
  const claim = { ...ns, job: JOBS.nodes, persistentvolumeclaim: `data-${NAMES.cassandra}-0` };
  // the labels of Prometheus's own static target (selfJob): no pod
  const self = { job: JOBS.prometheus, instance: "localhost:9090" };
  return [
    // reviews: 1 req/s answered 200 and 1 req/s 503, reported by both sides.
    edge("destination", "200", 60),
    edge("destination", "503", 60),
    edge("source", "200", 60),
    edge("source", "503", 60),
    // reviews calls ratings: 0.5 req/s, all fine.
    edge("source", "200", 30, "reviews-v1", "ratings-v1"),
    edge("destination", "200", 30, "reviews-v1", "ratings-v1"),
    ...histogram(ISTIO.requestDuration, dest, { "10": 3000, "100": 5400, "1000": 5940, "+Inf": 6000 }),
    ...histogram(ISTIO.requestBytes, dest, { "100": 60, "1000": 120, "+Inf": 120 }),
    ...histogram(ISTIO.responseBytes, dest, { "1000": 60, "10000": 120, "+Inf": 120 }),
    { series: sel(ISTIO.tcpSentBytes, tcp), values: perMinute(6000) },
    { series: sel(ISTIO.tcpReceivedBytes, tcp), values: perMinute(3000) },
    { series: sel(ISTIO.tcpSentBytes, tcpClient), values: perMinute(3000) },
    { series: sel(ISTIO.tcpReceivedBytes, tcpClient), values: perMinute(6000) },
    { series: sel(ISTIO.tcpOpened, tcp), values: perMinute(6) },
    { series: sel(ISTIO.tcpClosed, tcp), values: perMinute(6) },
    // calls out of the mesh: a registered external service (one plain host, one under a wildcard
    // host) and, unregistered, blocked (REGISTRY_ONLY) and passed through (ALLOW_ANY)
    { series: sel(ISTIO.requests, outboundLabels("api.example.com", "istio-system", { request_protocol: "http", response_code: "200" })), values: perMinute(30) },
    { series: sel(ISTIO.requests, outboundLabels("eu.storage.example.net", "istio-system", { request_protocol: "http", response_code: "503" })), values: perMinute(6) },
    { series: sel(ISTIO.requests, outboundLabels(OUTBOUND_CLUSTERS.blackHole, "unknown", { request_protocol: "http", response_code: "502" })), values: perMinute(12) },
    { series: sel(ISTIO.tcpClosed, outboundLabels(OUTBOUND_CLUSTERS.blackHole, "unknown")), values: perMinute(6) },
    { series: sel(ISTIO.requests, outboundLabels(OUTBOUND_CLUSTERS.passthrough, "unknown", { request_protocol: "http", response_code: "200" })), values: perMinute(6) },
    // two revisions side by side (a canary upgrade): 5 proxies on 1-30, 3 on 1-31.
    ...[old, canary].flatMap((r) => [
      { series: sel(PROMETHEUS.up, r), values: constant(1) },
      { series: sel(ISTIOD.xdsPushes, { ...r, type: "cds" }), values: perMinute(12) },
      { series: sel(ISTIOD.xdsPushes, { ...r, type: "lds_senderr" }), values: perMinute(0) },
      { series: sel(ISTIOD.xdsInternalErrors, r), values: perMinute(0) },
      { series: sel(ISTIOD.xdsRejects, { ...r, type: "lds" }), values: perMinute(0) },
      ...histogram(ISTIOD.proxyConvergence, r, { "0.1": 50, "1": 59, "+Inf": 60 }),
      { series: sel(ISTIOD.injectionRequests, r), values: perMinute(1) },
      { series: sel(ISTIOD.injectionFailures, r), values: perMinute(0) },
      { series: sel(ISTIOD.processCpu, r), values: perMinute(6) },
      { series: sel(ISTIOD.goMemory, r), values: constant(80e6) },
    ]),
    { series: sel(ISTIOD.xdsClients, { ...old, type: "cds", version: "1.30.3" }), values: constant(5) },
    { series: sel(ISTIOD.xdsClients, { ...canary, type: "cds", version: "1.31.0" }), values: constant(3) },
    // Prometheus itself, and one target down.
    { series: sel(PROMETHEUS.up, self), values: constant(1) },
    { series: sel(PROMETHEUS.up, { job: JOBS.pods, namespace: NS, pod: "ratings-v1-0" }), values: constant(0) },
    { series: sel(PROMETHEUS.reloadSuccessful, self), values: constant(1) },
    { series: sel(PROMETHEUS.headSeries, self), values: constant(12000) },
    { series: sel(PROMETHEUS.samplesAppended, self), values: perMinute(24000) },
    { series: sel(PROMETHEUS.storageBytes, self), values: constant(5e8) },
    { series: sel(PROMETHEUS.ruleEvaluationFailures, self), values: perMinute(0) },
    { series: sel(PROMETHEUS.scrapeDuration, self), values: constant(0.05) },
    // Fluentd's two outputs on one node.
    ...["out_es_access", "out_es_logs"].flatMap((id) => [
      { series: sel(FLUENTD.emitRecords, fluentd(id)), values: perMinute(600) },
      { series: sel(FLUENTD.bufferBytes, fluentd(id)), values: constant(8e6) },
      { series: sel(FLUENTD.bufferQueueLength, fluentd(id)), values: constant(1) },
      { series: sel(FLUENTD.retries, fluentd(id)), values: constant(0) },
      { series: sel(FLUENTD.errors, fluentd(id)), values: perMinute(0) },
    ]),
    // Elasticsearch through its exporter: a yellow single-node cluster.
    ...["green", "yellow", "red"].map((color) => ({ series: sel(ELASTICSEARCH.healthStatus, { ...es, color }), values: constant(color === "yellow" ? 1 : 0) })),
    { series: sel(ELASTICSEARCH.nodes, es), values: constant(1) },
    { series: sel(ELASTICSEARCH.unassignedShards, es), values: constant(4) },
    { series: sel(ELASTICSEARCH.docs, es), values: constant(123456) },
    { series: sel(ELASTICSEARCH.heapUsed, { ...es, area: "heap" }), values: constant(256e6) },
    { series: sel(ELASTICSEARCH.heapMax, { ...es, area: "heap" }), values: constant(512e6) },
    { series: sel(ELASTICSEARCH.fsAvailable, { ...es, mount: "/usr/share/elasticsearch/data" }), values: constant(1.5e9) },
    { series: sel(ELASTICSEARCH.fsSize, { ...es, mount: "/usr/share/elasticsearch/data" }), values: constant(2e9) },
    // Kafka through kafka-exporter.
    { series: sel(KAFKA.brokers, { ...ns, job: JOBS.pods, pod: kafka.pod }), values: constant(1) },
    ...["0", "1", "2"].flatMap((partition) => [
      { series: sel(KAFKA.partitionOffset, { ...kafka, partition }), values: perMinute(100) },
      { series: sel(KAFKA.underReplicated, { ...kafka, partition }), values: constant(0) },
      { series: sel(KAFKA.consumerGroupLag, { ...kafka, partition, consumergroup: INGESTER_GROUP }), values: constant(7) },
    ]),
    // Jaeger: the collector receives Zipkin and writes Kafka; the ingester reads Kafka and writes Cassandra.
    { series: sel(JAEGER.acceptedSpans, otel("jaeger-collector-0", { receiver: "zipkin", transport: "http" })), values: perMinute(600) },
    { series: sel(JAEGER.refusedSpans, otel("jaeger-collector-0", { receiver: "zipkin", transport: "http" })), values: perMinute(0) },
    { series: sel(JAEGER.sentSpans, otel("jaeger-collector-0", { exporter: "kafka" })), values: perMinute(600) },
    { series: sel(JAEGER.failedSpans, otel("jaeger-collector-0", { exporter: "kafka" })), values: perMinute(0) },
    { series: sel(JAEGER.queueSize, otel("jaeger-collector-0", { exporter: "kafka" })), values: constant(10) },
    { series: sel(JAEGER.queueCapacity, otel("jaeger-collector-0", { exporter: "kafka" })), values: constant(1000) },
    { series: sel(JAEGER.acceptedSpans, otel("jaeger-ingester-0", { receiver: "kafka", transport: "" })), values: perMinute(600) },
    { series: sel(JAEGER.sentSpans, otel("jaeger-ingester-0", { exporter: "jaeger_storage_exporter" })), values: perMinute(600) },
    { series: sel(JAEGER.failedSpans, otel("jaeger-ingester-0", { exporter: "jaeger_storage_exporter" })), values: perMinute(0) },
    // Cassandra, seen by cAdvisor and the kubelet.
    { series: sel(KUBELET.containerMemory, cassandraPod), values: constant(1.2e9) },
    { series: sel(KUBELET.containerCpu, cassandraPod), values: perMinute(30) },
    { series: sel(KUBELET.volumeUsed, claim), values: constant(2e8) },
    { series: sel(KUBELET.volumeCapacity, claim), values: constant(1e9) },
  ];
}

export interface ExactCheck {
  readonly expr: string;
  readonly samples: readonly { readonly labels: string; readonly value: number }[];
}

/**
 * The `promtool test rules` file: every query must fire its QueryHasData alert at 10m, and the
 * exact checks must give their values. `ruleFiles` are the recording rules file and the query rules.
 */
export function queryTests(ruleFiles: readonly string[], queries: readonly NamedQuery[], namespace: string, exact: readonly ExactCheck[] = []): Record<string, unknown> {
  return {
    rule_files: ruleFiles,
    evaluation_interval: "1m",
    tests: [
      {
        name: "every dashboard and Kiali query returns data",
        interval: STEP,
        input_series: inputSeries(namespace),
        alert_rule_test: queries.map((q, i) => ({ eval_time: "10m", alertname: alertName(i), exp_alerts: [{ exp_labels: {}, exp_annotations: { source: q.source } }] })),
        promql_expr_test: exact.map((e) => ({ expr: e.expr, eval_time: "10m", exp_samples: e.samples })),
      },
    ],
  };
}

export const renderYaml = (doc: unknown): string => stringify(doc, { lineWidth: 0, aliasDuplicateObjects: false });
