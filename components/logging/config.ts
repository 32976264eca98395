// The `obs:logging` section: schema (defaults live here) and the checks that span fields.
import { bool, type Infer, type Issue, num, obj, str, resources, storageClassName, volumeSize } from "../../lib/schema.js";
import { checkPassword, takeSecrets } from "../../lib/secrets.js";
import { fluentdBytes, jvmBytes, quantityBytes } from "../../lib/units.js";
import { checkExpose, exposeFields } from "../mesh/expose.js";

const KEY = "obs:logging";


const shape = {
  enabled: bool({ doc: "deploy the EFK pipeline (Elasticsearch, Fluentd, Kibana)", default: true }),
  elasticsearch: obj(
    {
      nodes: num({ doc: "Elasticsearch nodes (all master-eligible data nodes); 1 runs single-node discovery, 3 or more survive losing one", default: 1, min: 1, max: 9, integer: true }),
      heap: str({ doc: "JVM heap (-Xms/-Xmx), at most half the memory limit and below 31g", default: "1g", pattern: /^[1-9][0-9]*[mg]$/, patternDoc: "a JVM size such as 512m or 2g" }),
      storageSize: volumeSize({ doc: "data volume size per node", default: "10Gi" }),
      storageClass: storageClassName({ doc: "StorageClass of the data volumes (empty: the cluster default)", default: "" }),
      setMaxMapCount: bool({ doc: "a small privileged DaemonSet in Fluentd's namespace raises every node's vm.max_map_count to 262144 (the Elasticsearch pods stay unprivileged); false sets node.store.allow_mmap: false instead (see README)", default: true }),
      resources: resources("Elasticsearch resources", { cpu: "500m", memory: "2Gi" }, { cpu: "2", memory: "2Gi" }),
    },
    { doc: "Elasticsearch" },
  ),
  certificates: obj(
    {
      days: num({ doc: "lifetime of the Elasticsearch node certificate in days (its CA lives twice as long)", default: 1095, min: 2, max: 3650, integer: true }),
      renewBeforeDays: num({ doc: "an `up` renews the node certificate when it has fewer days left than this (more than the 30 days at which CertificateExpiringSoon fires)", default: 60, min: 31, integer: true }),
    },
    { doc: "Elasticsearch TLS certificates, issued and renewed by the certs Job (no restart: Elasticsearch reloads them)" },
  ),
  retentionDays: num({ doc: "days an index is kept after it rolls over (ILM delete phase)", default: 7, min: 1, integer: true }),
  rolloverSize: str({ doc: "ILM rollover at this primary shard size (or after one day)", default: "10gb", pattern: /^[1-9][0-9]*(b|kb|mb|gb|tb)$/, patternDoc: "an Elasticsearch byte size such as 500mb or 10gb" }),
  fluentd: obj(
    {
      bufferLimit: str({ doc: "bound of Fluentd's on-node disk buffer, split evenly between its outputs", default: "2GB", pattern: /^[1-9][0-9]*[KMGT]B?$/i, patternDoc: "a Fluentd size such as 512MB or 2GB" }),
      resources: resources("Fluentd resources", { cpu: "100m", memory: "256Mi" }, { cpu: "1", memory: "512Mi" }),
    },
    { doc: "Fluentd DaemonSet" },
  ),
  kibana: obj(
    {
      ...exposeFields("Kibana", "kibana-tls"),
      resources: resources("Kibana resources", { cpu: "200m", memory: "1Gi" }, { cpu: "1", memory: "1Gi" }),
    },
    { doc: "Kibana" },
  ),
};

export const loggingSchema = obj(shape, { doc: "EFK logging: Elasticsearch, Fluentd (with the Envoy access log) and Kibana" });
export type LoggingConfig = Infer<typeof shape>;

/** Smallest total buffer: each output needs room for a few 8MB chunks. */
export const MIN_BUFFER_BYTES = 64 * 1024 ** 2;

/** Checks spanning fields; pushes one issue per problem. Call only with a parsed section. */
export function checkLogging(c: LoggingConfig, issues: Issue[]): void {
  if (!c.enabled) return;
  const es = c.elasticsearch;
  const heap = jvmBytes(es.heap, `${KEY}.elasticsearch.heap`, issues) ?? 0;
  const limit = quantityBytes(es.resources.limits.memory, `${KEY}.elasticsearch.resources.limits.memory`, issues) ?? Infinity;
  const request = quantityBytes(es.resources.requests.memory, `${KEY}.elasticsearch.resources.requests.memory`, issues) ?? Infinity;
  const buffer = fluentdBytes(c.fluentd.bufferLimit, `${KEY}.fluentd.bufferLimit`, issues) ?? Infinity;
  if (heap > limit / 2) issues.push({ key: `${KEY}.elasticsearch.heap`, value: es.heap, allowed: `at most half of elasticsearch.resources.limits.memory (${es.resources.limits.memory}); the rest is the filesystem cache Lucene relies on` });
  if (heap >= 31 * 1024 ** 3) issues.push({ key: `${KEY}.elasticsearch.heap`, value: es.heap, allowed: "below 31g (compressed object pointers)" });
  if (request < heap) issues.push({ key: `${KEY}.elasticsearch.resources.requests.memory`, value: es.resources.requests.memory, allowed: `at least the heap (${es.heap})` });
  if (es.nodes === 2) issues.push({ key: `${KEY}.elasticsearch.nodes`, value: 2, allowed: "1, or 3 or more (two master-eligible nodes cannot lose either one)" });
  if (c.certificates.renewBeforeDays >= c.certificates.days) issues.push({ key: `${KEY}.certificates.renewBeforeDays`, value: c.certificates.renewBeforeDays, allowed: `less than certificates.days (${c.certificates.days}): a window as long as the lifetime would renew on every run` });
  if (buffer < MIN_BUFFER_BYTES) issues.push({ key: `${KEY}.fluentd.bufferLimit`, value: c.fluentd.bufferLimit, allowed: "at least 64MB (two outputs, each a few 8MB chunks)" });

  checkExpose(c.kibana, `${KEY}.kibana`, issues);
}

/** Secret keys of `obs:logging`: kept out of the typed config, handed to the component as Pulumi secrets. */
export const LOGGING_SECRET_KEYS = ["elasticPassword", "kibanaPassword"] as const;
export type LoggingSecrets = Record<(typeof LOGGING_SECRET_KEYS)[number], string>;

/** The passwords out of the raw `obs:logging` value; required (and checked) while logging is enabled. */
export function takeLoggingSecrets(raw: unknown, issues: Issue[]): { rest: unknown; secrets?: LoggingSecrets } {
  return takeSecrets(raw, KEY, LOGGING_SECRET_KEYS, issues);
}

// Elasticsearch refuses native-realm passwords shorter than 6 characters; the bootstrap writes them into JSON.
export { checkPassword };
