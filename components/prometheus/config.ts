// The `obs:prometheus` config section: one schema (types, defaults, docs) and the checks
// that span several keys. Pure: no Pulumi imports.
import { bool, type Field, type Infer, type Issue, list, num, obj, oneOf, quantity, resources, type Shape, str } from "../../config/schema.js";
import { BUILTIN_JOB_NAMES } from "./scrape.js";

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
  storageSize: quantity({ doc: "size of the data volume (PersistentVolumeClaim) of each replica", default: "50Gi" }),
  storageClass: str({ doc: "StorageClass of the data volume; empty: the cluster's default class", default: "" }),
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

const UNIT_MS: Record<string, number> = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3, y: 365 * 86400e3 };

/** Milliseconds of a single-unit Prometheus duration (the form the schema accepts). */
export function durationMs(d: string): number {
  const m = /^([0-9]+)(ms|s|m|h|d|w|y)$/.exec(d);
  if (!m) throw new Error(`not a duration: ${d}`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

const QUANTITY: Record<string, number> = { "": 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
const PROM_BYTES: Record<string, number> = { B: 1, KB: 2 ** 10, MB: 2 ** 20, GB: 2 ** 30, TB: 2 ** 40, PB: 2 ** 50, EB: 2 ** 60 };

/** Bytes of a Kubernetes quantity (e.g. 50Gi). */
export function quantityBytes(q: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(q);
  if (!m) throw new Error(`not a quantity: ${q}`);
  return Number(m[1]) * QUANTITY[m[2] ?? ""]!;
}

/** Bytes of a Prometheus retention size (e.g. 40GB, powers of 2). */
export function retentionBytes(s: string): number {
  const m = /^([0-9]+)(B|KB|MB|GB|TB|PB|EB)$/.exec(s);
  if (!m) throw new Error(`not a size: ${s}`);
  return Number(m[1]) * PROM_BYTES[m[2]!]!;
}

/** Checks that span keys; pushes one issue per problem. `key` is the section's key in messages. */
export function checkPrometheus(c: PrometheusConfig, issues: Issue[], key = "obs:prometheus"): void {
  if (durationMs(c.scrapeTimeout) > durationMs(c.scrapeInterval)) {
    issues.push({ key: `${key}.scrapeTimeout`, value: c.scrapeTimeout, allowed: `a duration at most scrapeInterval (${c.scrapeInterval})` });
  }
  if (c.retentionSize && retentionBytes(c.retentionSize) >= quantityBytes(c.storageSize)) {
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
