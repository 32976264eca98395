// The `obs:prometheus` config section: one schema (types, defaults, docs) and the checks
// that span several keys. Pure: no Pulumi imports.
import { bool, type Field, type Infer, type Issue, list, num, obj, oneOf, resources, type Shape, str, storageClassName, volumeSize } from "../../lib/schema.js";
import { BUILTIN_JOB_NAMES } from "./scrape.js";
import { durationMs, prometheusBytes, quantityBytes } from "../../lib/units.js";

const DURATION = /^[0-9]+(ms|s|m|h|d|w|y)$/;
const DURATION_DOC = "a Prometheus duration: a number and one unit of ms, s, m, h, d, w, y (e.g. 30s, 15d)";
const BYTES = /^([0-9]+(B|KB|MB|GB|TB|PB|EB))?$/;
const BYTES_DOC = "a Prometheus size: a number and one unit of B, KB, MB, GB, TB, PB, EB (powers of 2, e.g. 40GB), or empty for no size limit";

const extraScrapeConfig = obj(
  {
    jobName: str({ doc: "job name (the `job` label); unique, and not one of the built-in jobs", pattern: /^[a-zA-Z_][a-zA-Z0-9_-]*$/, patternDoc: "a job name: letters, digits, '_' and '-', starting with a letter or '_'" }),
    staticTargets: list(str({ doc: "target", pattern: /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}$/, patternDoc: "host:port (IPv6 as [addr]:port)" }), { doc: "targets to scrape, as host:port" }),
    metricsPath: str({ doc: "HTTP path of the metrics", default: "/metrics", pattern: /^\//, patternDoc: "a path starting with /" }),
    scheme: oneOf(["http", "https"] as const, { doc: "scheme used to scrape", default: "http" }),
  },
  { doc: "a static scrape job", optional: false },
);

const shape = {
  enabled: bool({ doc: "deploy the Prometheus server", default: true }),
  retentionTime: str({ doc: "how long samples are kept (`--storage.tsdb.retention.time`)", default: "15d", pattern: DURATION, patternDoc: DURATION_DOC }),
  retentionSize: str({ doc: "most disk the TSDB may use before old blocks go (`--storage.tsdb.retention.size`); keep it below storageSize, room is needed for the WAL and compaction", default: "40GB", pattern: BYTES, patternDoc: BYTES_DOC }),
  storageSize: volumeSize({ doc: "size of the data volume (PersistentVolumeClaim) of each replica", default: "50Gi" }),
  storageClass: storageClassName({ doc: "StorageClass of the data volume; empty: the cluster's default class", default: "" }),
  replicas: num({ doc: "Prometheus replicas; 1 (replicas would each scrape everything and answer queries with different gaps; HA wants a deduplicating query layer first)", default: 1, min: 1, max: 1, integer: true }),
  resources: resources("Prometheus container resources", { cpu: "500m", memory: "2Gi" }, { cpu: "2", memory: "4Gi" }),
  scrapeInterval: str({ doc: "how often targets are scraped and rules evaluated", default: "30s", pattern: DURATION, patternDoc: DURATION_DOC }),
  scrapeTimeout: str({ doc: "scrape timeout; at most scrapeInterval", default: "10s", pattern: DURATION, patternDoc: DURATION_DOC }),
  mtlsScraping: bool({ doc: "when obs:istio.mtls is STRICT, scrape injected pods whose metrics Istio does not merge over mTLS with the Istio workload certificate (Prometheus gets a cert-only sidecar)", default: true }),
  extraScrapeConfigs: list(extraScrapeConfig, { doc: "extra static scrape jobs", default: [] }),
} satisfies Shape;

/** The `obs:prometheus` section. Defaults live here and nowhere else. */
export const prometheusSchema: Field<PrometheusConfig> = obj(shape, { doc: "Prometheus server" });

export type PrometheusConfig = Infer<typeof shape>;
export type ExtraScrapeConfig = PrometheusConfig["extraScrapeConfigs"][number];

/** Checks that span keys; pushes one issue per problem. `key` is the section's key in messages. */
export function checkPrometheus(c: PrometheusConfig, issues: Issue[], key = "obs:prometheus"): void {
  const timeout = durationMs(c.scrapeTimeout, `${key}.scrapeTimeout`, issues);
  const interval = durationMs(c.scrapeInterval, `${key}.scrapeInterval`, issues);
  if (interval === 0) issues.push({ key: `${key}.scrapeInterval`, value: c.scrapeInterval, allowed: "a duration above 0 (e.g. 30s)" });
  if (timeout === 0) issues.push({ key: `${key}.scrapeTimeout`, value: c.scrapeTimeout, allowed: "a duration above 0 (e.g. 10s)" });
  if (timeout !== undefined && interval !== undefined && interval > 0 && timeout > interval) {
    issues.push({ key: `${key}.scrapeTimeout`, value: c.scrapeTimeout, allowed: `a duration at most scrapeInterval (${c.scrapeInterval})` });
  }
  const retention = c.retentionSize ? prometheusBytes(c.retentionSize, `${key}.retentionSize`, issues) : undefined;
  const storage = quantityBytes(c.storageSize, `${key}.storageSize`, issues);
  if (retention !== undefined && storage !== undefined && retention >= storage) {
    issues.push({ key: `${key}.retentionSize`, value: c.retentionSize, allowed: `a size below storageSize (${c.storageSize}), leaving room for the WAL and compaction (about 80% is typical)` });
  }
  const seen = new Set<string>(BUILTIN_JOB_NAMES);
  c.extraScrapeConfigs.forEach((j, i) => {
    if (seen.has(j.jobName)) issues.push({ key: `${key}.extraScrapeConfigs[${i}].jobName`, value: j.jobName, allowed: `a job name not used by another job (built-in: ${BUILTIN_JOB_NAMES.join(", ")})` });
    seen.add(j.jobName);
    if (j.staticTargets.length === 0) issues.push({ key: `${key}.extraScrapeConfigs[${i}].staticTargets`, value: [], allowed: "at least one host:port target" });
  });
}

/** Parses and cross-checks a raw `obs:prometheus` value; every problem is reported. */
export function parsePrometheusConfig(raw: unknown, key = "obs:prometheus"): { config: PrometheusConfig | undefined; issues: Issue[] } {
  const issues: Issue[] = [];
  const config = prometheusSchema.parse(raw, key, issues);
  if (config && issues.length === 0) checkPrometheus(config, issues, key);
  return { config: issues.length ? undefined : config, issues };
}
