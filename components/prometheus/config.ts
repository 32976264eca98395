// The `obs:prometheus` config section: one schema (types, defaults, docs) and the checks
// that span several keys. Pure: no Pulumi imports.
import { bool, dnsLabel, type Field, type Infer, type Issue, list, num, obj, oneOf, record, resources, type Shape, str, storageClassName, volumeSize } from "../../lib/schema.js";
import { extractSecrets, setSecretCommand } from "../../lib/secrets.js";
import { BUILTIN_JOB_NAMES, RELABEL_ACTIONS } from "./scrape.js";
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

const optionalNum = (doc: string) => num({ doc, default: undefined as unknown as number, min: 1, integer: true });
const optionalDuration = (doc: string) => str({ doc, default: undefined as unknown as string, pattern: DURATION, patternDoc: DURATION_DOC });
const PEM = /^-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----\s*$/;
const PEM_DOC = "a PEM certificate (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)";
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const LABEL_NAME_DOC = "a label name: letters, digits and '_', not starting with a digit";

const writeRelabel = obj(
  {
    action: oneOf(RELABEL_ACTIONS, { doc: "relabel action", default: "replace" }),
    sourceLabels: list(str({ doc: "label", pattern: LABEL_NAME, patternDoc: LABEL_NAME_DOC }), { doc: "labels whose values (joined by separator) the regex matches", default: [] }),
    separator: str({ doc: "separator of the source label values (Prometheus's default `;`)", default: undefined as unknown as string }),
    regex: str({ doc: "RE2 regular expression, anchored (Prometheus's default `(.*)`)", default: undefined as unknown as string }),
    targetLabel: str({ doc: "label written by replace, lowercase, uppercase (compared by keepequal, dropequal)", default: "" }),
    replacement: str({ doc: "value written by replace, which may refer to the regex's groups (Prometheus's default: the first group)", default: undefined as unknown as string }),
  },
  { doc: "a write_relabel_configs entry (Prometheus's relabel_config, in camelCase)", optional: false },
);

const remoteWrite = obj(
  {
    url: str({ doc: "remote-write endpoint, e.g. https://mimir.example.com/api/v1/push", pattern: /^https?:\/\/\S+$/, patternDoc: "an http:// or https:// URL such as https://mimir.example.com/api/v1/push" }),
    name: str({ doc: "name in Prometheus's remote-storage metrics; unique (default: derived from the config)", default: "", pattern: /^$|^[a-zA-Z0-9_-]+$/, patternDoc: "letters, digits, '_' and '-'" }),
    remoteTimeout: optionalDuration("timeout of one request (Prometheus's default 30s)"),
    basicAuth: obj({ username: str({ doc: "basic-auth user; its password is the secret obs:prometheus.remoteWrite[N].basicAuth.password", default: "" }) }, { doc: "HTTP basic auth" }),
    tls: obj(
      {
        ca: str({ doc: "CA certificate (PEM) that signed the endpoint's certificate; empty: the image's system CAs", default: "", pattern: new RegExp(`^$|${PEM.source}`), patternDoc: PEM_DOC }),
        cert: str({ doc: "client certificate (PEM) for mutual TLS; its key is the secret obs:prometheus.remoteWrite[N].tls.key", default: "", pattern: new RegExp(`^$|${PEM.source}`), patternDoc: PEM_DOC }),
        serverName: str({ doc: "server name checked against the endpoint's certificate (default: the URL's host)", default: "" }),
        insecureSkipVerify: bool({ doc: "do not verify the endpoint's certificate (never in production)", default: false }),
      },
      { doc: "TLS to the endpoint" },
    ),
    queue: obj(
      {
        capacity: optionalNum("samples buffered per shard"),
        minShards: optionalNum("shards at least"),
        maxShards: optionalNum("shards at most (parallel senders)"),
        maxSamplesPerSend: optionalNum("samples per request"),
        batchSendDeadline: optionalDuration("longest wait for a full batch"),
        minBackoff: optionalDuration("first retry delay"),
        maxBackoff: optionalDuration("longest retry delay"),
      },
      { doc: "queue_config; unset keys keep Prometheus's defaults" },
    ),
    writeRelabelConfigs: list(writeRelabel, { doc: "relabelling of the series before they are sent (e.g. keep only recording rules)", default: [] }),
  },
  { doc: "a remote-write endpoint (Thanos Receive, Mimir, Cortex, any Prometheus remote-write receiver)", optional: false },
);

const shape = {
  enabled: bool({ doc: "deploy the Prometheus server (mode server) or its monitors (mode operator)", default: true }),
  mode: oneOf(["server", "operator"] as const, {
    doc: "server: the stack runs Prometheus; operator: no server, the same jobs and rules become PodMonitor, ServiceMonitor and PrometheusRule objects for an existing Prometheus Operator (kube-prometheus-stack)",
    default: "server",
  }),
  operator: obj(
    {
      selectorLabels: record(str({ doc: "label value" }), { doc: "labels on every PodMonitor, ServiceMonitor and PrometheusRule, matching the Prometheus resource's selectors (kube-prometheus-stack: `release: <its Helm release>`)", default: { release: "kube-prometheus-stack" }, keyDoc: "a label key" }),
      queryUrl: str({ doc: "URL of the operator's Prometheus that Grafana and Kiali query (required while either is enabled), e.g. http://kube-prometheus-stack-prometheus.monitoring:9090", default: "" }),
    },
    { doc: "mode operator: the existing Prometheus Operator installation" },
  ),
  retentionTime: str({ doc: "how long samples are kept (`--storage.tsdb.retention.time`)", default: "15d", pattern: DURATION, patternDoc: DURATION_DOC }),
  retentionSize: str({ doc: "most disk the TSDB may use before old blocks go (`--storage.tsdb.retention.size`); keep it below storageSize, room is needed for the WAL and compaction", default: "40GB", pattern: BYTES, patternDoc: BYTES_DOC }),
  storageSize: volumeSize({ doc: "size of the data volume (PersistentVolumeClaim) of each replica", default: "50Gi" }),
  storageClass: storageClassName({ doc: "StorageClass of the data volume; empty: the cluster's default class", default: "" }),
  replicas: num({ doc: "identical Prometheus replicas, each scraping everything, told apart by the `replica` external label (deduplicate downstream: Thanos, Mimir; Alertmanager deduplicates their alerts); 2 for HA", default: 1, min: 1, max: 5, integer: true }),
  resources: resources("Prometheus container resources", { cpu: "500m", memory: "2Gi" }, { cpu: "2", memory: "4Gi" }),
  scrapeInterval: str({ doc: "how often targets are scraped and rules evaluated", default: "30s", pattern: DURATION, patternDoc: DURATION_DOC }),
  scrapeTimeout: str({ doc: "scrape timeout; at most scrapeInterval", default: "10s", pattern: DURATION, patternDoc: DURATION_DOC }),
  mtlsScraping: bool({ doc: "when obs:istio.mtls is STRICT, scrape injected pods whose metrics Istio does not merge over mTLS with the Istio workload certificate (Prometheus gets a cert-only sidecar)", default: true }),
  extraScrapeConfigs: list(extraScrapeConfig, { doc: "extra static scrape jobs", default: [] }),
  excludeNamespaces: list(dnsLabel({ doc: "namespace" }), { doc: "namespaces the pod, Envoy and service-endpoint jobs never scrape (they discover every other namespace)", default: [] }),
  kubeletInsecureSkipVerify: bool({ doc: "scrape the kubelets (port 10250) without verifying their certificates: needed when they are not signed by the cluster CA (kubelet serverTLSBootstrap off)", default: false }),
  remoteWrite: list(remoteWrite, { doc: "remote-write endpoints (mode server); credentials are secrets: `pulumi config set --secret --path 'obs:prometheus.remoteWrite[0].basicAuth.password'` (or `.bearerToken`, `.tls.key`)", default: [] }),
} satisfies Shape;

/** The `obs:prometheus` section. Defaults live here and nowhere else. */
export const prometheusSchema: Field<PrometheusConfig> = obj(shape, { doc: "Prometheus server" });

export type PrometheusConfig = Infer<typeof shape>;
export type ExtraScrapeConfig = PrometheusConfig["extraScrapeConfigs"][number];

/** What checkPrometheus needs from the other sections. */
export interface PrometheusContext {
  /** obs:grafana.enabled, obs:kiali.enabled: they need a Prometheus URL. */
  readonly grafanaEnabled?: boolean;
  readonly kialiEnabled?: boolean;
  /** obs:istio.mtls. */
  readonly meshMtls?: "STRICT" | "PERMISSIVE";
}

/** Checks that span keys; pushes one issue per problem. `key` is the section's key in messages. */
export function checkPrometheus(c: PrometheusConfig, issues: Issue[], key = "obs:prometheus", ctx: PrometheusContext = {}): void {
  checkModes(c, issues, key, ctx);
  c.remoteWrite.forEach((w, i) => checkRemoteWrite(w, `${key}.remoteWrite[${i}]`, issues));
  const names = c.remoteWrite.map((w) => w.name).filter(Boolean);
  c.remoteWrite.forEach((w, i) => {
    if (w.name && names.indexOf(w.name) !== names.lastIndexOf(w.name)) issues.push({ key: `${key}.remoteWrite[${i}].name`, value: w.name, allowed: "a name no other remote-write endpoint has" });
  });
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

/** Parses and cross-checks a raw `obs:prometheus` value (its secrets taken out); every problem is reported. */
export function parsePrometheusConfig(raw: unknown, key = "obs:prometheus", ctx: PrometheusContext = {}): { config: PrometheusConfig | undefined; secrets?: PrometheusSecrets; issues: Issue[] } {
  const issues: Issue[] = [];
  const { rest, secrets } = takePrometheusSecrets(raw, issues, key);
  const config = prometheusSchema.parse(rest, key, issues);
  if (config && issues.length === 0) checkPrometheus(config, issues, key, ctx);
  return { config: issues.length ? undefined : config, ...(secrets ? { secrets } : {}), issues };
}

function checkModes(c: PrometheusConfig, issues: Issue[], key: string, ctx: PrometheusContext): void {
  if (!c.enabled || c.mode !== "operator") return;
  const users = [ctx.grafanaEnabled ? "obs:grafana.enabled" : "", ctx.kialiEnabled ? "obs:kiali.enabled" : ""].filter(Boolean);
  if (users.length && !validUrl(c.operator.queryUrl)) {
    issues.push({ key: `${key}.operator.queryUrl`, value: c.operator.queryUrl, allowed: `an http:// or https:// URL of the operator's Prometheus (required with mode operator while ${users.join(" and ")} is true: the stack runs no Prometheus for them to query), e.g. http://kube-prometheus-stack-prometheus.monitoring:9090` });
  }
  if (c.remoteWrite.length) issues.push({ key: `${key}.remoteWrite`, value: c.remoteWrite.map((w) => w.url), allowed: "an empty list with mode operator (remote write is set on the operator's Prometheus resource)" });
  if (c.replicas !== 1) issues.push({ key: `${key}.replicas`, value: c.replicas, allowed: "1 with mode operator (the operator's Prometheus resource sets its replicas)" });
  if (c.mtlsScraping && ctx.meshMtls === "STRICT") {
    issues.push({ key: `${key}.mtlsScraping`, value: true, allowed: "false with mode operator under STRICT mTLS (the operator's Prometheus holds no Istio workload certificate from this stack; pods that opt out of metrics merging are then not scraped)" });
  }
}

function validUrl(u: string): boolean {
  try {
    const url = new URL(u);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
  } catch {
    return false;
  }
}

type RemoteWriteConfig = PrometheusConfig["remoteWrite"][number];

function checkRemoteWrite(w: RemoteWriteConfig, key: string, issues: Issue[]): void {
  if (!validUrl(w.url)) issues.push({ key: `${key}.url`, value: w.url, allowed: "an http:// or https:// URL with a host, such as https://mimir.example.com/api/v1/push" });
  const q = w.queue;
  if (q.minShards !== undefined && q.maxShards !== undefined && q.minShards > q.maxShards) issues.push({ key: `${key}.queue.minShards`, value: q.minShards, allowed: `at most queue.maxShards (${q.maxShards})` });
  const min = q.minBackoff ? durationMs(q.minBackoff, `${key}.queue.minBackoff`, issues) : undefined;
  const max = q.maxBackoff ? durationMs(q.maxBackoff, `${key}.queue.maxBackoff`, issues) : undefined;
  if (min !== undefined && max !== undefined && min > max) issues.push({ key: `${key}.queue.minBackoff`, value: q.minBackoff, allowed: `at most queue.maxBackoff (${q.maxBackoff})` });
  w.writeRelabelConfigs.forEach((r, j) => {
    const rk = `${key}.writeRelabelConfigs[${j}]`;
    if (r.regex !== undefined) {
      try {
        new RegExp(r.regex);
      } catch (e) {
        issues.push({ key: `${rk}.regex`, value: r.regex, allowed: `a valid regular expression (${(e as Error).message})` });
      }
    }
    const needsTarget = ["replace", "lowercase", "uppercase", "keepequal", "dropequal"].includes(r.action);
    if (needsTarget && !r.targetLabel) issues.push({ key: `${rk}.targetLabel`, value: r.targetLabel, allowed: `a label name (required with action ${r.action})` });
    if (["keep", "drop", "lowercase", "uppercase", "keepequal", "dropequal"].includes(r.action) && r.sourceLabels.length === 0) issues.push({ key: `${rk}.sourceLabels`, value: [], allowed: `at least one label (required with action ${r.action})` });
  });
}

/** Secret keys of one remote-write endpoint, as paths inside it, and the credential file each becomes. */
const REMOTE_WRITE_SECRETS = [
  { path: ["basicAuth", "password"], file: "password" },
  { path: ["bearerToken"], file: "bearer-token" },
  { path: ["tls", "key"], file: "tls-key" },
] as const;

/** The remote-write credentials: file name (remoteWriteFile) to value. */
export type PrometheusSecrets = { readonly remoteWrite: Readonly<Record<string, string>> };

/**
 * Takes the remote-write credentials out of the raw `obs:prometheus` value (secrets already
 * decrypted): `rest` is what the schema parses. Each endpoint may have a basic-auth password
 * (with basicAuth.username), or a bearer token, and a TLS client key (with tls.cert); issues
 * name the key and never repeat a value.
 */
export function takePrometheusSecrets(raw: unknown, issues: Issue[], key = "obs:prometheus"): { rest: unknown; secrets?: PrometheusSecrets } {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw) || !Array.isArray((raw as { remoteWrite?: unknown }).remoteWrite)) return { rest: raw };
  const found: Record<string, string> = {};
  const endpoints = ((raw as { remoteWrite: unknown[] }).remoteWrite).map((w, i) => {
    if (typeof w !== "object" || w === null || Array.isArray(w)) return w;
    const copy = structuredClone(w) as Record<string, any>;
    const at = `${key}.remoteWrite[${i}]`;
    const has: Record<string, boolean> = {};
    for (const s of REMOTE_WRITE_SECRETS) {
      const parent = s.path.length > 1 ? copy[s.path[0]] : copy;
      const leaf = s.path[s.path.length - 1]!;
      if (typeof parent !== "object" || parent === null || parent[leaf] === undefined) continue;
      const { found: v } = extractSecrets(parent, `${at}.${s.path.slice(0, -1).join(".")}`.replace(/\.$/, ""), [leaf], issues, "<value>");
      delete parent[leaf];
      const value = v[leaf];
      if (value === undefined) continue;
      if (value === "") issues.push({ key: `${at}.${s.path.join(".")}`, value: "(secret)", allowed: "a non-empty secret" });
      has[s.file] = true;
      found[`remote-write-${i}-${s.file}`] = value;
    }
    const user = copy.basicAuth?.username;
    if (user && !has.password) issues.push({ key: `${at}.basicAuth.password`, value: undefined, allowed: `required with basicAuth.username: a secret (${setSecretCommand(`'${at}.basicAuth.password'`)})` });
    if (has.password && !user) issues.push({ key: `${at}.basicAuth.username`, value: user ?? "", allowed: "a user name (a basic-auth password is set)" });
    if (has.password && has["bearer-token"]) issues.push({ key: `${at}.bearerToken`, value: "(secret)", allowed: "not set together with basicAuth (one kind of authorization per endpoint)" });
    if (Boolean(has["tls-key"]) !== Boolean(copy.tls?.cert)) {
      issues.push(has["tls-key"] ? { key: `${at}.tls.cert`, value: "", allowed: "the client certificate (PEM) of the secret tls.key" } : { key: `${at}.tls.key`, value: undefined, allowed: `required with tls.cert: a secret (${setSecretCommand(`'${at}.tls.key'`, "\"$(cat client.key)\"")})` });
    }
    return copy;
  });
  return { rest: { ...(raw as object), remoteWrite: endpoints }, secrets: { remoteWrite: found } };
}
