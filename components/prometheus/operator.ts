// Operator mode (`obs:prometheus.mode: operator`): no Prometheus server; the mesh jobs and the
// rules become PodMonitor, ServiceMonitor, ScrapeConfig and PrometheusRule objects for an
// existing Prometheus Operator (kube-prometheus-stack). They are built from the same MeshJob
// definitions (scrape.ts) and rule groups (rules.ts) as the server's prometheus.yml.
import * as pulumi from "@pulumi/pulumi";
import { JOBS } from "../mesh/metrics.js";
import { labels as recipeLabels } from "../k8s/labels.js";
import { type KubeObjectResource, registerObjects } from "../k8s/objects.js";
import type { PrometheusConfig } from "./config.js";
import { buildRules } from "./rules.js";
import { type MeshJob, meshJobs, type MeshMtls, type RelabelConfig, usesMtlsScraping } from "./scrape.js";

export const MONITORING_API = "monitoring.coreos.com/v1";
export const SCRAPE_CONFIG_API = "monitoring.coreos.com/v1alpha1";

/**
 * Server jobs operator mode leaves out, and why: a Prometheus Operator installation already
 * scrapes its own Prometheus, the API server and the kubelets (kube-prometheus-stack's
 * prometheus, apiserver and kubelet ServiceMonitors); a second copy would scrape them twice.
 */
export const SERVER_ONLY_JOBS: Readonly<Record<string, string>> = {
  [JOBS.prometheus]: "the operator's Prometheus scrapes itself",
  [JOBS.apiservers]: "kube-prometheus-stack's apiserver ServiceMonitor",
  [JOBS.nodes]: "kube-prometheus-stack's kubelet ServiceMonitor",
  [JOBS.cadvisor]: "kube-prometheus-stack's kubelet ServiceMonitor (/metrics/cadvisor)",
};

/** A Kubernetes object as plain data. */
export interface MonitorObject {
  readonly apiVersion: string;
  readonly kind: "PodMonitor" | "ServiceMonitor" | "ScrapeConfig" | "PrometheusRule";
  readonly metadata: { readonly name: string; readonly namespace: string; readonly labels: Record<string, string> };
  readonly spec: Record<string, unknown>;
}

export interface OperatorInput {
  readonly config: PrometheusConfig;
  readonly meshMtls: MeshMtls;
  /** Namespace of the objects. */
  readonly namespace: string;
  /** Prefix of the object names. */
  readonly name: string;
  /** Labels every object carries (the component's recipe labels); config.operator.selectorLabels win. */
  readonly labels: Record<string, string>;
  /** Base of every alert's runbook_url (obs:alerting.runbookUrl); default: RUNBOOKS_URL. */
  readonly runbookUrl?: string;
}

/** A relabel_config in the operator's spelling (camelCase keys). */
export function operatorRelabeling(r: RelabelConfig): Record<string, unknown> {
  return {
    action: r.action,
    ...(r.source_labels ? { sourceLabels: [...r.source_labels] } : {}),
    ...(r.separator !== undefined ? { separator: r.separator } : {}),
    ...(r.regex !== undefined ? { regex: r.regex } : {}),
    ...(r.target_label !== undefined ? { targetLabel: r.target_label } : {}),
    ...(r.replacement !== undefined ? { replacement: r.replacement } : {}),
  };
}

/** The operator names a job `<namespace>/<object>`: ours keep their names, so rules and dashboards match. */
const jobLabel = (name: string): RelabelConfig => ({ action: "replace", target_label: "job", replacement: name });

function endpoint(j: MeshJob): Record<string, unknown> {
  return {
    ...(j.port ? { port: j.port } : {}),
    ...(j.scheme ? { scheme: j.scheme } : {}),
    ...(j.metricsPath ? { path: j.metricsPath } : {}),
    relabelings: [...j.relabelings, jobLabel(j.name)].map(operatorRelabeling),
  };
}

/** A mesh job as a PodMonitor (role pod) or ServiceMonitor (role service); selection is by relabeling, so every object in the namespaces is a candidate. */
export function meshMonitor(j: MeshJob, meta: { name: string; namespace: string; labels: Record<string, string> }): MonitorObject {
  if (j.tlsFiles) throw new Error(`job ${j.name} reads certificate files that only the stack's own Prometheus has`);
  const common = {
    selector: {},
    namespaceSelector: j.namespace ? { matchNames: [j.namespace] } : { any: true },
    ...(j.fallbackProtocol ? { fallbackScrapeProtocol: j.fallbackProtocol } : {}),
  };
  return j.role === "pod"
    ? { apiVersion: MONITORING_API, kind: "PodMonitor", metadata: meta, spec: { ...common, podMetricsEndpoints: [endpoint(j)] } }
    : { apiVersion: MONITORING_API, kind: "ServiceMonitor", metadata: meta, spec: { ...common, endpoints: [endpoint(j)] } };
}

/** Kubernetes object names: the job's name, lowercased, `_` as `-`. */
const objectName = (prefix: string, job: string) => `${prefix}-${job.toLowerCase().replace(/_/g, "-")}`;

/** Every object of operator mode: one monitor per mesh job, one ScrapeConfig per extra static job, one PrometheusRule. */
export function operatorObjects(i: OperatorInput): MonitorObject[] {
  const labels = { ...i.labels, ...i.config.operator.selectorLabels };
  const meta = (name: string) => ({ name, namespace: i.namespace, labels });
  const jobs = meshJobs({ mtls: usesMtlsScraping(i.config, i.meshMtls), excludeNamespaces: i.config.excludeNamespaces });
  return [
    ...jobs.map((j) => meshMonitor(j, meta(objectName(i.name, j.name)))),
    ...i.config.extraScrapeConfigs.map(
      (j): MonitorObject => ({
        apiVersion: SCRAPE_CONFIG_API,
        kind: "ScrapeConfig",
        metadata: meta(objectName(i.name, j.jobName)),
        spec: { jobName: j.jobName, scheme: j.scheme.toUpperCase(), metricsPath: j.metricsPath, staticConfigs: [{ targets: [...j.staticTargets] }] },
      }),
    ),
    { apiVersion: MONITORING_API, kind: "PrometheusRule", metadata: meta(`${i.name}-rules`), spec: { groups: structuredClone(buildRules({ runbookBaseUrl: i.runbookUrl }).groups) } },
  ];
}

export interface PrometheusMonitorsArgs {
  /** Namespace of the objects (must exist). */
  readonly namespace: string;
  /** The parsed `obs:prometheus` section (mode operator). */
  readonly config: PrometheusConfig;
  /** Mesh-wide mTLS mode (the config refuses mtlsScraping under STRICT in this mode). */
  readonly meshMtls: MeshMtls;
  /** Base of every alert's runbook_url (obs:alerting.runbookUrl). */
  readonly runbookUrl?: string;
}

/** The stack's jobs and rules for an existing Prometheus Operator; its CRDs must be installed. */
export class PrometheusMonitors extends pulumi.ComponentResource {
  readonly objects: KubeObjectResource[];

  constructor(name: string, args: PrometheusMonitorsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("obs:prometheus:PrometheusMonitors", name, {}, opts);
    const objects = operatorObjects({ config: args.config, meshMtls: args.meshMtls, namespace: args.namespace, name, labels: recipeLabels("prometheus", name, "metrics"), runbookUrl: args.runbookUrl });
    this.objects = registerObjects(name, objects.map((o) => ({ ...o })), { parent: this });
    this.registerOutputs({ objects: objects.map((o) => `${o.kind}/${o.metadata.name}`) });
  }
}
