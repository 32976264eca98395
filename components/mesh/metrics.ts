// The mesh's metrics registry: every metric name the stack's rules, dashboards and Kiali
// settings query, the scrape job names, the scrape annotations a pod opts in with, and the
// recording rules' names, in one place. A name changed here changes in every rule, panel and
// Kiali chart, and no component imports another to learn one.
// Names are the Prometheus exposition names (counters with `_total`; histograms without the
// `_bucket`/`_sum`/`_count` suffix, see `bucket`).

/** Envoy's standard Istio metrics, as the sidecars expose them (merged on 15020 or raw on 15090). */
export const ISTIO = {
  requests: "istio_requests_total",
  requestDuration: "istio_request_duration_milliseconds",
  requestBytes: "istio_request_bytes",
  responseBytes: "istio_response_bytes",
  tcpSentBytes: "istio_tcp_sent_bytes_total",
  tcpReceivedBytes: "istio_tcp_received_bytes_total",
  tcpOpened: "istio_tcp_connections_opened_total",
  tcpClosed: "istio_tcp_connections_closed_total",
} as const;

/**
 * Envoy's synthetic clusters for outbound calls to destinations outside the mesh's registry, as
 * the `destination_service_name` (and `destination_service`) of the istio_* series: blocked under
 * REGISTRY_ONLY (HTTP answered 502 by the sidecar, TCP closed), let through unmonitored under ALLOW_ANY.
 */
export const OUTBOUND_CLUSTERS = { blackHole: "BlackHoleCluster", passthrough: "PassthroughCluster" } as const;

/** istiod's own metrics (port 15014). */
export const ISTIOD = {
  /** pushes by `type`; the failed sends are the types matched by XDS_SEND_ERROR_TYPES (cds_senderr, eds_senderr, lds_senderr, rds_senderr) */
  xdsPushes: "pilot_xds_pushes",
  /** internal errors while serving xDS (Istio 1.30/1.31: pkg/xds/monitoring.go) */
  xdsInternalErrors: "pilot_total_xds_internal_errors",
  xdsRejects: "pilot_total_xds_rejects",
  /** proxies connected to this istiod (gauge, label `version`) */
  xdsClients: "pilot_xds",
  proxyConvergence: "pilot_proxy_convergence_time",
  injectionRequests: "sidecar_injection_requests_total",
  injectionFailures: "sidecar_injection_failure_total",
  processCpu: "process_cpu_seconds_total",
  goMemory: "go_memstats_heap_inuse_bytes",
} as const;

/** The `type` values of pilot_xds_pushes that count failed sends (Istio 1.30/1.31: pilot/pkg/xds/monitoring.go). */
export const XDS_SEND_ERROR_TYPES = ".+_senderr";

/** Alertmanager's own metrics. */
export const ALERTMANAGER = {
  /** failed notifications by `integration` (webhook, slack, pagerduty, email, ...), `reason`, and `receiver_name` (with --enable-feature=receiver-name-in-metrics) */
  notificationsFailed: "alertmanager_notifications_failed_total",
} as const;

/** Prometheus's own metrics. */
export const PROMETHEUS = {
  up: "up",
  reloadSuccessful: "prometheus_config_last_reload_successful",
  headSeries: "prometheus_tsdb_head_series",
  samplesAppended: "prometheus_tsdb_head_samples_appended_total",
  compactionsFailed: "prometheus_tsdb_compactions_failed_total",
  headTruncationsFailed: "prometheus_tsdb_head_truncations_failed_total",
  walCorruptions: "prometheus_tsdb_wal_corruptions_total",
  storageBytes: "prometheus_tsdb_storage_blocks_bytes",
  scrapeDuration: "scrape_duration_seconds",
  ruleEvaluationFailures: "prometheus_rule_evaluation_failures_total",
} as const;

/** fluent-plugin-prometheus (`prometheus` and `prometheus_output_monitor` sources), port 24231: gauges of running counts, labels plugin_id and type. */
export const FLUENTD = {
  bufferBytes: "fluentd_output_status_buffer_total_bytes",
  bufferQueueLength: "fluentd_output_status_buffer_queue_length",
  retries: "fluentd_output_status_retry_count",
  errors: "fluentd_output_status_num_errors",
  emitRecords: "fluentd_output_status_emit_records",
  /** free share of an output's buffer, in percent (100 when empty; Fluentd's buffer_available_buffer_space_ratios) */
  bufferAvailableRatio: "fluentd_output_status_buffer_available_space_ratio",
} as const;

/** elasticsearch-exporter (one Deployment, `--es.all`, port 9114): cluster health, and per-node stats labelled `name`. */
export const ELASTICSEARCH = {
  /** 1 for the current colour (label `color`: green, yellow, red) */
  healthStatus: "elasticsearch_cluster_health_status",
  nodes: "elasticsearch_cluster_health_number_of_nodes",
  unassignedShards: "elasticsearch_cluster_health_unassigned_shards",
  docs: "elasticsearch_indices_docs",
  heapUsed: "elasticsearch_jvm_memory_used_bytes",
  heapMax: "elasticsearch_jvm_memory_max_bytes",
  fsAvailable: "elasticsearch_filesystem_data_available_bytes",
  fsSize: "elasticsearch_filesystem_data_size_bytes",
} as const;

/** kafka-exporter (port 9308): brokers, offsets and the Jaeger ingester's consumer lag. */
export const KAFKA = {
  brokers: "kafka_brokers",
  partitionOffset: "kafka_topic_partition_current_offset",
  underReplicated: "kafka_topic_partition_under_replicated_partition",
  consumerGroupLag: "kafka_consumergroup_lag",
} as const;

/** Jaeger v2 is an OpenTelemetry Collector: its pipeline metrics (port 8888). */
export const JAEGER = {
  acceptedSpans: "otelcol_receiver_accepted_spans_total",
  refusedSpans: "otelcol_receiver_refused_spans_total",
  sentSpans: "otelcol_exporter_sent_spans_total",
  failedSpans: "otelcol_exporter_send_failed_spans_total",
  queueSize: "otelcol_exporter_queue_size",
  queueCapacity: "otelcol_exporter_queue_capacity",
} as const;

/** kubelet and cAdvisor (scraped on the kubelet's port): what pods without an exporter (Cassandra) still show. */
export const KUBELET = {
  containerMemory: "container_memory_working_set_bytes",
  containerCpu: "container_cpu_usage_seconds_total",
  volumeUsed: "kubelet_volume_stats_used_bytes",
  volumeCapacity: "kubelet_volume_stats_capacity_bytes",
} as const;

/** The `_bucket` series of a histogram. */
export const bucket = (histogram: string): string => `${histogram}_bucket`;

/** Prometheus's scrape jobs, by role (the `job` label of every series). */
export const JOBS = {
  prometheus: "prometheus",
  istiod: "istiod",
  envoy: "envoy-stats",
  pods: "kubernetes-pods",
  podsMtls: "kubernetes-pods-istio-secure",
  serviceEndpoints: "kubernetes-service-endpoints",
  apiservers: "kubernetes-apiservers",
  nodes: "kubernetes-nodes",
  cadvisor: "kubernetes-cadvisor",
} as const;

/** Pod annotations the kubernetes-pods job honours: scrape this pod on this port (path /metrics unless prometheus.io/path says otherwise). */
export const scrapeAnnotations = (port: number): Record<string, string> => ({ "prometheus.io/scrape": "true", "prometheus.io/port": String(port) });

/** Names of the recorded series; dashboards query these instead of repeating the expressions. */
export const RECORDING_RULES = {
  /** requests/s per destination workload (labels: destination_workload_namespace, destination_workload) */
  workloadRequestRate: "destination_workload:istio_requests:rate5m",
  /** 5xx responses/s per destination workload (0 when there are none) */
  workload5xxRate: "destination_workload:istio_requests_5xx:rate5m",
  /** share of 5xx responses per destination workload, 0..1 (absent while the workload is idle) */
  workload5xxRatio: "destination_workload:istio_requests_5xx:ratio_rate5m",
  workloadLatencyP50: "destination_workload:istio_request_duration_milliseconds:p50_rate5m",
  workloadLatencyP90: "destination_workload:istio_request_duration_milliseconds:p90_rate5m",
  workloadLatencyP99: "destination_workload:istio_request_duration_milliseconds:p99_rate5m",
  /** requests/s in the whole mesh (no labels) */
  meshRequestRate: "mesh:istio_requests:rate5m",
  /** share of 5xx responses in the whole mesh, 0..1 */
  mesh5xxRatio: "mesh:istio_requests_5xx:ratio_rate5m",
  meshLatencyP99: "mesh:istio_request_duration_milliseconds:p99_rate5m",
} as const;
export type RecordingRuleName = (typeof RECORDING_RULES)[keyof typeof RECORDING_RULES];

/** x509-certificate-exporter (enix): NotAfter of each watched certificate file, Unix seconds (labels filename, filepath, subject_CN, issuer_CN). */
export const X509 = {
  notAfter: "x509_cert_not_after",
} as const;
