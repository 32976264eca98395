// The dashboards this project ships, as typed definitions: the mesh (overview, service,
// workload, control plane) and the stack's own health (Prometheus, Fluentd, Elasticsearch,
// Kafka, Cassandra, Jaeger). Queries use the recording rules where they exist and otherwise
// the metric registry, so a renamed metric is renamed in every panel.
import { ELASTICSEARCH, FLUENTD, ISTIO, ISTIOD, JAEGER, JOBS, KAFKA, KUBELET, OUTBOUND_CLUSTERS, PROMETHEUS, RECORDING_RULES as R, XDS_SEND_ERROR_TYPES } from "../mesh/metrics.js";
import { type Dashboard, DATASOURCES as DS, type LogsPanel, type PromPanel, type Row, type TracesPanel, type Unit, type Variable } from "./model.js";
import { accessField, eq, K8S_FIELDS, quantile, rate, re, sel, sumBy } from "./promql.js";

export interface DashboardInput {
  /** Namespace of the stack's own components (Fluentd, Elasticsearch, Kafka, Cassandra, Jaeger). */
  readonly namespace: string;
  /** Elasticsearch is deployed: its dashboard and the log panels are included. */
  readonly logging: boolean;
  /** The cluster's DNS domain (`obs:clusterDomain`): Envoy names upstream clusters by Service FQDN. */
  readonly clusterDomain: string;
  /** What the tracing backend's panels select on, handed over by the composition root. */
  readonly jaeger: JaegerNames;
  /** Hosts of the ServiceEntries the stack registers (`obs:istio.externalServices`; `*.` wildcards allowed). */
  readonly externalHosts: readonly string[];
}

/** A PromQL regex (inside a double-quoted matcher) matching any of the hosts; `*.` matches any subdomain. */
export function hostsRegex(hosts: readonly string[]): string {
  return hosts.map((h) => h.replace(/[.]/g, "\\\\.").replace(/^\*/, ".+")).join("|");
}

/** Calls out of the mesh: to the registered external services, and to destinations outside the registry. */
function outboundRow(i: DashboardInput): Row {
  const out = [eq("reporter", "source")];
  const unregistered = re("destination_service_name", `${OUTBOUND_CLUSTERS.blackHole}|${OUTBOUND_CLUSTERS.passthrough}`);
  const panels: PromPanel[] = [];
  if (i.externalHosts.length) {
    panels.push(
      series("External services by response code", "Requests to the ServiceEntry hosts of obs:istio.externalServices, as the calling sidecars report them.", "reqps", {
        expr: sumBy(["destination_service", "response_code"], rate(sel(ISTIO.requests, ...out, re("destination_service", hostsRegex(i.externalHosts))))),
        legend: "{{destination_service}} {{response_code}}",
      }),
    );
  }
  panels.push(
    series(
      "Blocked and passthrough calls",
      `Calls to destinations outside the mesh registry: ${OUTBOUND_CLUSTERS.blackHole} under REGISTRY_ONLY (blocked: HTTP 502, TCP closed), ${OUTBOUND_CLUSTERS.passthrough} under ALLOW_ANY (let through, unmonitored). Either means a ServiceEntry is missing.`,
      "ops",
      { expr: sumBy(["destination_service_name", "source_workload_namespace", "source_workload"], rate(sel(ISTIO.requests, ...out, unregistered))), legend: "HTTP {{destination_service_name}} from {{source_workload_namespace}}/{{source_workload}}" },
      { expr: sumBy(["destination_service_name", "source_workload_namespace", "source_workload"], rate(sel(ISTIO.tcpClosed, ...out, unregistered))), legend: "TCP {{destination_service_name}} from {{source_workload_namespace}}/{{source_workload}}" },
    ),
  );
  return { title: "Outbound", panels };
}

/** Names of the tracing backend's objects that its dashboard queries. */
export interface JaegerNames {
  /** Kafka topic the collectors write spans to. */
  readonly spansTopic: string;
  /** Consumer group of the ingesters. */
  readonly ingesterGroup: string;
  /** Cassandra's StatefulSet (and container) name. */
  readonly cassandra: string;
}

const prom = (kind: "timeseries" | "stat", title: string, description: string, unit: Unit, targets: PromPanel["targets"], extra: Partial<PromPanel> = {}): PromPanel => ({ kind, title, description, datasource: DS.prometheus, unit, targets, ...extra });
const series = (title: string, description: string, unit: Unit, ...targets: PromPanel["targets"]) => prom("timeseries", title, description, unit, targets);
const stat = (title: string, description: string, unit: Unit, expr: string, extra: Partial<PromPanel> = {}) => prom("stat", title, description, unit, [{ expr }], { width: 6, ...extra });
const logs = (title: string, description: string, datasource: LogsPanel["datasource"], query: string): LogsPanel => ({ kind: "logs", title, description, datasource, query, width: 24 });

const RED_ABOVE = (warn: number, crit: number) => [[0, "green"], [warn, "yellow"], [crit, "red"]] as const;

// ---- mesh ----

const DEST = [eq("reporter", "destination")];
const WORKLOAD_BY = ["destination_workload_namespace", "destination_workload"];
const WORKLOAD_LEGEND = "{{destination_workload_namespace}}/{{destination_workload}}";

function meshOverview(i: DashboardInput): Dashboard {
  const rows: Row[] = [
    {
      title: "Mesh",
      panels: [
        stat("Requests/s", "All requests in the mesh, as the receiving sidecars report them.", "reqps", R.meshRequestRate),
        stat("5xx ratio", "Share of requests answered with 5xx.", "percentunit", R.mesh5xxRatio, { thresholds: RED_ABOVE(0.01, 0.05) }),
        stat("p99 latency", "99th percentile of request duration over the whole mesh.", "ms", R.meshLatencyP99),
        stat("istiod up", "istiod pods answering scrapes, all revisions.", "short", `sum(${sel(PROMETHEUS.up, eq("job", JOBS.istiod))})`, { thresholds: [[0, "red"], [1, "green"]] }),
      ],
    },
    {
      title: "Workloads",
      panels: [
        series("Requests/s by workload (top 10)", "Busiest destination workloads.", "reqps", { expr: `topk(10, ${R.workloadRequestRate})`, legend: WORKLOAD_LEGEND }),
        series("5xx ratio by workload", "Share of 5xx per destination workload.", "percentunit", { expr: R.workload5xxRatio, legend: WORKLOAD_LEGEND }),
        series("p99 latency by workload", "99th percentile request duration per destination workload.", "ms", { expr: R.workloadLatencyP99, legend: WORKLOAD_LEGEND }),
        series(
          "TCP bytes/s by workload",
          "TCP traffic received and sent by destination workloads.",
          "Bps",
          { expr: sumBy(WORKLOAD_BY, rate(sel(ISTIO.tcpReceivedBytes, ...DEST))), legend: `received ${WORKLOAD_LEGEND}` },
          { expr: sumBy(WORKLOAD_BY, rate(sel(ISTIO.tcpSentBytes, ...DEST))), legend: `sent ${WORKLOAD_LEGEND}` },
        ),
      ],
    },
  ];
  rows.push(outboundRow(i));
  if (i.logging) rows.push({ title: "Access log", panels: [logs("5xx responses", "Envoy access-log lines with a 5xx response code.", DS.accessLogs, `${accessField("response_code")}:[500 TO 599]`)] });
  return { uid: "obs-mesh-overview", title: "Mesh / Overview", folder: "Mesh", description: "Traffic, errors and latency of the whole mesh.", tags: ["istio", "mesh"], variables: [], rows };
}

const NAMESPACE_VAR = (metric: string, label: string): Variable => ({ name: "namespace", label: "Namespace", metric, labelName: label, sample: "bookinfo" });

function meshService(i: DashboardInput): Dashboard {
  const svc = [...DEST, eq("destination_service_namespace", "$namespace"), eq("destination_service_name", "$service")];
  const requests = sel(ISTIO.requests, ...svc);
  const rows: Row[] = [
    {
      title: "Service",
      panels: [
        series("Requests/s by response code", "Requests to the service, by response code.", "reqps", { expr: sumBy(["response_code"], rate(requests)), legend: "{{response_code}}" }),
        series("Success ratio", "Share of requests not answered with 5xx.", "percentunit", { expr: `${sumBy([], rate(sel(ISTIO.requests, ...svc, re("response_code", "[^5].*"))))} / ${sumBy([], rate(requests))}`, legend: "success" }),
        series(
          "Latency",
          "Request duration percentiles at the receiving sidecars.",
          "ms",
          { expr: quantile(0.5, ISTIO.requestDuration, svc), legend: "p50" },
          { expr: quantile(0.9, ISTIO.requestDuration, svc), legend: "p90" },
          { expr: quantile(0.99, ISTIO.requestDuration, svc), legend: "p99" },
        ),
        series("Inbound by source workload", "Who calls the service.", "reqps", { expr: sumBy(["source_workload_namespace", "source_workload"], rate(requests)), legend: "{{source_workload_namespace}}/{{source_workload}}" }),
        series(
          "Request and response size (p90)",
          "90th percentile of request and response bodies.",
          "bytes",
          { expr: quantile(0.9, ISTIO.requestBytes, svc), legend: "request" },
          { expr: quantile(0.9, ISTIO.responseBytes, svc), legend: "response" },
        ),
        series(
          "TCP connections",
          "TCP connections opened and closed per second.",
          "ops",
          { expr: sumBy([], rate(sel(ISTIO.tcpOpened, ...svc))), legend: "opened" },
          { expr: sumBy([], rate(sel(ISTIO.tcpClosed, ...svc))), legend: "closed" },
        ),
      ],
    },
    {
      title: "Traces",
      panels: [{ kind: "traces", title: "Slow traces", description: "Traces through the service that took at least 500 ms (Jaeger).", datasource: DS.jaeger, service: "$service.$namespace", minDuration: "500ms", width: 24 } satisfies TracesPanel],
    },
  ];
  if (i.logging) rows.push({ title: "Access log", panels: [logs("Calls to the service", "Access-log lines of clients calling the service.", DS.accessLogs, `${accessField("upstream_cluster")}:*$service.$namespace.svc.${i.clusterDomain}`)] });
  return {
    uid: "obs-mesh-service",
    title: "Mesh / Service",
    folder: "Mesh",
    description: "One service: traffic by response code, latency, callers, traces and access log.",
    tags: ["istio", "mesh"],
    variables: [
      NAMESPACE_VAR(sel(ISTIO.requests, ...DEST), "destination_service_namespace"),
      { name: "service", label: "Service", metric: sel(ISTIO.requests, ...DEST, eq("destination_service_namespace", "$namespace")), labelName: "destination_service_name", sample: "reviews" },
    ],
    rows,
  };
}

function meshWorkload(): Dashboard {
  const wl = [eq("destination_workload_namespace", "$namespace"), eq("destination_workload", "$workload")];
  const rule = (name: string) => sel(name, ...wl);
  return {
    uid: "obs-mesh-workload",
    title: "Mesh / Workload",
    folder: "Mesh",
    description: "One workload: inbound traffic, errors and latency (recording rules), and where it calls out to.",
    tags: ["istio", "mesh"],
    variables: [
      NAMESPACE_VAR(R.workloadRequestRate, "destination_workload_namespace"),
      { name: "workload", label: "Workload", metric: sel(R.workloadRequestRate, eq("destination_workload_namespace", "$namespace")), labelName: "destination_workload", sample: "reviews-v1" },
    ],
    rows: [
      {
        title: "Inbound",
        panels: [
          series("Requests/s", "Requests received by the workload.", "reqps", { expr: rule(R.workloadRequestRate), legend: "requests" }, { expr: rule(R.workload5xxRate), legend: "5xx" }),
          series("5xx ratio", "Share of 5xx among the workload's responses.", "percentunit", { expr: rule(R.workload5xxRatio), legend: "5xx ratio" }),
          series(
            "Latency",
            "Request duration percentiles (recording rules).",
            "ms",
            { expr: rule(R.workloadLatencyP50), legend: "p50" },
            { expr: rule(R.workloadLatencyP90), legend: "p90" },
            { expr: rule(R.workloadLatencyP99), legend: "p99" },
          ),
          series("Inbound by source workload", "Who calls the workload.", "reqps", { expr: sumBy(["source_workload_namespace", "source_workload"], rate(sel(ISTIO.requests, ...DEST, ...wl))), legend: "{{source_workload_namespace}}/{{source_workload}}" }),
        ],
      },
      {
        title: "Outbound",
        panels: [
          series(
            "Outbound by destination service",
            "Requests the workload sends, as its own sidecar reports them.",
            "reqps",
            { expr: sumBy(["destination_service", "response_code"], rate(sel(ISTIO.requests, eq("reporter", "source"), eq("source_workload_namespace", "$namespace"), eq("source_workload", "$workload")))), legend: "{{destination_service}} {{response_code}}" },
          ),
          series(
            "TCP bytes/s",
            "TCP traffic received and sent by the workload.",
            "Bps",
            { expr: sumBy([], rate(sel(ISTIO.tcpReceivedBytes, ...DEST, ...wl))), legend: "received" },
            { expr: sumBy([], rate(sel(ISTIO.tcpSentBytes, ...DEST, ...wl))), legend: "sent" },
          ),
        ],
      },
    ],
  };
}

function controlPlane(): Dashboard {
  const rev = [eq("job", JOBS.istiod), re("revision", "$revision")];
  const byRev = (metric: string) => sumBy(["revision"], rate(sel(metric, ...rev)));
  return {
    uid: "obs-control-plane",
    title: "Mesh / Control plane",
    folder: "Mesh",
    description: "istiod per revision: connected proxies, xDS pushes and errors, convergence, injection. Revisions side by side during a canary upgrade.",
    tags: ["istio", "istiod"],
    variables: [{ name: "revision", label: "Revision", metric: sel(PROMETHEUS.up, eq("job", JOBS.istiod)), labelName: "revision", sample: ".*", includeAll: true }],
    rows: [
      {
        title: "Revisions",
        panels: [
          stat("istiod pods up", "istiod pods answering scrapes in the selected revisions.", "short", `sum(${sel(PROMETHEUS.up, ...rev)})`, { thresholds: [[0, "red"], [1, "green"]] }),
          series("Connected proxies by revision", "Proxies connected to each revision's istiod: a canary move shifts them from one to the other.", "short", { expr: sumBy(["revision"], sel(ISTIOD.xdsClients, ...rev)), legend: "{{revision}}" }),
          series("xDS pushes/s by type", "Configuration pushed to proxies.", "ops", { expr: sumBy(["revision", "type"], rate(sel(ISTIOD.xdsPushes, ...rev))), legend: "{{revision}} {{type}}" }),
          series(
            "Push errors and rejects/s",
            "Failed xDS sends (pilot_xds_pushes of the *_senderr types), istiod's internal xDS errors, and configuration the proxies refused.",
            "ops",
            { expr: sumBy(["revision"], rate(sel(ISTIOD.xdsPushes, ...rev, re("type", XDS_SEND_ERROR_TYPES)))), legend: "send errors {{revision}}" },
            { expr: byRev(ISTIOD.xdsInternalErrors), legend: "internal errors {{revision}}" },
            { expr: byRev(ISTIOD.xdsRejects), legend: "rejects {{revision}}" },
          ),
          series("Proxy convergence p99", "Time from a configuration change to the proxies having it.", "s", { expr: quantile(0.99, ISTIOD.proxyConvergence, rev, ["revision"]), legend: "{{revision}}" }),
          series("Sidecar injections/s", "Injection webhook calls and failures.", "ops", { expr: byRev(ISTIOD.injectionRequests), legend: "requests {{revision}}" }, { expr: byRev(ISTIOD.injectionFailures), legend: "failures {{revision}}" }),
        ],
      },
      {
        title: "Resources",
        panels: [
          series("istiod CPU", "CPU seconds per second, per pod.", "short", { expr: sumBy(["revision", "pod"], rate(sel(ISTIOD.processCpu, ...rev))), legend: "{{pod}}" }),
          series("istiod heap in use", "Go heap in use, per pod.", "bytes", { expr: sumBy(["revision", "pod"], sel(ISTIOD.goMemory, ...rev)), legend: "{{pod}}" }),
        ],
      },
    ],
  };
}

// ---- the stack's own health ----

const stack = (uid: string, title: string, description: string, rows: Row[]): Dashboard => ({ uid: `obs-stack-${uid}`, title: `Stack / ${title}`, folder: "Stack", description, tags: ["observability-stack", uid], variables: [], rows });

// Prometheus scrapes itself as a static target: its series carry job and instance, no pod.
const SELF_LEGEND = "{{instance}}";

function prometheusHealth(): Dashboard {
  const self = eq("job", JOBS.prometheus);
  return stack("prometheus", "Prometheus", "The stack's Prometheus: targets, ingestion, storage and rule evaluation.", [
    {
      title: "Targets",
      panels: [
        stat("Config reloaded", "1 when the last configuration reload succeeded.", "none", `min(${sel(PROMETHEUS.reloadSuccessful, self)})`, { mappings: { "0": "failed", "1": "ok" }, thresholds: [[0, "red"], [1, "green"]] }),
        stat("Targets down", "Scrape targets that did not answer the last scrape.", "short", `count(${PROMETHEUS.up} == 0) or vector(0)`, { thresholds: [[0, "green"], [1, "red"]] }),
        series("Targets up by job", "Targets answering, per scrape job.", "short", { expr: sumBy(["job"], PROMETHEUS.up), legend: "{{job}}" }),
        series("Slowest scrape by job", "Longest scrape of each job.", "s", { expr: `max by (job) (${PROMETHEUS.scrapeDuration})`, legend: "{{job}}" }),
      ],
    },
    {
      title: "Storage",
      panels: [
        series("Head series", "Active series in memory.", "short", { expr: sel(PROMETHEUS.headSeries, self), legend: SELF_LEGEND }),
        series("Samples appended/s", "Ingestion rate.", "ops", { expr: rate(sel(PROMETHEUS.samplesAppended, self)), legend: SELF_LEGEND }),
        series("Block storage", "Bytes of persisted blocks (retention works on this).", "bytes", { expr: sel(PROMETHEUS.storageBytes, self), legend: SELF_LEGEND }),
        series("Rule evaluation failures/s", "Recording and alerting rules that failed to evaluate.", "ops", { expr: sumBy([], rate(sel(PROMETHEUS.ruleEvaluationFailures, self))), legend: "failures" }),
      ],
    },
  ]);
}

function fluentdHealth(i: DashboardInput): Dashboard {
  // The output monitor also reports the relabel and rewrite-tag outputs: only the Elasticsearch ones ship records.
  const ns = [eq("namespace", i.namespace), eq("type", "elasticsearch")].join(", ");
  return stack("fluentd", "Fluentd", "The Fluentd DaemonSet: records shipped, buffers, retries and errors per output.", [
    {
      title: "Outputs",
      panels: [
        series("Records emitted/s by output", "Records each output plugin writes.", "ops", { expr: sumBy(["plugin_id"], rate(sel(FLUENTD.emitRecords, ns))), legend: "{{plugin_id}}" }),
        series("Buffer bytes by node", "Disk buffer in use on each node: growth means Elasticsearch is not keeping up.", "bytes", { expr: sumBy(["pod"], sel(FLUENTD.bufferBytes, ns)), legend: "{{pod}}" }),
        series("Buffer queue length", "Chunks waiting to be flushed.", "short", { expr: sumBy(["plugin_id"], sel(FLUENTD.bufferQueueLength, ns)), legend: "{{plugin_id}}" }),
        series("Retries and errors", "Pending retries, and errors per second.", "short", { expr: sumBy(["plugin_id"], sel(FLUENTD.retries, ns)), legend: "retries {{plugin_id}}" }, { expr: sumBy(["plugin_id"], rate(sel(FLUENTD.errors, ns))), legend: "errors/s {{plugin_id}}" }),
      ],
    },
  ]);
}

function elasticsearchHealth(i: DashboardInput): Dashboard {
  const ns = eq("namespace", i.namespace);
  const heap = [ns, eq("area", "heap")];
  return stack("elasticsearch", "Elasticsearch", "The log store: cluster health, nodes, shards, heap and disk.", [
    {
      title: "Cluster",
      panels: [
        stat("Cluster health", "green, yellow or red, as the cluster reports it.", "none", `max(${sel(ELASTICSEARCH.healthStatus, ns, eq("color", "green"))}) * 2 + max(${sel(ELASTICSEARCH.healthStatus, ns, eq("color", "yellow"))})`, {
          mappings: { "0": "red", "1": "yellow", "2": "green" },
          thresholds: [[0, "red"], [1, "yellow"], [2, "green"]],
        }),
        stat("Nodes", "Nodes in the cluster.", "short", `max(${sel(ELASTICSEARCH.nodes, ns)})`),
        stat("Unassigned shards", "Shards without a node: replicas cannot be placed, or data is missing.", "short", `max(${sel(ELASTICSEARCH.unassignedShards, ns)})`, { thresholds: [[0, "green"], [1, "yellow"]] }),
        stat("Documents", "Documents in all indices.", "short", `max(${sel(ELASTICSEARCH.docs, ns)})`),
      ],
    },
    {
      title: "Nodes",
      panels: [
        series("Heap used", "JVM heap in use as a share of the maximum, per node.", "percentunit", { expr: `${sumBy(["name"], sel(ELASTICSEARCH.heapUsed, ...heap))} / ${sumBy(["name"], sel(ELASTICSEARCH.heapMax, ...heap))}`, legend: "{{name}}" }),
        series("Disk available", "Free share of each node's data volume; Elasticsearch stops allocating at the high watermark (90% used).", "percentunit", {
          expr: `${sumBy(["name"], sel(ELASTICSEARCH.fsAvailable, ns))} / ${sumBy(["name"], sel(ELASTICSEARCH.fsSize, ns))}`,
          legend: "{{name}}",
        }),
      ],
    },
    { title: "Logs", panels: [logs("Errors of the stack's pods", "Container log lines mentioning an error in the stack's namespace.", DS.podLogs, `${K8S_FIELDS.namespace}:"${i.namespace}" AND (log:error OR log:ERROR OR log:Exception)`)] },
  ]);
}

function kafkaHealth(i: DashboardInput): Dashboard {
  const ns = eq("namespace", i.namespace);
  return stack("kafka", "Kafka", "The span buffer: brokers, the spans topic and the ingesters' lag.", [
    {
      title: "Spans topic",
      panels: [
        stat("Brokers", "Brokers the exporter sees.", "short", `max(${sel(KAFKA.brokers, ns)})`),
        stat("Under-replicated partitions", "Partitions of the spans topic with a replica behind.", "short", `sum(${sel(KAFKA.underReplicated, ns, eq("topic", i.jaeger.spansTopic))})`, { thresholds: [[0, "green"], [1, "red"]] }),
        series("Messages written/s", "Span batches the collectors write to the topic.", "ops", { expr: sumBy([], rate(sel(KAFKA.partitionOffset, ns, eq("topic", i.jaeger.spansTopic)))), legend: i.jaeger.spansTopic }),
        series("Ingester lag", "Messages the ingesters have not stored yet; growth means Cassandra or the ingesters are behind.", "short", { expr: sumBy(["partition"], sel(KAFKA.consumerGroupLag, ns, eq("consumergroup", i.jaeger.ingesterGroup), eq("topic", i.jaeger.spansTopic))), legend: "partition {{partition}}" }),
      ],
    },
  ]);
}

function cassandraHealth(i: DashboardInput): Dashboard {
  const pods = [eq("namespace", i.namespace), re("pod", `${i.jaeger.cassandra}-[0-9]+`), eq("container", i.jaeger.cassandra)];
  const claims = [eq("namespace", i.namespace), re("persistentvolumeclaim", `data-${i.jaeger.cassandra}-[0-9]+`)];
  const storage = [eq("namespace", i.namespace), eq("exporter", "jaeger_storage_exporter")];
  return stack("cassandra", "Cassandra", "The span store: node resources from the kubelet, and the writes the ingesters make.", [
    {
      title: "Nodes",
      panels: [
        series("Memory working set", "Per node (heap, off-heap and page cache in use).", "bytes", { expr: sumBy(["pod"], sel(KUBELET.containerMemory, ...pods)), legend: "{{pod}}" }),
        series("CPU", "CPU seconds per second, per node.", "short", { expr: sumBy(["pod"], rate(sel(KUBELET.containerCpu, ...pods))), legend: "{{pod}}" }),
        series("Data volume used", "Share of each node's data volume in use.", "percentunit", { expr: `${sumBy(["persistentvolumeclaim"], sel(KUBELET.volumeUsed, ...claims))} / ${sumBy(["persistentvolumeclaim"], sel(KUBELET.volumeCapacity, ...claims))}`, legend: "{{persistentvolumeclaim}}" }),
      ],
    },
    {
      title: "Writes",
      panels: [series("Span writes/s", "Spans the ingesters stored, and the ones that failed.", "ops", { expr: sumBy([], rate(sel(JAEGER.sentSpans, ...storage))), legend: "stored" }, { expr: sumBy([], rate(sel(JAEGER.failedSpans, ...storage))), legend: "failed" })],
    },
  ]);
}

function jaegerHealth(i: DashboardInput): Dashboard {
  const ns = eq("namespace", i.namespace);
  return stack("jaeger", "Jaeger", "Collector, ingester and query: spans in, spans out, queues.", [
    {
      title: "Pipeline",
      panels: [
        series("Spans received/s", "Accepted and refused spans, per receiver (zipkin, otlp on the collector; kafka on the ingester).", "ops", { expr: sumBy(["receiver"], rate(sel(JAEGER.acceptedSpans, ns))), legend: "accepted {{receiver}}" }, { expr: sumBy(["receiver"], rate(sel(JAEGER.refusedSpans, ns))), legend: "refused {{receiver}}" }),
        series("Spans exported/s", "Sent and failed spans, per exporter (kafka on the collector, storage on the ingester).", "ops", { expr: sumBy(["exporter"], rate(sel(JAEGER.sentSpans, ns))), legend: "sent {{exporter}}" }, { expr: sumBy(["exporter"], rate(sel(JAEGER.failedSpans, ns))), legend: "failed {{exporter}}" }),
        series("Exporter queue fill", "Sending queue in use as a share of its capacity; at 1 spans are dropped.", "percentunit", { expr: `${sumBy(["exporter", "pod"], sel(JAEGER.queueSize, ns))} / ${sumBy(["exporter", "pod"], sel(JAEGER.queueCapacity, ns))}`, legend: "{{exporter}} {{pod}}" }),
      ],
    },
  ]);
}

/** Every dashboard of the stack, for its configuration. */
export function buildDashboards(i: DashboardInput): Dashboard[] {
  return [
    meshOverview(i),
    meshService(i),
    meshWorkload(),
    controlPlane(),
    prometheusHealth(),
    ...(i.logging ? [fluentdHealth(i), elasticsearchHealth(i)] : []),
    kafkaHealth(i),
    cassandraHealth(i),
    jaegerHealth(i),
  ];
}
