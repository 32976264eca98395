// Alertmanager's Kubernetes shapes, built by pure functions: a StatefulSet behind a headless
// Service (pod i is `<name>-i.<name>.<ns>.svc.<domain>`, the gossip peers), a data volume per
// pod for silences and the notification log, and a PodDisruptionBudget when clustered.
import type * as k8s from "@pulumi/kubernetes";
import { type HeadlessStatefulSet, headlessStatefulSet, DATA_VOLUME } from "../../k8s/statefulset.js";
import { podHost } from "../../k8s/hosts.js";
import { apartOnNodes, overZones } from "../../k8s/spread.js";
import { scrapeAnnotations } from "../../mesh/metrics.js";
import type { AlertingConfig } from "./config.js";
import { SECRETS_DIR } from "./alertmanager.js";

export const ALERTMANAGER_IMAGE = "quay.io/prometheus/alertmanager:v0.35.0";
export const WEB_PORT = 9093;
export const CLUSTER_PORT = 9094;
/** Service port names (Istio reads the protocol from the prefix). */
export const WEB_PORT_NAME = "http-web";
export const CLUSTER_PORT_NAME = "tcp-cluster";
export const CONFIG_DIR = "/etc/alertmanager/config";
export const CONFIG_FILE = "alertmanager.yml";
export const DATA_DIR = "/alertmanager";
export const CONFIG_HASH_ANNOTATION = "checksum/config";
const NOBODY = 65534;

/** Gossip peers: every pod by its stable name; none with one replica (clustering off). */
export function clusterPeers(name: string, replicas: number, namespace: string, clusterDomain: string): string[] {
  if (replicas < 2) return [];
  return Array.from({ length: replicas }, (_, i) => `${podHost(name, i, name, namespace, clusterDomain)}:${CLUSTER_PORT}`);
}

export function alertmanagerArgs(config: Pick<AlertingConfig, "retention">, peers: readonly string[]): string[] {
  return [
    `--config.file=${CONFIG_DIR}/${CONFIG_FILE}`,
    `--storage.path=${DATA_DIR}`,
    `--data.retention=${config.retention}`,
    `--web.listen-address=:${WEB_PORT}`,
    // notification metrics labelled with the receiver's name, so AlertmanagerNotificationsFailing names it
    "--enable-feature=receiver-name-in-metrics",
    // An empty listen address turns clustering off: a single replica waits for no peer.
    peers.length ? `--cluster.listen-address=0.0.0.0:${CLUSTER_PORT}` : "--cluster.listen-address=",
    ...(peers.length ? ["--cluster.advertise-address=$(POD_IP):" + CLUSTER_PORT, ...peers.map((p) => `--cluster.peer=${p}`)] : []),
  ];
}

export interface AlertmanagerWorkloadInput {
  readonly name: string;
  readonly namespace: string;
  readonly clusterDomain: string;
  readonly config: AlertingConfig;
  readonly selector: Record<string, string>;
  readonly labels: Record<string, string>;
  readonly configMapName: string;
  readonly secretName: string;
  readonly configHash: string;
}

export function alertmanagerWorkload(i: AlertmanagerWorkloadInput): HeadlessStatefulSet {
  const c = i.config;
  const peers = clusterPeers(i.name, c.replicas, i.namespace, i.clusterDomain);
  const probe = (path: string, failureThreshold: number) => ({ httpGet: { path, port: WEB_PORT }, periodSeconds: 10, timeoutSeconds: 3, failureThreshold });
  const pod: k8s.types.input.core.v1.PodSpec = {
    securityContext: { runAsNonRoot: true, runAsUser: NOBODY, runAsGroup: NOBODY, fsGroup: NOBODY, seccompProfile: { type: "RuntimeDefault" } },
    // Spread over nodes so one node's loss leaves a majority (and its silences) serving.
    affinity: apartOnNodes(i.selector),
    topologySpreadConstraints: c.replicas > 1 ? overZones(i.selector) : undefined,
    containers: [
      {
        name: "alertmanager",
        image: ALERTMANAGER_IMAGE,
        args: alertmanagerArgs(c, peers),
        env: [{ name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } }],
        ports: [
          { name: WEB_PORT_NAME, containerPort: WEB_PORT },
          ...(peers.length ? [{ name: CLUSTER_PORT_NAME, containerPort: CLUSTER_PORT }, { name: "udp-cluster", containerPort: CLUSTER_PORT, protocol: "UDP" }] : []),
        ],
        readinessProbe: probe("/-/ready", 3),
        livenessProbe: { ...probe("/-/healthy", 6), initialDelaySeconds: 10 },
        resources: { requests: { ...c.resources.requests }, limits: { ...c.resources.limits } },
        securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, runAsNonRoot: true, capabilities: { drop: ["ALL"] } },
        volumeMounts: [
          { name: "config", mountPath: CONFIG_DIR, readOnly: true },
          { name: "secrets", mountPath: SECRETS_DIR, readOnly: true },
          { name: DATA_VOLUME, mountPath: DATA_DIR },
        ],
      },
    ],
    volumes: [
      { name: "config", configMap: { name: i.configMapName } },
      { name: "secrets", secret: { secretName: i.secretName } },
    ],
  };
  return headlessStatefulSet({
    name: i.name,
    replicas: c.replicas,
    selector: i.selector,
    podLabels: { ...i.labels, "sidecar.istio.io/inject": "false" },
    // Prometheus scrapes its own Alertmanagers (AlertmanagerNotificationsFailing)
    podAnnotations: { [CONFIG_HASH_ANNOTATION]: i.configHash, ...scrapeAnnotations(WEB_PORT) },
    ports: [{ name: WEB_PORT_NAME, port: WEB_PORT }, ...(peers.length ? [{ name: CLUSTER_PORT_NAME, port: CLUSTER_PORT }] : [])],
    volume: { size: c.storageSize, storageClass: c.storageClass },
    // Peers join each other by name; all start together.
    podManagementPolicy: "Parallel",
    pod,
  });
}

/** At most one replica away at a time, so a gossip cluster of three keeps its majority. */
export function disruptionBudgetSpec(selector: Record<string, string>): k8s.types.input.policy.v1.PodDisruptionBudgetSpec {
  return { maxUnavailable: 1, selector: { matchLabels: selector } };
}
