// Jaeger v2 is an OpenTelemetry Collector distribution: each role is one otelcol config.
// collector: Zipkin/OTLP in -> Kafka; ingester: Kafka -> Cassandra; query: UI over Cassandra.
import { AUTH_USER, KAFKA_SASL_MECHANISM, PASSWORD_ENV } from "./auth.js";
import type { JaegerConfig } from "./config.js";
import { cassandraHost, INGESTER_GROUP, kafkaBrokers, KEYSPACE, NAMES, PORTS, SPANS_ENCODING, SPANS_TOPIC } from "./topology.js";

export interface JaegerConfigInput {
  /** Namespace of Kafka and Cassandra (for their DNS names). */
  readonly namespace: string;
  /** The cluster's DNS domain (`obs:clusterDomain`), in the Kafka and Cassandra hosts. */
  readonly clusterDomain: string;
  readonly config: JaegerConfig;
}

export interface OtelcolConfig {
  extensions: Record<string, unknown>;
  receivers: Record<string, unknown>;
  processors?: Record<string, unknown>;
  exporters: Record<string, unknown>;
  service: {
    extensions: string[];
    pipelines: Record<string, { receivers: string[]; processors?: string[]; exporters: string[] }>;
    telemetry: Record<string, unknown>;
  };
}

/** Name of the storage backend in jaeger_storage, referenced by the exporter and the query. */
export const STORAGE_NAME = "cassandra";
/** Path of the healthcheckv2 status endpoint, used by the probes. */
export const HEALTH_PATH = "/status";

const anyHost = (port: number) => `0.0.0.0:${port}`;

function healthcheck(): Record<string, unknown> {
  return { use_v2: true, http: { endpoint: anyHost(PORTS.health), status: { enabled: true, path: HEALTH_PATH } } };
}

function telemetry(role: string): Record<string, unknown> {
  return {
    resource: { "service.name": role },
    logs: { level: "info" },
    metrics: { level: "detailed", readers: [{ pull: { exporter: { prometheus: { host: "0.0.0.0", port: PORTS.metrics } } } }] },
  };
}

// Refuses data before the container's memory limit is hit; percentages follow the cgroup limit.
const memoryLimiter = { check_interval: "1s", limit_percentage: 80, spike_limit_percentage: 20 };

/** otelcol expands `${env:NAME}` when it loads the config: the password comes from the pod's env (a Secret), never the ConfigMap. */
export const envRef = (name: string) => `\${env:${name}}`;

/** SASL/PLAIN login of the Kafka exporter and receiver (configkafka's `auth.sasl`). */
export function kafkaAuth(): Record<string, unknown> {
  return { sasl: { mechanism: KAFKA_SASL_MECHANISM, username: AUTH_USER, password: envRef(PASSWORD_ENV.kafka) } };
}

/** The jaeger_storage backend: Cassandra, schema created by the schema Job, never by Jaeger. */
export function cassandraBackend(input: JaegerConfigInput): Record<string, unknown> {
  const c = input.config.cassandra;
  const ttl = `${c.spanTtlHours}h`;
  return {
    cassandra: {
      schema: { keyspace: KEYSPACE, create: false, datacenter: c.datacenter, replication_factor: c.replicationFactor, trace_ttl: ttl, dependencies_ttl: ttl },
      connection: {
        servers: [cassandraHost(input.namespace, input.clusterDomain)],
        port: PORTS.cql,
        local_dc: c.datacenter,
        timeout: "10s",
        tls: { insecure: true },
        // PasswordAuthenticator only: the driver refuses to send the password to any other authenticator
        auth: { basic: { username: AUTH_USER, password: envRef(PASSWORD_ENV.cassandra), allowed_authenticators: ["org.apache.cassandra.auth.PasswordAuthenticator"] } },
      },
      query: { timeout: "10s", consistency: "LOCAL_ONE" },
    },
  };
}

function storageExtension(input: JaegerConfigInput): Record<string, unknown> {
  return { backends: { [STORAGE_NAME]: cassandraBackend(input) } };
}

export function collectorConfig(input: JaegerConfigInput): OtelcolConfig {
  return {
    extensions: { healthcheckv2: healthcheck() },
    receivers: {
      otlp: { protocols: { grpc: { endpoint: anyHost(PORTS.otlpGrpc) }, http: { endpoint: anyHost(PORTS.otlpHttp) } } },
      zipkin: { endpoint: anyHost(PORTS.zipkin) },
    },
    processors: { memory_limiter: memoryLimiter, batch: {} },
    exporters: {
      kafka: {
        brokers: kafkaBrokers(input.namespace, input.config.kafka.brokers, input.clusterDomain),
        client_id: NAMES.collector,
        auth: kafkaAuth(),
        traces: { topic: SPANS_TOPIC, encoding: SPANS_ENCODING },
        // One trace's spans land in one partition, so one ingester sees a trace in order.
        partition_traces_by_id: true,
        // The topic Job owns partitions and retention; a typo must not create a topic.
        producer: { allow_auto_topic_creation: false, required_acks: -1, compression: "snappy" },
      },
    },
    service: {
      extensions: ["healthcheckv2"],
      pipelines: { traces: { receivers: ["otlp", "zipkin"], processors: ["memory_limiter", "batch"], exporters: ["kafka"] } },
      telemetry: telemetry(NAMES.collector),
    },
  };
}

export function ingesterConfig(input: JaegerConfigInput): OtelcolConfig {
  return {
    extensions: { healthcheckv2: healthcheck(), jaeger_storage: storageExtension(input) },
    receivers: {
      kafka: {
        brokers: kafkaBrokers(input.namespace, input.config.kafka.brokers, input.clusterDomain),
        client_id: NAMES.ingester,
        auth: kafkaAuth(),
        group_id: INGESTER_GROUP,
        initial_offset: "earliest",
        traces: { topic: SPANS_TOPIC, encoding: SPANS_ENCODING },
        // At-least-once: an offset is committed after Cassandra took the spans; a message
        // that can never be decoded is skipped instead of blocking its partition.
        message_marking: { after: true, on_error: false, on_permanent_error: true },
        error_backoff: { enabled: true, initial_interval: "1s", max_interval: "30s" },
      },
    },
    // No batch processor: it would acknowledge before the write and break the marking above.
    processors: { memory_limiter: memoryLimiter },
    exporters: { jaeger_storage_exporter: { trace_storage: STORAGE_NAME } },
    service: {
      extensions: ["healthcheckv2", "jaeger_storage"],
      pipelines: { traces: { receivers: ["kafka"], processors: ["memory_limiter"], exporters: ["jaeger_storage_exporter"] } },
      telemetry: telemetry(NAMES.ingester),
    },
  };
}

export function queryConfig(input: JaegerConfigInput): OtelcolConfig {
  return {
    extensions: {
      healthcheckv2: healthcheck(),
      jaeger_storage: storageExtension(input),
      jaeger_query: { storage: { traces: STORAGE_NAME }, http: { endpoint: anyHost(PORTS.query) }, grpc: { endpoint: anyHost(PORTS.queryGrpc) } },
    },
    // otelcol needs one pipeline; the query role moves no data.
    receivers: { nop: {} },
    exporters: { nop: {} },
    service: {
      extensions: ["healthcheckv2", "jaeger_storage", "jaeger_query"],
      pipelines: { traces: { receivers: ["nop"], exporters: ["nop"] } },
      telemetry: telemetry(NAMES.query),
    },
  };
}

export const JAEGER_ROLES = { collector: collectorConfig, ingester: ingesterConfig, query: queryConfig } as const;
export type JaegerRole = keyof typeof JAEGER_ROLES;
