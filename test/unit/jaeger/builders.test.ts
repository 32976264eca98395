// The pure builders: the three otelcol configs, the Kafka broker settings and topic Job, the
// Cassandra env and schema; above all that they agree with each other.
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import type { Issue } from "../../../lib/schema.js";
import { cassandraEnv, heapNewSize, replication, SCHEMA_TABLES, schemaCql, schemaJobScript, schemaWaitScript, seedHosts, spanCompactionMinutes } from "../../../components/jaeger/cassandra.js";
import { type JaegerConfig, jaegerSchema } from "../../../components/jaeger/config.js";
import { cassandraBackend, collectorConfig, ingesterConfig, queryConfig, STORAGE_NAME } from "../../../components/jaeger/jaeger-config.js";
import { kafkaClusterId, kafkaEnv, kafkaEnvName, kafkaProperties, minInSyncReplicas, quorumVoters, retentionMs, topicJobScript, topicWaitScript } from "../../../components/jaeger/kafka.js";
import { KAFKA_EXPORTER_HEALTH_PATH, kafkaExporterArgs, kafkaExporterDeploymentSpec, kafkaVersion } from "../../../components/jaeger/kafka-exporter.js";
import { script } from "../../../components/jaeger/shell.js";
import { IMAGES, INGESTER_GROUP, KEYSPACE, SPANS_TOPIC } from "../../../components/jaeger/topology.js";
import { zipkinHost } from "../../../components/jaeger/index.js";

const NS = "observability";
const DOMAIN = "cluster.local";
function config(raw: Record<string, unknown> = {}): JaegerConfig {
  const issues: Issue[] = [];
  const c = jaegerSchema.parse(raw, "obs:jaeger", issues);
  expect(issues).toEqual([]);
  return c!;
}
const prod = () => config({ kafka: { brokers: 3, replicationFactor: 3, partitions: 12, retentionHours: 72 }, cassandra: { nodes: 3, replicationFactor: 3, spanTtlHours: 168 }, ingester: { replicas: 3 } });
const input = (c = config()) => ({ namespace: NS, clusterDomain: DOMAIN, config: c });
const envValue = (env: { name: string; value?: string }[], name: string) => env.find((e) => e.name === name)?.value;

describe("Jaeger otelcol configs", () => {
  it("collector: OTLP and Zipkin (:9411) in, batched, out to the span topic on every broker", () => {
    const c = collectorConfig(input(prod()));
    expect(c.receivers.zipkin).toEqual({ endpoint: "0.0.0.0:9411" });
    expect(c.receivers.otlp).toEqual({ protocols: { grpc: { endpoint: "0.0.0.0:4317" }, http: { endpoint: "0.0.0.0:4318" } } });
    expect(c.service.pipelines.traces).toEqual({ receivers: ["otlp", "zipkin"], processors: ["memory_limiter", "batch"], exporters: ["kafka"] });
    expect(c.exporters.kafka).toMatchObject({
      brokers: [0, 1, 2].map((i) => `kafka-${i}.kafka.${NS}.svc.cluster.local:9092`),
      traces: { topic: SPANS_TOPIC, encoding: "otlp_proto" },
      producer: { allow_auto_topic_creation: false },
    });
  });

  it("ingester reads exactly what the collector writes and stores it in Cassandra", () => {
    const c = collectorConfig(input());
    const i = ingesterConfig(input());
    const exporter = c.exporters.kafka as any;
    const receiver = i.receivers.kafka as any;
    expect(receiver.traces).toEqual(exporter.traces);
    expect(receiver.brokers).toEqual(exporter.brokers);
    expect(receiver.group_id).toBe("jaeger-ingester");
    expect(receiver.initial_offset).toBe("earliest");
    expect(i.service.pipelines.traces).toEqual({ receivers: ["kafka"], processors: ["memory_limiter"], exporters: ["jaeger_storage_exporter"] });
    expect(i.exporters.jaeger_storage_exporter).toEqual({ trace_storage: STORAGE_NAME });
    expect(Object.keys((i.extensions.jaeger_storage as any).backends)).toEqual([STORAGE_NAME]);
    expect(i.service.extensions).toContain("jaeger_storage");
  });

  it("query serves the UI on 16686 from the same Cassandra backend, moving no data", () => {
    const q = queryConfig(input());
    expect((q.extensions.jaeger_query as any).storage).toEqual({ traces: STORAGE_NAME });
    expect((q.extensions.jaeger_query as any).http).toEqual({ endpoint: "0.0.0.0:16686" });
    expect((q.extensions.jaeger_storage as any).backends).toEqual((ingesterConfig(input()).extensions.jaeger_storage as any).backends);
    expect(q.service.pipelines.traces).toEqual({ receivers: ["nop"], exporters: ["nop"] });
  });

  it("every role has healthcheckv2 on 13133 and declares each component it uses", () => {
    for (const c of [collectorConfig(input()), ingesterConfig(input()), queryConfig(input())]) {
      expect((c.extensions.healthcheckv2 as any).http.endpoint).toBe("0.0.0.0:13133");
      expect(new Set(c.service.extensions)).toEqual(new Set(Object.keys(c.extensions)));
      const p = c.service.pipelines.traces!;
      for (const r of p.receivers) expect(c.receivers).toHaveProperty([r]);
      for (const e of p.exporters) expect(c.exporters).toHaveProperty([e]);
      for (const x of p.processors ?? []) expect(c.processors).toHaveProperty([x]);
      // survives a YAML round trip unchanged (what the ConfigMap carries)
      expect(parse(stringify(c))).toEqual(c);
    }
  });

  it("Cassandra backend never creates schema and uses the schema Job's keyspace and TTL", () => {
    const c = prod();
    const b = cassandraBackend(input(c)).cassandra as any;
    expect(b.schema.create).toBe(false);
    expect(b.schema.trace_ttl).toBe("168h");
    expect(b.connection.servers).toEqual([`cassandra.${NS}.svc.cluster.local`]);
    expect(b.connection.local_dc).toBe(c.cassandra.datacenter);
    const cqlKeyspace = /CREATE KEYSPACE IF NOT EXISTS (\w+)/.exec(schemaCql(c.cassandra))![1];
    expect(b.schema.keyspace).toBe(cqlKeyspace);
    expect(cqlKeyspace).toBe(KEYSPACE);
  });
});

describe("Kafka (KRaft)", () => {
  it("maps properties to the image's KAFKA_* names", () => {
    expect(kafkaEnvName("process.roles")).toBe("KAFKA_PROCESS_ROLES");
    expect(kafkaEnvName("log.dirs")).toBe("KAFKA_LOG_DIRS");
    expect(kafkaEnvName("some_prop.with-dash")).toBe("KAFKA_SOME__PROP_WITH___DASH");
  });

  it("runs every broker as a controller, voters built from the broker count, no ZooKeeper", () => {
    const p = kafkaProperties({ namespace: NS, clusterDomain: DOMAIN, config: prod().kafka });
    expect(p["process.roles"]).toBe("broker,controller");
    expect(p["controller.quorum.voters"]).toBe(quorumVoters(NS, 3, DOMAIN));
    expect(quorumVoters(NS, 3, DOMAIN)).toBe([0, 1, 2].map((i) => `${i}@kafka-${i}.kafka.${NS}.svc.cluster.local:9093`).join(","));
    expect(Object.keys(p).some((k) => k.includes("zookeeper"))).toBe(false);
    expect(p["default.replication.factor"]).toBe("3");
    expect(p["min.insync.replicas"]).toBe("2");
    expect(p["offsets.topic.replication.factor"]).toBe("3");
    expect(p["auto.create.topics.enable"]).toBe("false");
  });

  it("takes node.id from the pod ordinal and advertises the pod's own DNS name", () => {
    const env = kafkaEnv({ namespace: NS, clusterDomain: DOMAIN, config: config().kafka });
    expect(env.find((e) => e.name === "KAFKA_NODE_ID")!.valueFrom!.fieldRef!.fieldPath).toBe("metadata.labels['apps.kubernetes.io/pod-index']");
    // POD_NAME is defined before the variable that expands it
    expect(env.findIndex((e) => e.name === "POD_NAME")).toBeLessThan(env.findIndex((e) => e.name === "KAFKA_ADVERTISED_LISTENERS"));
    expect(envValue(env, "KAFKA_ADVERTISED_LISTENERS")).toBe(`SASL://$(POD_NAME).kafka.${NS}.svc.cluster.local:9092`);
    expect(envValue(env, "KAFKA_HEAP_OPTS")).toBe("-Xms1G -Xmx1G");
    expect(envValue(env, "CLUSTER_ID")).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(new Set(env.map((e) => e.name)).size).toBe(env.length);
  });

  it("derives a stable cluster id per namespace", () => {
    expect(kafkaClusterId(NS)).toBe(kafkaClusterId(NS));
    expect(kafkaClusterId(NS)).not.toBe(kafkaClusterId("other"));
    expect(Buffer.from(kafkaClusterId(NS), "base64url")).toHaveLength(16);
  });

  it("keeps a write majority in sync", () => {
    expect([1, 2, 3, 5].map(minInSyncReplicas)).toEqual([1, 1, 2, 3]);
  });

  it("topic Job: bounded broker wait, idempotent create with partitions, replication and retention, retried", () => {
    const s = topicJobScript({ namespace: NS, clusterDomain: DOMAIN, config: prod().kafka });
    expect(s).toMatch(/wait_for \d+ "3 broker\(s\) at \$B" brokers_up/);
    expect(s).toContain(`--create --if-not-exists --topic "$T" --partitions 12 --replication-factor 3 --config retention.ms=${retentionMs(72)}`);
    expect(s).toContain(`T=${SPANS_TOPIC}`);
    expect(s).toMatch(/^retry 5 .*kafka-topics\.sh .*--create/m);
    expect(s).toMatch(/--alter --topic "\$T" --partitions 12/);
    expect(s).toContain(`--add-config retention.ms=${72 * 3600 * 1000}`);
    expect(s).toContain(`B='${[0, 1, 2].map((i) => `kafka-${i}.kafka.${NS}.svc.cluster.local:9092`).join(",")}'`);
    expect(topicWaitScript({ namespace: NS, clusterDomain: DOMAIN, config: prod().kafka }, 300)).toContain(`--describe --topic ${SPANS_TOPIC}`);
  });
});

describe("kafka-exporter", () => {
  const spec = (c = config()) => kafkaExporterDeploymentSpec({ namespace: NS, clusterDomain: DOMAIN, config: c.kafka, labels: { "app.kubernetes.io/name": "kafka-exporter", "app.kubernetes.io/part-of": "jaeger" }, selector: { "app.kubernetes.io/name": "kafka-exporter" } }) as any;

  it("bootstraps from every broker the collector and ingester use, on the brokers' own protocol version", () => {
    const args = kafkaExporterArgs({ namespace: NS, clusterDomain: DOMAIN, config: prod().kafka });
    const servers = args.filter((a) => a.startsWith("--kafka.server=")).map((a) => a.slice("--kafka.server=".length));
    expect(servers).toEqual((collectorConfig(input(prod())).exporters.kafka as any).brokers);
    expect(servers).toEqual((ingesterConfig(input(prod())).receivers.kafka as any).brokers);
    expect(args).toContain("--kafka.version=4.1.0");
    expect(args).toContain("--web.listen-address=:9308");
    // no filter: the span topic and the ingesters' group are exported with the rest
    expect(args.some((a) => /--(topic|group)\.(filter|exclude)/.test(a))).toBe(false);
    expect([SPANS_TOPIC, INGESTER_GROUP]).toEqual(["jaeger-spans", "jaeger-ingester"]);
  });

  it("reads the protocol version from the broker image tag and refuses a tag without one", () => {
    expect(IMAGES.kafka).toBe("apache/kafka:4.1.0");
    expect(kafkaVersion()).toBe("4.1.0");
    expect(kafkaVersion("registry:5000/apache/kafka:3.9.1-rc1")).toBe("3.9.1");
    expect(() => kafkaVersion("apache/kafka:latest")).toThrow(/cannot read a Kafka version/);
  });

  it("one non-root replica, scraped on 9308, no sidecar, ready on its health path, small", () => {
    const s = spec();
    expect(s.replicas).toBe(1);
    expect(s.selector.matchLabels).toEqual({ "app.kubernetes.io/name": "kafka-exporter" });
    // out of the mesh by the label istiod's webhook selects on, not the deprecated annotation
    expect(s.template.metadata.annotations).toEqual({ "prometheus.io/scrape": "true", "prometheus.io/port": "9308" });
    expect(s.template.metadata.labels["sidecar.istio.io/inject"]).toBe("false");
    const pod = s.template.spec;
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65534 });
    expect(pod.containers).toHaveLength(1);
    const c = pod.containers[0];
    expect(c.image).toBe("danielqsj/kafka-exporter:v1.9.0");
    expect(c.ports).toEqual([{ name: "metrics", containerPort: 9308 }]);
    expect(c.readinessProbe.httpGet).toEqual({ path: KAFKA_EXPORTER_HEALTH_PATH, port: "metrics" });
    expect(KAFKA_EXPORTER_HEALTH_PATH).toBe("/healthz");
    expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" } });
    expect(c.resources).toEqual({ requests: { cpu: "10m", memory: "32Mi", "ephemeral-storage": "16Mi" }, limits: { cpu: "200m", memory: "128Mi", "ephemeral-storage": "64Mi" } });
  });
});

describe("Cassandra", () => {
  it("seeds from the first pods, cluster and datacenter from config, heap in pairs", () => {
    expect(seedHosts(NS, 1, DOMAIN)).toEqual([`cassandra-0.cassandra.${NS}.svc.cluster.local`]);
    expect(seedHosts(NS, 3, DOMAIN)).toEqual([0, 1].map((i) => `cassandra-${i}.cassandra.${NS}.svc.cluster.local`));
    const env = cassandraEnv({ namespace: NS, clusterDomain: DOMAIN, config: prod().cassandra });
    expect(envValue(env, "CASSANDRA_SEEDS")).toBe(seedHosts(NS, 3, DOMAIN).join(","));
    expect(envValue(env, "CASSANDRA_CLUSTER_NAME")).toBe("jaeger");
    expect(envValue(env, "CASSANDRA_DC")).toBe("dc1");
    expect(envValue(env, "CASSANDRA_ENDPOINT_SNITCH")).toBe("GossipingPropertyFileSnitch");
    expect(envValue(env, "MAX_HEAP_SIZE")).toBe("1G");
    expect(envValue(env, "HEAP_NEWSIZE")).toBe("256M");
    expect(heapNewSize("4G")).toBe("1024M");
  });

  it("replicates with SimpleStrategy on one node and per datacenter on more", () => {
    expect(replication(config().cassandra)).toBe("{'class': 'SimpleStrategy', 'replication_factor': 1}");
    expect(replication(prod().cassandra)).toBe("{'class': 'NetworkTopologyStrategy', 'dc1': 3}");
  });

  it("schema: idempotent keyspace, types and every table the backend uses, TTL from config", () => {
    const c = prod().cassandra;
    const cql = schemaCql(c);
    expect(cql).toContain(`CREATE KEYSPACE IF NOT EXISTS jaeger WITH replication = ${replication(c)};`);
    expect(cql).toContain(`ALTER KEYSPACE jaeger WITH replication = ${replication(c)};`);
    for (const t of ["traces", "service_names", "operation_names_v2", "service_operation_index", "service_name_index", "duration_index", "tag_index", "dependencies_v2", "operation_throughput", "sampling_probabilities", "leases"]) {
      expect(cql).toContain(`CREATE TABLE IF NOT EXISTS jaeger.${t} (`);
    }
    for (const t of ["keyvalue", "log", "span_ref", "process", "dependency"]) expect(cql).toContain(`CREATE TYPE IF NOT EXISTS jaeger.${t} (`);
    expect(cql).not.toMatch(/CREATE (TABLE|TYPE|KEYSPACE) (?!IF NOT EXISTS)/);
    const ttl = 168 * 3600;
    expect(cql.match(new RegExp(`default_time_to_live = ${ttl}`, "g"))!.length).toBeGreaterThanOrEqual(16);
    expect(cql).not.toMatch(/default_time_to_live = (?!604800)\d+/);
    expect(cql).toContain(`'compaction_window_size': '${spanCompactionMinutes(168)}'`);
    expect(cql).toContain(`ALTER TABLE jaeger.traces WITH`);
    // user types are keyspace-qualified inside types and bare inside tables
    expect(cql).toContain("fields frozen<list<frozen<jaeger.keyvalue>>>");
    expect(cql).toContain("process frozen<process>,");
    expect(cql).not.toContain("~");
    // statements are balanced
    expect((cql.match(/\(/g) ?? []).length).toBe((cql.match(/\)/g) ?? []).length);
  });

  it("schema Job: bounded wait for CQL, the CQL with retries, then a check for the last table", () => {
    const s = schemaJobScript({ namespace: NS, clusterDomain: DOMAIN, config: prod().cassandra });
    expect(s).toMatch(/wait_for \d+ "CQL login at cassandra\.observability\.svc\.cluster\.local:9042" cql_up/);
    // logged in from credentials files copied out of the Secret; no password in the script
    expect(s).toContain("--credentials=/tmp/jaeger.credentials");
    expect(s).not.toMatch(/-p |--password/);
    // a new cluster: the jaeger role created as the default superuser, which is then locked
    expect(s).toMatch(/if as_default; then retry 5 cql_default -f \/etc\/cassandra-auth\/bootstrap\.cql/);
    expect(s.indexOf("lockdown.cql")).toBeLessThan(s.indexOf("schema.cql"));
    expect(s).toContain("retry 5 cql -f /etc/jaeger-schema/schema.cql");
    expect(s).toContain(`table_name = '${SCHEMA_TABLES[SCHEMA_TABLES.length - 1]}'`);
    expect(schemaWaitScript({ namespace: NS, clusterDomain: DOMAIN, config: prod().cassandra }, 300)).toContain("wait_for 300 \"keyspace jaeger\" schema_ready");
  });
});

describe("cluster domain", () => {
  it("every host a builder forms carries the configured domain", () => {
    const d = "corp.example";
    const c = prod();
    expect(quorumVoters(NS, 3, d)).toBe([0, 1, 2].map((i) => `${i}@kafka-${i}.kafka.${NS}.svc.${d}:9093`).join(","));
    expect(envValue(kafkaEnv({ namespace: NS, clusterDomain: d, config: c.kafka }), "KAFKA_ADVERTISED_LISTENERS")).toBe(`SASL://$(POD_NAME).kafka.${NS}.svc.${d}:9092`);
    expect(seedHosts(NS, 3, d)).toEqual([0, 1].map((i) => `cassandra-${i}.cassandra.${NS}.svc.${d}`));
    expect((cassandraBackend({ namespace: NS, clusterDomain: d, config: c }).cassandra as any).connection.servers).toEqual([`cassandra.${NS}.svc.${d}`]);
    expect((collectorConfig({ namespace: NS, clusterDomain: d, config: c }).exporters.kafka as any).brokers[2]).toBe(`kafka-2.kafka.${NS}.svc.${d}:9092`);
    expect(zipkinHost(NS, d)).toBe(`jaeger-collector.${NS}.svc.${d}`);
    const text = [topicJobScript, topicWaitScript].map((f) => f({ namespace: NS, clusterDomain: d, config: c.kafka }, 300)).join("") + [schemaJobScript, schemaWaitScript].map((f) => f({ namespace: NS, clusterDomain: d, config: c.cassandra }, 300)).join("");
    expect(text).toContain(`.svc.${d}`);
    expect(text).not.toContain("cluster.local");
  });
});

describe("generated sh", () => {
  const scripts = () => [topicJobScript({ namespace: NS, clusterDomain: DOMAIN, config: prod().kafka }), topicWaitScript({ namespace: NS, clusterDomain: DOMAIN, config: prod().kafka }, 300), schemaJobScript({ namespace: NS, clusterDomain: DOMAIN, config: prod().cassandra }), schemaWaitScript({ namespace: NS, clusterDomain: DOMAIN, config: prod().cassandra }, 300)];

  it("parses with sh -n", () => {
    for (const s of scripts()) execFileSync("sh", ["-n"], { input: s });
  });

  it("wait_for gives up at its deadline and retry stops after its attempts", () => {
    const run = (...lines: string[]) => {
      try {
        return { code: 0, out: execFileSync("sh", ["-c", script(...lines)], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }) };
      } catch (e) {
        const err = e as { status: number; stderr: string };
        return { code: err.status, out: err.stderr };
      }
    };
    expect(run("wait_for 0 thing false")).toEqual({ code: 1, out: "gave up after 0 seconds waiting for thing\n" });
    expect(run("wait_for 5 thing true").out).toBe("ready: thing\n");
    expect(run("retry 1 false")).toEqual({ code: 1, out: "failed 1 times: false\n" });
    expect(run("retry 3 true", "echo after").out).toBe("after\n");
  });
});
