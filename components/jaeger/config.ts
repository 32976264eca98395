// The `obs:jaeger` section: the tracing backend (Kafka buffer, Cassandra store, Jaeger roles).
import { bool, type Infer, type Issue, num, obj, str, resources, storageClassName, volumeSize } from "../../lib/schema.js";
import { takeSecrets } from "../../lib/secrets.js";
import { KAFKA_PASSWORD_FORBIDDEN } from "./auth.js";
import { jvmBytes, quantityBytes } from "../../lib/units.js";


/** JVM heap, in the -Xmx / MAX_HEAP_SIZE form. */
const heap = (doc: string, d: string) => str({ doc, default: d, pattern: /^[1-9][0-9]*[MG]$/, patternDoc: "a JVM heap size such as 512M or 2G" });
const storageClass = (doc: string) => storageClassName({ doc, default: "" });
const count = (doc: string, d: number, max: number) => num({ doc, default: d, min: 1, max, integer: true });

const shape = {
  kafka: obj(
    {
      brokers: count("Kafka brokers (KRaft: each is also a controller, so an odd number: 1, 3, 5...)", 1, 9),
      storageSize: volumeSize({ doc: "log volume per broker", default: "20Gi" }),
      storageClass: storageClass("StorageClass of the broker volumes (empty: the cluster default)"),
      replicationFactor: count("replication factor of the span topic and Kafka's internal topics", 1, 9),
      partitions: count("partitions of the span topic (the ceiling on useful ingester replicas)", 6, 1000),
      retentionHours: count("how long spans stay in the topic when the ingesters fall behind", 24, 8760),
      heap: heap("broker JVM heap (below the memory limit)", "1G"),
      resources: resources("broker resources", { cpu: "250m", memory: "1536Mi" }, { cpu: "2", memory: "2Gi" }),
    },
    { doc: "Kafka (KRaft, no ZooKeeper): the buffer between collectors and ingesters" },
  ),
  cassandra: obj(
    {
      nodes: count("Cassandra nodes", 1, 9),
      storageSize: volumeSize({ doc: "data volume per node", default: "50Gi" }),
      storageClass: storageClass("StorageClass of the node volumes (empty: the cluster default)"),
      replicationFactor: count("replication factor of the `jaeger` keyspace", 1, 9),
      spanTtlHours: count("span retention: the tables' default TTL", 48, 8760),
      heap: heap("node JVM heap (MAX_HEAP_SIZE; below the memory limit)", "1G"),
      datacenter: str({ doc: "datacenter name (GossipingPropertyFileSnitch), used by NetworkTopologyStrategy", default: "dc1", pattern: /^[A-Za-z0-9_]+$/, patternDoc: "letters, digits and _" }),
      clusterName: str({ doc: "Cassandra cluster name (cannot change once data exists)", default: "jaeger" }),
      resources: resources("node resources", { cpu: "500m", memory: "2Gi" }, { cpu: "2", memory: "3Gi" }),
    },
    { doc: "Cassandra: the span store" },
  ),
  collector: obj(
    {
      replicas: count("collector replicas (Zipkin/OTLP in, Kafka out)", 1, 50),
      resources: resources("collector resources", { cpu: "100m", memory: "256Mi" }, { cpu: "1", memory: "1Gi" }),
    },
    { doc: "jaeger-collector" },
  ),
  ingester: obj(
    {
      replicas: count("ingester replicas (Kafka in, Cassandra out); at most kafka.partitions", 1, 50),
      resources: resources("ingester resources", { cpu: "100m", memory: "256Mi" }, { cpu: "1", memory: "1Gi" }),
    },
    { doc: "jaeger-ingester" },
  ),
  query: obj(
    {
      replicas: count("query/UI replicas", 1, 20),
      resources: resources("query resources", { cpu: "100m", memory: "256Mi" }, { cpu: "1", memory: "512Mi" }),
      expose: bool({ doc: "Service type LoadBalancer for the UI instead of ClusterIP", default: false }),
    },
    { doc: "jaeger-query (UI and API on 16686)" },
  ),
};

/** The schema of `obs:jaeger`. */
export const jaegerSchema = obj(shape, { doc: "Jaeger v2 with Kafka and Cassandra" });

export type JaegerConfig = Infer<typeof shape>;
export type ResourcesConfig = JaegerConfig["collector"]["resources"];

const KEY = "obs:jaeger";

/** Checks that span more than one field of `obs:jaeger`; pushes one issue per problem. */
export function checkJaeger(cfg: JaegerConfig, issues: Issue[]): void {
  const { kafka, cassandra, ingester } = cfg;
  // every broker is also a KRaft controller: an even count tolerates no more failures than one less
  if (kafka.brokers % 2 === 0) {
    issues.push({ key: `${KEY}.kafka.brokers`, value: kafka.brokers, allowed: `an odd number (1, 3, 5, 7 or 9): each broker is also a KRaft controller, and ${kafka.brokers} voters survive no more failures than ${kafka.brokers - 1}` });
  }
  if (kafka.partitions < ingester.replicas) {
    issues.push({ key: `${KEY}.kafka.partitions`, value: kafka.partitions, allowed: `>= ${KEY}.ingester.replicas (${ingester.replicas}): an ingester without a partition sits idle` });
  }
  if (kafka.replicationFactor > kafka.brokers) {
    issues.push({ key: `${KEY}.kafka.replicationFactor`, value: kafka.replicationFactor, allowed: `<= ${KEY}.kafka.brokers (${kafka.brokers})` });
  }
  if (cassandra.replicationFactor > cassandra.nodes) {
    issues.push({ key: `${KEY}.cassandra.replicationFactor`, value: cassandra.replicationFactor, allowed: `<= ${KEY}.cassandra.nodes (${cassandra.nodes})` });
  }
  for (const [part, c] of [["kafka", kafka], ["cassandra", cassandra]] as const) {
    const heapBytes = jvmBytes(c.heap, `${KEY}.${part}.heap`, issues);
    const limit = quantityBytes(c.resources.limits.memory, `${KEY}.${part}.resources.limits.memory`, issues);
    if (heapBytes !== undefined && limit !== undefined && heapBytes >= limit) {
      issues.push({ key: `${KEY}.${part}.heap`, value: c.heap, allowed: `less than ${KEY}.${part}.resources.limits.memory (${c.resources.limits.memory}): the JVM needs room beside its heap` });
    }
  }
}

/**
 * Secret keys of `obs:jaeger` (Pulumi secrets, required): the password of the `jaeger` user
 * on Kafka's SASL/PLAIN listener, and of the `jaeger` role in Cassandra (PasswordAuthenticator).
 */
export const JAEGER_SECRET_KEYS = ["kafkaPassword", "cassandraPassword"] as const;
export type JaegerSecrets = Record<(typeof JAEGER_SECRET_KEYS)[number], string>;

/** Takes the secret keys out of raw `obs:jaeger`; each is required and checked as a password. */
export function takeJaegerSecrets(raw: unknown, issues: Issue[]): { rest: unknown; secrets?: JaegerSecrets } {
  const taken = takeSecrets(raw, KEY, JAEGER_SECRET_KEYS, issues);
  const s = taken.secrets;
  if (s && KAFKA_PASSWORD_FORBIDDEN.test(s.kafkaPassword)) issues.push({ key: `${KEY}.kafkaPassword`, value: "(secret)", allowed: 'a password without " or \\ (it is quoted in Kafka\'s JAAS config)' });
  for (const k of JAEGER_SECRET_KEYS) {
    if (s && s[k].trim() !== s[k]) issues.push({ key: `${KEY}.${k}`, value: "(secret)", allowed: "a password without leading or trailing spaces (cqlsh's credentials file and the properties files trim them)" });
  }
  return taken;
}

/** Parses and cross-checks one `obs:jaeger` value on its own (tests, tools). */
export function parseJaegerConfig(raw: unknown, key = "obs:jaeger"): { config: JaegerConfig | undefined; issues: Issue[] } {
  const issues: Issue[] = [];
  const config = jaegerSchema.parse(raw, key, issues);
  if (config) checkJaeger(config, issues);
  return { config: issues.length ? undefined : config, issues };
}
