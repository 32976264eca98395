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
import { stringify } from "yaml";
import { ISTIO_NAMESPACE } from "../k8s/labels.js";
import { JOBS } from "../mesh/metrics.js";
import type { PrometheusConfig } from "./config.js";

export type RelabelAction = "replace" | "keep" | "drop" | "labelmap" | "labeldrop" | "labelkeep";

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

export interface PrometheusFile {
  readonly global: {
    readonly scrape_interval: string;
    readonly scrape_timeout: string;
    readonly evaluation_interval: string;
    readonly external_labels: Record<string, string>;
  };
  readonly rule_files: readonly string[];
  readonly scrape_configs: readonly ScrapeConfig[];
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
  /** Namespaces whose pods and services are scraped (istio-system is always added); all when absent. */
  readonly namespaces?: readonly string[];
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

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
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

export function istiodJob(): ScrapeConfig {
  return {
    job_name: JOBS.istiod,
    kubernetes_sd_configs: sd("endpointslice", [ISTIO_NAMESPACE]),
    relabel_configs: [
      // `istiod` (default install) and `istiod-<revision>` for every revision; only the monitoring port.
      keep(["__meta_kubernetes_service_name", "__meta_kubernetes_endpointslice_port_name"], "istiod(-[a-z0-9-]+)?;http-monitoring"),
      copy(metaLabel("service_label", "istio.io/rev"), "revision"),
      ...podTargetLabels,
    ],
  };
}

/** Envoy's own stats on 15090, for sidecars and gateways whose metrics are not merged. */
export function envoyStatsJob(namespaces?: readonly string[]): ScrapeConfig {
  return {
    job_name: JOBS.envoy,
    metrics_path: "/stats/prometheus",
    fallback_scrape_protocol: FALLBACK_PROTOCOL,
    kubernetes_sd_configs: sd("pod", namespaces),
    relabel_configs: [
      keep(["__meta_kubernetes_pod_container_port_name"], ".*-envoy-prom"),
      // Merged pods serve these series on 15020 already (kubernetes-pods).
      drop([POD_SCRAPE, POD_PORT], `true;${ISTIO_MERGED_METRICS_PORT}`),
      dropNotRunning,
      ...podTargetLabels,
    ],
  };
}

/** Pods annotated prometheus.io/scrape: "true", merged Istio pods included. */
export function annotatedPodsJob(opts: { namespaces?: readonly string[]; mtls: boolean }): ScrapeConfig {
  const leaveToMtlsJob: RelabelConfig[] = opts.mtls
    ? [replace([POD_PORT], String(ISTIO_MERGED_METRICS_PORT), MERGED, "true"), drop([SIDECAR_STATUS, MERGED], ".+;")]
    : [];
  return {
    job_name: JOBS.pods,
    fallback_scrape_protocol: FALLBACK_PROTOCOL,
    kubernetes_sd_configs: sd("pod", opts.namespaces),
    relabel_configs: [
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
export function mtlsPodsJob(namespaces?: readonly string[]): ScrapeConfig {
  return {
    job_name: JOBS.podsMtls,
    scheme: "https",
    fallback_scrape_protocol: FALLBACK_PROTOCOL,
    kubernetes_sd_configs: sd("pod", namespaces),
    tls_config: {
      ca_file: `${ISTIO_CERTS_DIR}/root-cert.pem`,
      cert_file: `${ISTIO_CERTS_DIR}/cert-chain.pem`,
      key_file: `${ISTIO_CERTS_DIR}/key.pem`,
      // Istio's documented setting: the peer's identity is a SPIFFE URI SAN, not a host name
      // Prometheus could verify, so the chain is trusted by the mesh CA and the name is skipped.
      insecure_skip_verify: true,
    },
    relabel_configs: [
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
export function serviceEndpointsJob(namespaces?: readonly string[]): ScrapeConfig {
  const ann = (n: string) => metaLabel("service_annotation", `prometheus.io/${n}`);
  return {
    job_name: JOBS.serviceEndpoints,
    fallback_scrape_protocol: FALLBACK_PROTOCOL,
    kubernetes_sd_configs: sd("endpointslice", namespaces),
    relabel_configs: [
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

const inCluster = { scheme: "https" as const, tls_config: { ca_file: `${SA_DIR}/ca.crt` }, authorization: { credentials_file: `${SA_DIR}/token` } };

export function apiserversJob(): ScrapeConfig {
  return {
    job_name: JOBS.apiservers,
    ...inCluster,
    kubernetes_sd_configs: sd("endpointslice", ["default"]),
    relabel_configs: [keep(["__meta_kubernetes_service_name", "__meta_kubernetes_endpointslice_port_name"], "kubernetes;https")],
  };
}

/** Kubelet metrics through the API server's node proxy (no direct route to kubelets needed). */
function nodeProxyJob(jobName: string, suffix: string): ScrapeConfig {
  return {
    job_name: jobName,
    ...inCluster,
    kubernetes_sd_configs: sd("node"),
    relabel_configs: [
      replace([], "(.*)", "__address__", "kubernetes.default.svc:443"),
      replace(["__meta_kubernetes_node_name"], "(.+)", "__metrics_path__", `/api/v1/nodes/\${1}/proxy${suffix}`),
      copy("__meta_kubernetes_node_name", "node"),
    ],
  };
}

export const kubeletJob = () => nodeProxyJob(JOBS.nodes, "/metrics");
export const cadvisorJob = () => nodeProxyJob(JOBS.cadvisor, "/metrics/cadvisor");

/** Prometheus itself: the TSDB and config-reload alerts need its own metrics. */
export function selfJob(): ScrapeConfig {
  return { job_name: JOBS.prometheus, static_configs: [{ targets: ["localhost:9090"] }] };
}

export function extraJobs(config: Pick<PrometheusConfig, "extraScrapeConfigs">): ScrapeConfig[] {
  return config.extraScrapeConfigs.map((j) => ({ job_name: j.jobName, scheme: j.scheme, metrics_path: j.metricsPath, static_configs: [{ targets: [...j.staticTargets] }] }));
}

/** The namespaces list for pod and service discovery: the given ones plus istio-system (gateways), or all. */
export function scrapeNamespaces(namespaces?: readonly string[]): string[] | undefined {
  return namespaces ? [...new Set([...namespaces, ISTIO_NAMESPACE])].sort() : undefined;
}

export function buildPrometheusConfig(input: PrometheusConfigInput): PrometheusFile {
  const { config } = input;
  const ns = scrapeNamespaces(input.namespaces);
  const mtls = usesMtlsScraping(config, input.meshMtls);
  return {
    global: {
      scrape_interval: config.scrapeInterval,
      scrape_timeout: config.scrapeTimeout,
      evaluation_interval: config.scrapeInterval,
      external_labels: { cluster: input.clusterName, environment: input.environment },
    },
    rule_files: [RULES_FILE],
    scrape_configs: [
      selfJob(),
      istiodJob(),
      envoyStatsJob(ns),
      annotatedPodsJob({ namespaces: ns, mtls }),
      ...(mtls ? [mtlsPodsJob(ns)] : []),
      serviceEndpointsJob(ns),
      apiserversJob(),
      kubeletJob(),
      cadvisorJob(),
      ...extraJobs(config),
    ],
  };
}

export function renderPrometheusYaml(input: PrometheusConfigInput): string {
  return stringify(buildPrometheusConfig(input), { lineWidth: 0, aliasDuplicateObjects: false });
}
