// prometheus.yml as data: the scrape jobs of an Istio mesh and its cluster, built from typed
// config by pure functions (no Pulumi), rendered with `yaml`.
//
// Who scrapes what, so that no series is collected twice:
// - Istio's metrics merging (on by default) rewrites an injected pod's prometheus.io/*
//   annotations to port 15020 path /stats/prometheus, where the agent serves the app's own
//   metrics (from the original annotations) together with Envoy's and its own. Gateways carry
//   the same annotations. So `kubernetes-pods` (plain annotated pods) covers merged pods fully,
//   over plaintext even under STRICT mTLS (15020 is never intercepted).
// - `envoy-stats` scrapes Envoy's 15090 only on pods that are NOT merged, else it would
//   double every istio_* series.
// - Injected pods that opt out of merging (prometheus.istio.io/merge-metrics: "false") serve
//   their app port behind the sidecar: under STRICT mTLS a plaintext scrape is refused, so
//   `kubernetes-pods-istio-secure` scrapes them with the Istio workload certificate and
//   `kubernetes-pods` leaves them alone.
// - istiod carries prometheus.io annotations too; the `istiod` job owns it.
//
// The mesh jobs (MeshJob) are written once, in terms that both a plain Prometheus
// (kubernetes_sd_configs + relabel_configs, here) and the Prometheus Operator (PodMonitor and
// ServiceMonitor, operator.ts) express; they discover every namespace but the excluded ones, so
// a namespace an app team labels for injection is monitored without a change here.
import { stringify } from "yaml";
import { ISTIO_NAMESPACE } from "../k8s/labels.js";
import { JOBS } from "../mesh/metrics.js";
import type { PrometheusConfig } from "./config.js";
import { type AlertingSection, alertingSection, type AlertmanagerTarget } from "./alerting/discovery.js";

export const RELABEL_ACTIONS = ["replace", "keep", "drop", "labelmap", "labeldrop", "labelkeep", "lowercase", "uppercase", "keepequal", "dropequal"] as const;
export type RelabelAction = (typeof RELABEL_ACTIONS)[number];

/** One relabel_configs entry, keys as Prometheus spells them. */
export interface RelabelConfig {
  readonly source_labels?: readonly string[];
  readonly separator?: string;
  readonly regex?: string;
  readonly target_label?: string;
  readonly replacement?: string;
  readonly action: RelabelAction;
}

export interface KubernetesSdConfig {
  readonly role: "pod" | "endpointslice" | "node" | "service";
  readonly namespaces?: { readonly names: readonly string[] };
}

export interface TlsConfig {
  readonly ca_file?: string;
  readonly cert_file?: string;
  readonly key_file?: string;
  readonly server_name?: string;
  readonly insecure_skip_verify?: boolean;
}

export interface ScrapeConfig {
  readonly job_name: string;
  readonly scheme?: "http" | "https";
  readonly metrics_path?: string;
  readonly fallback_scrape_protocol?: string;
  readonly kubernetes_sd_configs?: readonly KubernetesSdConfig[];
  readonly static_configs?: readonly { readonly targets: readonly string[]; readonly labels?: Record<string, string> }[];
  readonly tls_config?: TlsConfig;
  readonly authorization?: { readonly credentials_file: string };
  readonly relabel_configs?: readonly RelabelConfig[];
}

/** One remote_write entry, keys as Prometheus spells them; credentials only as files. */
export interface RemoteWrite {
  readonly url: string;
  readonly name?: string;
  readonly remote_timeout?: string;
  readonly basic_auth?: { readonly username: string; readonly password_file: string };
  readonly authorization?: { readonly type: "Bearer"; readonly credentials_file: string };
  readonly tls_config?: TlsConfig;
  readonly queue_config?: Record<string, string | number>;
  readonly write_relabel_configs?: readonly RelabelConfig[];
}

export interface PrometheusFile {
  readonly global: {
    readonly scrape_interval: string;
    readonly scrape_timeout: string;
    readonly evaluation_interval: string;
    readonly external_labels: Record<string, string>;
  };
  readonly rule_files: readonly string[];
  readonly scrape_configs: readonly ScrapeConfig[];
  readonly remote_write?: readonly RemoteWrite[];
  readonly alerting?: AlertingSection;
}

export type MeshMtls = "STRICT" | "PERMISSIVE";

export interface PrometheusConfigInput {
  readonly config: PrometheusConfig;
  /** `cluster` external label. */
  readonly clusterName: string;
  /** `environment` external label. */
  readonly environment: string;
  /** Mesh-wide PeerAuthentication mode: STRICT adds the mTLS job (when config.mtlsScraping). */
  readonly meshMtls: MeshMtls;
  /** Names of the remote-write credential files the Secret holds (remoteWriteFile); a credential is referenced only when present. */
  readonly remoteWriteSecrets?: readonly string[];
  /** The Alertmanager pods to send alerts to (the `alerting:` section); none: alerts stay in Prometheus. */
  readonly alertmanagers?: AlertmanagerTarget;
  /** Base of every alert's runbook_url (obs:alerting.runbookUrl); default: RUNBOOKS_URL. */
  readonly runbookUrl?: string;
}

export const BUILTIN_JOB_NAMES: readonly string[] = Object.values(JOBS);

/** Where prometheus.yml and the rule file live in the pod (a ConfigMap); rule_files are relative to it. */
export const CONFIG_DIR = "/etc/prometheus";
export const CONFIG_FILE = "prometheus.yml";
export const RULES_FILE = "istio-rules.yml";
/** Where the Istio workload certificate lands in the Prometheus container (Istio's documented layout). */
export const ISTIO_CERTS_DIR = "/etc/prom-certs";
/** Port of the Istio agent's merged metrics (and its own /stats/prometheus). */
export const ISTIO_MERGED_METRICS_PORT = 15020;

/** The pod's ServiceAccount token and cluster CA (for the API server and kubelet jobs). */
export const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
// Prometheus 3 refuses a scrape whose Content-Type is missing or unknown unless told what to
// assume; pods are arbitrary apps.
const FALLBACK_PROTOCOL = "PrometheusText0.0.4";

/** The meta label Kubernetes SD gives an annotation or label: non-alphanumerics become `_`. */
export function metaLabel(kind: "pod_annotation" | "pod_label" | "service_annotation" | "service_label", name: string): string {
  return `__meta_kubernetes_${kind}_${name.replace(/[^a-zA-Z0-9_]/g, "_")}`;
}


const POD_SCRAPE = metaLabel("pod_annotation", "prometheus.io/scrape");
const POD_PORT = metaLabel("pod_annotation", "prometheus.io/port");
const POD_PATH = metaLabel("pod_annotation", "prometheus.io/path");
const POD_SCHEME = metaLabel("pod_annotation", "prometheus.io/scheme");
const SIDECAR_STATUS = metaLabel("pod_annotation", "sidecar.istio.io/status");
const MERGED = "__tmp_istio_merged";

/** Whether the mTLS job and the Prometheus cert sidecar are used. */
export function usesMtlsScraping(config: Pick<PrometheusConfig, "mtlsScraping">, meshMtls: MeshMtls): boolean {
  return config.mtlsScraping && meshMtls === "STRICT";
}

const keep = (source: string[], regex: string): RelabelConfig => ({ action: "keep", source_labels: source, regex });
const drop = (source: string[], regex: string): RelabelConfig => ({ action: "drop", source_labels: source, regex });
const replace = (source: string[], regex: string, target: string, replacement = "$1"): RelabelConfig => ({ action: "replace", ...(source.length ? { source_labels: source } : {}), regex, target_label: target, replacement });
const copy = (source: string, target: string): RelabelConfig => replace([source], "(.+)", target);

// Pods that have finished or not started yet answer nothing.
const dropNotRunning = drop(["__meta_kubernetes_pod_phase"], "Pending|Succeeded|Failed|Completed");
const podTargetLabels = [copy("__meta_kubernetes_namespace", "namespace"), copy("__meta_kubernetes_pod_name", "pod")];

/** Scrape the pod IP on the annotated port (IPv6 in brackets); without the annotation, each declared port. */
function podAddressFromAnnotation(): RelabelConfig[] {
  return [
    replace(["__meta_kubernetes_pod_ip", POD_PORT], "(.+:.+);([0-9]+)", "__address__", "[${1}]:${2}"),
    replace(["__meta_kubernetes_pod_ip", POD_PORT], "([^:]+);([0-9]+)", "__address__", "${1}:${2}"),
  ];
}

function sd(role: KubernetesSdConfig["role"], namespaces?: readonly string[]): KubernetesSdConfig[] {
  return [namespaces ? { role, namespaces: { names: namespaces } } : { role }];
}

/**
 * A mesh scrape job, once for both modes: the server renders it as a scrape_config
 * (toScrapeConfig), operator mode as a PodMonitor or ServiceMonitor (operator.ts). Only what both
 * express goes here: the discovery role, an optional fixed namespace, a Service port name, the
 * scheme and path, and relabelings that read meta labels both discovery roles of a Service
 * (endpoints, endpointslice) and the pod role share.
 */
export interface MeshJob {
  readonly name: string;
  /** pod: every pod (PodMonitor); service: the endpoints of every Service (ServiceMonitor). */
  readonly role: "pod" | "service";
  /** Only this namespace; else every namespace but the excluded ones. */
  readonly namespace?: string;
  /** role service: only this named port of the Service. */
  readonly port?: string;
  readonly scheme?: "https";
  readonly metricsPath?: string;
  /** Workload-certificate files (the server's cert sidecar): a server-only job, operator mode cannot mount them. */
  readonly tlsFiles?: TlsConfig;
  /** Pods are arbitrary apps: tell Prometheus 3 what to assume for a missing Content-Type. */
  readonly fallbackProtocol?: string;
  readonly relabelings: readonly RelabelConfig[];
}

/** What the mesh jobs take from the config. */
export interface MeshJobOptions {
  /** The mTLS job (and the kubernetes-pods job leaving unmerged injected pods to it). */
  readonly mtls: boolean;
  /** Namespaces never scraped by the cluster-wide jobs. */
  readonly excludeNamespaces: readonly string[];
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Drops targets in the excluded namespaces (none: no rule). */
function excluded(namespaces: readonly string[]): RelabelConfig[] {
  return namespaces.length ? [drop(["__meta_kubernetes_namespace"], [...namespaces].sort().map(escapeRegex).join("|"))] : [];
}

export function istiodJob(): MeshJob {
  return {
    name: JOBS.istiod,
    role: "service",
    namespace: ISTIO_NAMESPACE,
    port: "http-monitoring",
    relabelings: [
      // `istiod` (default install) and `istiod-<revision>` for every revision.
      keep(["__meta_kubernetes_service_name"], "istiod(-[a-z0-9-]+)?"),
      copy(metaLabel("service_label", "istio.io/rev"), "revision"),
      ...podTargetLabels,
    ],
  };
}

/** Envoy's own stats on 15090, for sidecars and gateways whose metrics are not merged. */
export function envoyStatsJob(o: MeshJobOptions): MeshJob {
  return {
    name: JOBS.envoy,
    role: "pod",
    metricsPath: "/stats/prometheus",
    fallbackProtocol: FALLBACK_PROTOCOL,
    relabelings: [
      ...excluded(o.excludeNamespaces),
      keep(["__meta_kubernetes_pod_container_port_name"], ".*-envoy-prom"),
      // Merged pods serve these series on 15020 already (kubernetes-pods).
      drop([POD_SCRAPE, POD_PORT], `true;${ISTIO_MERGED_METRICS_PORT}`),
      dropNotRunning,
      ...podTargetLabels,
    ],
  };
}

/** Pods annotated prometheus.io/scrape: "true", merged Istio pods included. */
export function annotatedPodsJob(o: MeshJobOptions): MeshJob {
  const leaveToMtlsJob: RelabelConfig[] = o.mtls
    ? [replace([POD_PORT], String(ISTIO_MERGED_METRICS_PORT), MERGED, "true"), drop([SIDECAR_STATUS, MERGED], ".+;")]
    : [];
  return {
    name: JOBS.pods,
    role: "pod",
    fallbackProtocol: FALLBACK_PROTOCOL,
    relabelings: [
      ...excluded(o.excludeNamespaces),
      keep([POD_SCRAPE], "true"),
      drop([metaLabel("pod_label", "app")], "istiod"),
      dropNotRunning,
      ...leaveToMtlsJob,
      replace([POD_SCHEME], "(https?)", "__scheme__"),
      replace([POD_PATH], "(.+)", "__metrics_path__"),
      ...podAddressFromAnnotation(),
      ...podTargetLabels,
    ],
  };
}

/** Injected, unmerged, annotated pods under STRICT mTLS, through their sidecar with the workload cert. */
export function mtlsPodsJob(o: MeshJobOptions): MeshJob {
  return {
    name: JOBS.podsMtls,
    role: "pod",
    scheme: "https",
    fallbackProtocol: FALLBACK_PROTOCOL,
    tlsFiles: {
      ca_file: `${ISTIO_CERTS_DIR}/root-cert.pem`,
      cert_file: `${ISTIO_CERTS_DIR}/cert-chain.pem`,
      key_file: `${ISTIO_CERTS_DIR}/key.pem`,
      // Istio's documented setting: the peer's identity is a SPIFFE URI SAN, not a host name
      // Prometheus could verify, so the chain is trusted by the mesh CA and the name is skipped.
      insecure_skip_verify: true,
    },
    relabelings: [
      ...excluded(o.excludeNamespaces),
      keep([POD_SCRAPE], "true"),
      keep([SIDECAR_STATUS], ".+"),
      drop([POD_PORT], String(ISTIO_MERGED_METRICS_PORT)),
      dropNotRunning,
      replace([POD_PATH], "(.+)", "__metrics_path__"),
      ...podAddressFromAnnotation(),
      ...podTargetLabels,
    ],
  };
}

/** Endpoints of Services annotated prometheus.io/scrape: "true" (annotate a Service or its pods, not both). */
export function serviceEndpointsJob(o: MeshJobOptions): MeshJob {
  const ann = (n: string) => metaLabel("service_annotation", `prometheus.io/${n}`);
  return {
    name: JOBS.serviceEndpoints,
    role: "service",
    fallbackProtocol: FALLBACK_PROTOCOL,
    relabelings: [
      ...excluded(o.excludeNamespaces),
      keep([ann("scrape")], "true"),
      replace([ann("scheme")], "(https?)", "__scheme__"),
      replace([ann("path")], "(.+)", "__metrics_path__"),
      // host[:port] (IPv6 already bracketed) with the annotated port.
      replace(["__address__", ann("port")], "(.+?)(?::[0-9]+)?;([0-9]+)", "__address__", "${1}:${2}"),
      copy("__meta_kubernetes_namespace", "namespace"),
      copy("__meta_kubernetes_service_name", "service"),
      copy("__meta_kubernetes_pod_name", "pod"),
    ],
  };
}

/** The mesh's jobs in scrape order: the one definition both modes render. */
export function meshJobs(o: MeshJobOptions): MeshJob[] {
  return [istiodJob(), envoyStatsJob(o), annotatedPodsJob(o), ...(o.mtls ? [mtlsPodsJob(o)] : []), serviceEndpointsJob(o)];
}

/** A mesh job as a plain Prometheus scrape_config (endpointslice discovery for Services). */
export function toScrapeConfig(j: MeshJob): ScrapeConfig {
  const role = j.role === "pod" ? "pod" : "endpointslice";
  return {
    job_name: j.name,
    ...(j.scheme ? { scheme: j.scheme } : {}),
    ...(j.metricsPath ? { metrics_path: j.metricsPath } : {}),
    ...(j.fallbackProtocol ? { fallback_scrape_protocol: j.fallbackProtocol } : {}),
    kubernetes_sd_configs: sd(role, j.namespace ? [j.namespace] : undefined),
    ...(j.tlsFiles ? { tls_config: j.tlsFiles } : {}),
    relabel_configs: [...(j.port ? [keep(["__meta_kubernetes_endpointslice_port_name"], escapeRegex(j.port))] : []), ...j.relabelings],
  };
}

const SA_DIR_TLS = { ca_file: `${SA_DIR}/ca.crt` };
const inCluster = { scheme: "https" as const, tls_config: SA_DIR_TLS, authorization: { credentials_file: `${SA_DIR}/token` } };

export function apiserversJob(): ScrapeConfig {
  return {
    job_name: JOBS.apiservers,
    ...inCluster,
    kubernetes_sd_configs: sd("endpointslice", ["default"]),
    relabel_configs: [keep(["__meta_kubernetes_service_name", "__meta_kubernetes_endpointslice_port_name"], "kubernetes;https")],
  };
}

/**
 * The kubelet's own port (10250, the address node discovery gives), authorised by the kubelet
 * with `nodes/metrics`; not the API server's node proxy, whose `nodes/proxy` permission would
 * also allow exec into any container.
 */
function kubeletJob(jobName: string, path: string, insecureSkipVerify: boolean): ScrapeConfig {
  return {
    job_name: jobName,
    ...inCluster,
    // Kubelet serving certificates are signed by the cluster CA only with serverTLSBootstrap.
    tls_config: insecureSkipVerify ? { ...SA_DIR_TLS, insecure_skip_verify: true } : SA_DIR_TLS,
    ...(path !== "/metrics" ? { metrics_path: path } : {}),
    kubernetes_sd_configs: sd("node"),
    relabel_configs: [copy("__meta_kubernetes_node_name", "node")],
  };
}

export const kubeletMetricsJob = (insecureSkipVerify = false) => kubeletJob(JOBS.nodes, "/metrics", insecureSkipVerify);
export const cadvisorJob = (insecureSkipVerify = false) => kubeletJob(JOBS.cadvisor, "/metrics/cadvisor", insecureSkipVerify);

/** Prometheus itself: the TSDB and config-reload alerts need its own metrics. */
export function selfJob(): ScrapeConfig {
  return { job_name: JOBS.prometheus, static_configs: [{ targets: ["localhost:9090"] }] };
}

export function extraJobs(config: Pick<PrometheusConfig, "extraScrapeConfigs">): ScrapeConfig[] {
  return config.extraScrapeConfigs.map((j) => ({ job_name: j.jobName, scheme: j.scheme, metrics_path: j.metricsPath, static_configs: [{ targets: [...j.staticTargets] }] }));
}

/** The external label that tells the replicas apart (downstream deduplication); its value is the pod's name. */
export const REPLICA_LABEL = "replica";
/** The container's environment variable holding the pod name; Prometheus expands `${VAR}` in external labels. */
export const POD_NAME_ENV = "POD_NAME";

/** Where the remote-write credentials (a Secret) are mounted, apart from the ConfigMap. */
export const SECRETS_DIR = "/etc/prometheus-secrets";
export type RemoteWriteCredential = "password" | "bearer-token" | "tls-key";
/** The file (Secret key) of one remote-write endpoint's credential; the endpoint's list index names it. */
export const remoteWriteFile = (index: number, what: RemoteWriteCredential): string => `remote-write-${index}-${what}`;
/** The ConfigMap file of a remote-write endpoint's CA or client certificate (public, not secret). */
export const remoteWritePem = (index: number, what: "ca" | "cert"): string => `remote-write-${index}-${what}.pem`;

const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

export function remoteWrites(config: Pick<PrometheusConfig, "remoteWrite">, secrets: readonly string[] = []): RemoteWrite[] {
  const has = (f: string) => secrets.includes(f);
  return config.remoteWrite.map((w, i) => {
    const tls: TlsConfig = {
      ...(w.tls.ca ? { ca_file: `${CONFIG_DIR}/${remoteWritePem(i, "ca")}` } : {}),
      ...(w.tls.cert ? { cert_file: `${CONFIG_DIR}/${remoteWritePem(i, "cert")}` } : {}),
      ...(has(remoteWriteFile(i, "tls-key")) ? { key_file: `${SECRETS_DIR}/${remoteWriteFile(i, "tls-key")}` } : {}),
      ...(w.tls.serverName ? { server_name: w.tls.serverName } : {}),
      ...(w.tls.insecureSkipVerify ? { insecure_skip_verify: true } : {}),
    };
    const queue = Object.fromEntries(Object.entries(w.queue).filter(([, v]) => v !== undefined && v !== "").map(([k, v]) => [snake(k), v as string | number]));
    return {
      url: w.url,
      ...(w.name ? { name: w.name } : {}),
      ...(w.remoteTimeout ? { remote_timeout: w.remoteTimeout } : {}),
      ...(w.basicAuth.username ? { basic_auth: { username: w.basicAuth.username, password_file: `${SECRETS_DIR}/${remoteWriteFile(i, "password")}` } } : {}),
      ...(has(remoteWriteFile(i, "bearer-token")) ? { authorization: { type: "Bearer" as const, credentials_file: `${SECRETS_DIR}/${remoteWriteFile(i, "bearer-token")}` } } : {}),
      ...(Object.keys(tls).length ? { tls_config: tls } : {}),
      ...(Object.keys(queue).length ? { queue_config: queue } : {}),
      ...(w.writeRelabelConfigs.length
        ? {
            write_relabel_configs: w.writeRelabelConfigs.map((r) => ({
              action: r.action,
              ...(r.sourceLabels.length ? { source_labels: r.sourceLabels } : {}),
              ...(r.separator !== undefined ? { separator: r.separator } : {}),
              ...(r.regex !== undefined ? { regex: r.regex } : {}),
              ...(r.targetLabel ? { target_label: r.targetLabel } : {}),
              ...(r.replacement !== undefined ? { replacement: r.replacement } : {}),
            })),
          }
        : {}),
    };
  });
}

/** The public PEM files of the remote-write endpoints (CA, client certificate), for the ConfigMap. */
export function remoteWritePems(config: Pick<PrometheusConfig, "remoteWrite">): Record<string, string> {
  return Object.fromEntries(
    config.remoteWrite.flatMap((w, i) => [...(w.tls.ca ? [[remoteWritePem(i, "ca"), w.tls.ca]] : []), ...(w.tls.cert ? [[remoteWritePem(i, "cert"), w.tls.cert]] : [])]),
  );
}

export function buildPrometheusConfig(input: PrometheusConfigInput): PrometheusFile {
  const { config } = input;
  const mtls = usesMtlsScraping(config, input.meshMtls);
  const [istiod, ...workloads] = meshJobs({ mtls, excludeNamespaces: config.excludeNamespaces }).map(toScrapeConfig);
  const remote = remoteWrites(config, input.remoteWriteSecrets);
  return {
    global: {
      scrape_interval: config.scrapeInterval,
      scrape_timeout: config.scrapeTimeout,
      evaluation_interval: config.scrapeInterval,
      external_labels: { cluster: input.clusterName, environment: input.environment, [REPLICA_LABEL]: `\${${POD_NAME_ENV}}` },
    },
    rule_files: [RULES_FILE],
    scrape_configs: [selfJob(), istiod!, ...workloads, apiserversJob(), kubeletMetricsJob(config.kubeletInsecureSkipVerify), cadvisorJob(config.kubeletInsecureSkipVerify), ...extraJobs(config)],
    ...(remote.length ? { remote_write: remote } : {}),
    ...(input.alertmanagers ? { alerting: alertingSection(input.alertmanagers, REPLICA_LABEL) } : {}),
  };
}

export function renderPrometheusYaml(input: PrometheusConfigInput): string {
  return stringify(buildPrometheusConfig(input), { lineWidth: 0, aliasDuplicateObjects: false });
}
