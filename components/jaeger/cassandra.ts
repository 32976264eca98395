// Cassandra for the cassandra image: node env (seeds, cluster, heap), and the CQL of the
// `jaeger` keyspace that Jaeger's Cassandra backend reads and writes (schema v004), run by a
// Job so that Jaeger itself never creates schema (`schema.create: false`).
import { jvmBytes, validated } from "../../lib/units.js";
import { podHost } from "../k8s/hosts.js";
import { AUTH_DIRS, CASSANDRA_AUTH_JVM_OPTS, CASSANDRA_AUTH_KEYS } from "./auth.js";
import type { JaegerConfig } from "./config.js";
import type { EnvVar } from "./kafka.js";
import { script } from "./shell.js";
import { cassandraHost, KEYSPACE, NAMES, PORTS } from "./topology.js";

export type CassandraConfig = JaegerConfig["cassandra"];

export interface CassandraInput {
  readonly namespace: string;
  /** The cluster's DNS domain (`obs:clusterDomain`), in the seeds and the contact point. */
  readonly clusterDomain: string;
  readonly config: CassandraConfig;
}

export const CASSANDRA_DATA_PATH = "/var/lib/cassandra";
/** uid/gid of the image's `cassandra` user, for the volume's fsGroup. */
export const CASSANDRA_UID = 999;
/** Where the schema Job mounts the generated CQL. */
export const SCHEMA_DIR = "/etc/jaeger-schema";
export const SCHEMA_FILE = "schema.cql";
export const RACK = "rack1";

/** Seeds: the first pod, and the second once there are three or more nodes. */
export function seedHosts(namespace: string, nodes: number, clusterDomain: string): string[] {
  const seeds = nodes >= 3 ? 2 : 1;
  return Array.from({ length: seeds }, (_, i) => podHost(NAMES.cassandra, i, NAMES.cassandra, namespace, clusterDomain));
}

/** HEAP_NEWSIZE: a quarter of the heap (the image wants it set together with MAX_HEAP_SIZE). */
export function heapNewSize(heap: string): string {
  const b = validated(jvmBytes, heap, "heap");
  return `${Math.max(64, Math.floor(b / 4 / 2 ** 20))}M`;
}

export function cassandraEnv(input: CassandraInput): EnvVar[] {
  const c = input.config;
  return [
    // readiness finds this node in `nodetool status` by its address
    { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
    { name: "CASSANDRA_SEEDS", value: seedHosts(input.namespace, c.nodes, input.clusterDomain).join(",") },
    { name: "CASSANDRA_CLUSTER_NAME", value: c.clusterName },
    { name: "CASSANDRA_DC", value: c.datacenter },
    { name: "CASSANDRA_RACK", value: RACK },
    { name: "CASSANDRA_ENDPOINT_SNITCH", value: "GossipingPropertyFileSnitch" },
    { name: "MAX_HEAP_SIZE", value: c.heap },
    { name: "HEAP_NEWSIZE", value: heapNewSize(c.heap) },
    // PasswordAuthenticator over the image's cassandra.yaml (cassandra-env.sh appends these).
    { name: "JVM_EXTRA_OPTS", value: CASSANDRA_AUTH_JVM_OPTS.join(" ") },
  ];
}

/** The keyspace's replication map: SimpleStrategy on one node, otherwise per datacenter. */
export function replication(c: CassandraConfig): string {
  if (c.nodes === 1) return `{'class': 'SimpleStrategy', 'replication_factor': ${c.replicationFactor}}`;
  return `{'class': 'NetworkTopologyStrategy', '${c.datacenter}': ${c.replicationFactor}}`;
}

// ---- schema model: what the Jaeger Cassandra backend queries ----

type Ttl = "spans" | "dependencies" | "none";
type Compaction = { strategy: "window"; minutes: number | "span" } | { strategy: "size" } | undefined;

interface UdtDef {
  readonly name: string;
  readonly fields: readonly (readonly [string, string])[];
}

interface TableDef {
  readonly name: string;
  readonly columns: readonly (readonly [string, string])[];
  readonly primaryKey: string;
  readonly order?: string;
  readonly compaction: Compaction;
  readonly ttl: Ttl;
}

// `~name` marks a user type of the keyspace: qualified inside types, bare inside tables.
const kvList = "frozen<list<frozen<~keyvalue>>>";

const TYPES: readonly UdtDef[] = [
  { name: "keyvalue", fields: [["key", "text"], ["value_type", "text"], ["value_string", "text"], ["value_bool", "boolean"], ["value_long", "bigint"], ["value_double", "double"], ["value_binary", "blob"]] },
  { name: "log", fields: [["ts", "bigint"], ["fields", kvList]] },
  { name: "span_ref", fields: [["ref_type", "text"], ["trace_id", "blob"], ["span_id", "bigint"]] },
  { name: "process", fields: [["service_name", "text"], ["tags", kvList]] },
  { name: "dependency", fields: [["parent", "text"], ["child", "text"], ["call_count", "bigint"], ["source", "text"]] },
];

const hourly: Compaction = { strategy: "window", minutes: 60 };
const sized: Compaction = { strategy: "size" };

const TABLES: readonly TableDef[] = [
  {
    name: "traces",
    columns: [["trace_id", "blob"], ["span_id", "bigint"], ["span_hash", "bigint"], ["parent_id", "bigint"], ["operation_name", "text"], ["flags", "int"], ["start_time", "bigint"], ["duration", "bigint"], ["tags", "list<frozen<~keyvalue>>"], ["logs", "list<frozen<~log>>"], ["refs", "list<frozen<~span_ref>>"], ["process", "frozen<~process>"]],
    primaryKey: "trace_id, span_id, span_hash",
    compaction: { strategy: "window", minutes: "span" },
    ttl: "spans",
  },
  { name: "service_names", columns: [["service_name", "text"]], primaryKey: "service_name", compaction: sized, ttl: "spans" },
  { name: "operation_names_v2", columns: [["service_name", "text"], ["span_kind", "text"], ["operation_name", "text"]], primaryKey: "(service_name), span_kind, operation_name", compaction: sized, ttl: "spans" },
  { name: "service_operation_index", columns: [["service_name", "text"], ["operation_name", "text"], ["start_time", "bigint"], ["trace_id", "blob"]], primaryKey: "(service_name, operation_name), start_time", order: "start_time DESC", compaction: hourly, ttl: "spans" },
  { name: "service_name_index", columns: [["service_name", "text"], ["bucket", "int"], ["start_time", "bigint"], ["trace_id", "blob"]], primaryKey: "(service_name, bucket), start_time", order: "start_time DESC", compaction: hourly, ttl: "spans" },
  {
    name: "duration_index",
    columns: [["service_name", "text"], ["operation_name", "text"], ["bucket", "timestamp"], ["duration", "bigint"], ["start_time", "bigint"], ["trace_id", "blob"]],
    primaryKey: "(service_name, operation_name, bucket), duration, start_time, trace_id",
    order: "duration DESC, start_time DESC",
    compaction: hourly,
    ttl: "spans",
  },
  {
    name: "tag_index",
    columns: [["service_name", "text"], ["tag_key", "text"], ["tag_value", "text"], ["start_time", "bigint"], ["trace_id", "blob"], ["span_id", "bigint"]],
    primaryKey: "(service_name, tag_key, tag_value), start_time, trace_id, span_id",
    order: "start_time DESC",
    compaction: hourly,
    ttl: "spans",
  },
  { name: "dependencies_v2", columns: [["ts_bucket", "timestamp"], ["ts", "timestamp"], ["dependencies", "list<frozen<~dependency>>"]], primaryKey: "ts_bucket, ts", order: "ts DESC", compaction: sized, ttl: "dependencies" },
  // adaptive sampling and its lock: unused by this stack's pipelines but part of the schema the backend expects
  { name: "operation_throughput", columns: [["bucket", "int"], ["ts", "timeuuid"], ["throughput", "text"]], primaryKey: "bucket, ts", order: "ts DESC", compaction: undefined, ttl: "none" },
  { name: "sampling_probabilities", columns: [["bucket", "int"], ["ts", "timeuuid"], ["hostname", "text"], ["probabilities", "text"]], primaryKey: "bucket, ts", order: "ts DESC", compaction: undefined, ttl: "none" },
  { name: "leases", columns: [["name", "text"], ["owner", "text"]], primaryKey: "name", compaction: undefined, ttl: "none" },
];

/** Tables the schema Job creates, in order; the last one marks a complete schema. */
export const SCHEMA_TABLES: readonly string[] = TABLES.map((t) => t.name);

/** Span tables keep ~30 compaction windows over their TTL (as Jaeger's own create script does). */
export function spanCompactionMinutes(spanTtlHours: number): number {
  return Math.max(1, Math.ceil((spanTtlHours * 60) / 30));
}

const ttlSeconds = (c: CassandraConfig) => c.spanTtlHours * 3600;

function typeRef(t: string, qualify: boolean): string {
  return t.replace(/~(\w+)/g, (_, n: string) => (qualify ? `${KEYSPACE}.${n}` : n));
}

function tableOptions(t: TableDef, c: CassandraConfig): string[] {
  const opts: string[] = [];
  const cp = t.compaction;
  if (cp?.strategy === "window") {
    const minutes = cp.minutes === "span" ? spanCompactionMinutes(c.spanTtlHours) : cp.minutes;
    opts.push(`compaction = {'class': 'TimeWindowCompactionStrategy', 'compaction_window_unit': 'MINUTES', 'compaction_window_size': '${minutes}'}`);
  } else if (cp?.strategy === "size") {
    opts.push("compaction = {'class': 'SizeTieredCompactionStrategy', 'min_threshold': '4', 'max_threshold': '32'}");
  }
  if (t.ttl !== "none") opts.push(`default_time_to_live = ${ttlSeconds(c)}`);
  if (t.ttl === "spans") opts.push("speculative_retry = 'NONE'", "gc_grace_seconds = 10800");
  return opts;
}

function createTable(t: TableDef, c: CassandraConfig): string {
  const cols = t.columns.map(([n, ty]) => `  ${n} ${typeRef(ty, false)},`);
  const withs = [...(t.order ? [`CLUSTERING ORDER BY (${t.order})`] : []), ...tableOptions(t, c)];
  const tail = withs.length ? `\n) WITH ${withs.join("\n  AND ")};` : "\n);";
  return `CREATE TABLE IF NOT EXISTS ${KEYSPACE}.${t.name} (\n${cols.join("\n")}\n  PRIMARY KEY (${t.primaryKey})${tail}`;
}

/**
 * The whole schema as idempotent CQL: creates what is missing, then re-applies the settings
 * that follow config (replication, TTLs, compaction windows) to what already exists.
 */
export function schemaCql(c: CassandraConfig): string {
  const stmts = [
    `CREATE KEYSPACE IF NOT EXISTS ${KEYSPACE} WITH replication = ${replication(c)};`,
    `ALTER KEYSPACE ${KEYSPACE} WITH replication = ${replication(c)};`,
    ...TYPES.map((u) => `CREATE TYPE IF NOT EXISTS ${KEYSPACE}.${u.name} (\n${u.fields.map(([n, ty]) => `  ${n} ${typeRef(ty, true)}`).join(",\n")}\n);`),
    ...TABLES.map((t) => createTable(t, c)),
    ...TABLES.filter((t) => t.ttl !== "none").map((t) => `ALTER TABLE ${KEYSPACE}.${t.name} WITH ${tableOptions(t, c).join(" AND ")};`),
    // The roles live in system_auth: replicated like the spans, so a lost node does not lock Jaeger out.
    `ALTER KEYSPACE system_auth WITH replication = ${replication(c)};`,
  ];
  return stmts.join("\n\n") + "\n";
}

/**
 * `cql` (as jaeger) and `cql_default` (as the default superuser) for the scripts. cqlsh reads a
 * credentials file only when the current user owns it and nobody else can read it, so the
 * Secret's files are copied into /tmp first; the password never is on a command line.
 */
const cqlsh = (host: string) =>
  [
    `umask 077; cat ${AUTH_DIRS.cassandra}/${CASSANDRA_AUTH_KEYS.credentials} > /tmp/jaeger.credentials; cat ${AUTH_DIRS.cassandra}/${CASSANDRA_AUTH_KEYS.defaultCredentials} > /tmp/default.credentials`,
    `cql() { cqlsh ${host} ${PORTS.cql} --connect-timeout=10 --request-timeout=120 --credentials=/tmp/jaeger.credentials "$@"; }`,
    `cql_default() { cqlsh ${host} ${PORTS.cql} --connect-timeout=10 --request-timeout=120 --credentials=/tmp/default.credentials "$@"; }`,
  ].join("\n");

/** Seconds the schema Job waits for Cassandra to answer CQL. */
export const CQL_WAIT_SECONDS = 420;

/**
 * The schema Job: bounded wait until CQL lets `jaeger` or (on a new cluster) the default
 * superuser in; on a new cluster the `jaeger` role is created as that superuser; then, as
 * `jaeger`, the default superuser is locked, and the generated CQL runs with retries.
 */
export function schemaJobScript(input: CassandraInput): string {
  const last = SCHEMA_TABLES[SCHEMA_TABLES.length - 1];
  const host = cassandraHost(input.namespace, input.clusterDomain);
  const dir = AUTH_DIRS.cassandra;
  return script(
    cqlsh(host),
    `probe='SELECT release_version FROM system.local'`,
    `as_jaeger() { cql -e "$probe" >/dev/null 2>&1; }`,
    `as_default() { cql_default -e "$probe" >/dev/null 2>&1; }`,
    `cql_up() { as_jaeger || as_default; }`,
    `wait_for ${CQL_WAIT_SECONDS} "CQL login at ${host}:${PORTS.cql}" cql_up`,
    `if ! as_jaeger; then`,
    `  if as_default; then retry 5 cql_default -f ${dir}/${CASSANDRA_AUTH_KEYS.bootstrap}; echo "role jaeger created"`,
    `  else echo "cannot log in as jaeger with obs:jaeger.cassandraPassword, and the default superuser is locked: after changing the password in config, set it in Cassandra first (ALTER ROLE jaeger WITH PASSWORD ...), then run up again" >&2; exit 1; fi`,
    `fi`,
    `retry 5 cql -f ${dir}/${CASSANDRA_AUTH_KEYS.lockdown}`,
    `retry 5 cql -f ${SCHEMA_DIR}/${SCHEMA_FILE}`,
    `cql -e "SELECT table_name FROM system_schema.tables WHERE keyspace_name = '${KEYSPACE}' AND table_name = '${last}'" | grep -q '(1 rows)'`,
    `echo "schema of keyspace ${KEYSPACE} is in place"`,
  );
}

/** Init container of the ingester and the query: the schema Job's last table exists. */
export function schemaWaitScript(input: CassandraInput, seconds: number): string {
  const last = SCHEMA_TABLES[SCHEMA_TABLES.length - 1];
  return script(
    cqlsh(cassandraHost(input.namespace, input.clusterDomain)),
    `schema_ready() { cql -e "SELECT table_name FROM system_schema.tables WHERE keyspace_name = '${KEYSPACE}' AND table_name = '${last}'" 2>/dev/null | grep -q '(1 rows)'; }`,
    `wait_for ${seconds} "keyspace ${KEYSPACE}" schema_ready`,
  );
}
