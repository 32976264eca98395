// The Prometheus server's Kubernetes shapes (pod, StatefulSet spec, RBAC rules), built by pure
// functions so they are tested without the Pulumi engine; the component only registers them.
import type * as k8s from "@pulumi/kubernetes";
import { contentHash } from "../k8s/hash.js";
import { apartOnNodes } from "../k8s/spread.js";
import type { PrometheusConfig } from "./config.js";
import { renderRulesYaml } from "./rules.js";
import { CONFIG_DIR, CONFIG_FILE, ISTIO_CERTS_DIR, POD_NAME_ENV, type PrometheusConfigInput, remoteWritePems, renderPrometheusYaml, RULES_FILE, SECRETS_DIR } from "./scrape.js";

export const PROMETHEUS_IMAGE = "prom/prometheus:v3.5.1";
export const PROMETHEUS_PORT = 9090;
export const DATA_DIR = "/prometheus";
const NOBODY = 65534;
export const CONFIG_HASH_ANNOTATION = "checksum/config";

/** ConfigMap data: prometheus.yml and the rule file, side by side (rule_files is relative), and the remote-write endpoints' public certificates. */
export function prometheusFiles(input: PrometheusConfigInput): Record<string, string> {
  return { [CONFIG_FILE]: renderPrometheusYaml(input), [RULES_FILE]: renderRulesYaml({ runbookBaseUrl: input.runbookUrl }), ...remoteWritePems(input.config) };
}

export function configHash(files: Record<string, string>): string {
  const names = Object.keys(files).sort();
  // name, content, ... and a trailing separator: the same value as before contentHash was shared
  return contentHash(...names.flatMap((k) => [k, files[k]!]), "");
}

/** What Prometheus needs to discover and scrape targets. */
export function clusterRoleRules(): k8s.types.input.rbac.v1.PolicyRule[] {
  const read = ["get", "list", "watch"];
  return [
    // nodes/metrics: the kubelet's /metrics and /metrics/cadvisor on its own port; never
    // nodes/proxy, which also reaches the kubelet's exec and attach.
    { apiGroups: [""], resources: ["nodes", "services", "endpoints", "pods"], verbs: read },
    { apiGroups: [""], resources: ["nodes/metrics"], verbs: ["get"] },
    { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: read },
    { nonResourceURLs: ["/metrics"], verbs: ["get"] },
  ];
}

/**
 * Istio's documented recipe for Prometheus to hold a workload certificate: a sidecar that
 * intercepts nothing (no inbound ports, no outbound ranges) and only writes its certificate
 * files to a shared volume, which the Prometheus container mounts at /etc/prom-certs/.
 */
export const ISTIO_CERT_ANNOTATIONS: Readonly<Record<string, string>> = {
  "traffic.sidecar.istio.io/includeInboundPorts": "",
  "traffic.sidecar.istio.io/includeOutboundIPRanges": "",
  // nothing to intercept, so no istio-init (root, NET_ADMIN, NET_RAW): the pod passes Pod Security
  // `restricted` in the observability namespace (checked on the pinned 1.30 kube-inject output)
  "sidecar.istio.io/interceptionMode": "NONE",
  // Prometheus must not depend on the control plane it watches: with istiod down its sidecar
  // never gets ready, and Prometheus still starts (so IstiodDown can fire), whatever the mesh's
  // holdApplicationUntilProxyStarts says.
  "proxy.istio.io/config": JSON.stringify({ holdApplicationUntilProxyStarts: false, proxyMetadata: { OUTPUT_CERTS: "/etc/istio-output-certs" } }),
  "sidecar.istio.io/userVolumeMount": JSON.stringify([{ name: "istio-certs", mountPath: "/etc/istio-output-certs" }]),
};

export function prometheusArgs(config: PrometheusConfig): string[] {
  return [
    `--config.file=${CONFIG_DIR}/${CONFIG_FILE}`,
    `--storage.tsdb.path=${DATA_DIR}`,
    `--storage.tsdb.retention.time=${config.retentionTime}`,
    ...(config.retentionSize ? [`--storage.tsdb.retention.size=${config.retentionSize}`] : []),
    // No --web.enable-lifecycle: /-/reload and /-/quit would be open, unauthenticated, to every
    // pod that reaches port 9090. A config change rolls the pod (config hash annotation).
  ];
}

/** With two or more replicas, a voluntary disruption (node drain) takes one at a time, so one keeps scraping. */
export function disruptionBudgetSpec(selector: Record<string, string>): k8s.types.input.policy.v1.PodDisruptionBudgetSpec {
  return { maxUnavailable: 1, selector: { matchLabels: selector } };
}

export interface StatefulSetSpecInput {
  readonly config: PrometheusConfig;
  readonly selector: Record<string, string>;
  readonly labels: Record<string, string>;
  readonly serviceName: string;
  readonly serviceAccountName: string;
  readonly configMapName: string;
  readonly configHash: string;
  /** Mount the Istio workload certificate (see ISTIO_CERT_ANNOTATIONS). */
  readonly mtls: boolean;
  /** Revision or tag whose injector adds the cert sidecar (pod label istio.io/rev); else the namespace's or the default one. */
  readonly istioRevision?: string;
  /** Keep the data volumes when the StatefulSet is deleted. */
  readonly retainOnDelete: boolean;
  /** Secret with the remote-write credentials, mounted at SECRETS_DIR (Prometheus re-reads the files, so a rotation needs no restart). */
  readonly secretName?: string;
}

export function statefulSetSpec(i: StatefulSetSpecInput): k8s.types.input.apps.v1.StatefulSetSpec {
  const { config } = i;
  const probe = (path: string, failureThreshold: number) => ({ httpGet: { path, port: PROMETHEUS_PORT }, periodSeconds: 10, timeoutSeconds: 5, failureThreshold });
  return {
    replicas: config.replicas,
    serviceName: i.serviceName,
    selector: { matchLabels: i.selector },
    // Retention of the data is the PVCs' business, so it also holds when someone deletes the
    // StatefulSet by hand; whenScaled stays Retain so a scale-down never loses data.
    persistentVolumeClaimRetentionPolicy: { whenDeleted: i.retainOnDelete ? "Retain" : "Delete", whenScaled: "Retain" },
    template: {
      metadata: {
        labels: { ...i.labels, "sidecar.istio.io/inject": i.mtls ? "true" : "false", ...(i.mtls && i.istioRevision ? { "istio.io/rev": i.istioRevision } : {}) },
        annotations: { [CONFIG_HASH_ANNOTATION]: i.configHash, ...(i.mtls ? ISTIO_CERT_ANNOTATIONS : {}) },
      },
      spec: {
        serviceAccountName: i.serviceAccountName,
        // Replicas on different nodes where the scheduler can (one node's loss keeps one scraping).
        ...(config.replicas > 1 ? { affinity: apartOnNodes(i.selector) } : {}),
        securityContext: { runAsNonRoot: true, runAsUser: NOBODY, runAsGroup: NOBODY, fsGroup: NOBODY, seccompProfile: { type: "RuntimeDefault" } },
        // Time to finish the head block write on shutdown instead of replaying the WAL on start.
        terminationGracePeriodSeconds: 300,
        containers: [
          {
            name: "prometheus",
            image: PROMETHEUS_IMAGE,
            args: prometheusArgs(config),
            // the `replica` external label (REPLICA_LABEL) is this pod's name
            env: [{ name: POD_NAME_ENV, valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
            ports: [{ name: "http-web", containerPort: PROMETHEUS_PORT }],
            readinessProbe: probe("/-/ready", 3),
            // Generous: WAL replay after a restart can take minutes before /-/ready.
            livenessProbe: { ...probe("/-/healthy", 6), initialDelaySeconds: 30 },
            resources: { requests: { ...config.resources.requests }, limits: { ...config.resources.limits } },
            securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities: { drop: ["ALL"] } },
            volumeMounts: [
              { name: "config", mountPath: CONFIG_DIR, readOnly: true },
              { name: "data", mountPath: DATA_DIR },
              ...(i.mtls ? [{ name: "istio-certs", mountPath: `${ISTIO_CERTS_DIR}/`, readOnly: true }] : []),
              ...(i.secretName ? [{ name: "secrets", mountPath: SECRETS_DIR, readOnly: true }] : []),
            ],
          },
        ],
        volumes: [
          { name: "config", configMap: { name: i.configMapName } },
          ...(i.mtls ? [{ name: "istio-certs", emptyDir: { medium: "Memory" } }] : []),
          ...(i.secretName ? [{ name: "secrets", secret: { secretName: i.secretName } }] : []),
        ],
      },
    },
    volumeClaimTemplates: [
      {
        metadata: { name: "data" },
        spec: {
          accessModes: ["ReadWriteOnce"],
          resources: { requests: { storage: config.storageSize } },
          // Omitted rather than "": an empty storageClassName means "no class", not the default one.
          ...(config.storageClass ? { storageClassName: config.storageClass } : {}),
        },
      },
    ],
  };
}
