// kafka-exporter: brokers, topic offsets, under-replicated partitions and the Jaeger ingesters'
// consumer lag (kafka_*), for Prometheus through its pod annotations. One replica: a second
// would repeat every series.
import type * as k8s from "@pulumi/kubernetes";
import { SECRETS_HASH_ANNOTATION } from "../k8s/hash.js";
import { scrapeAnnotations } from "../mesh/metrics.js";
import { AUTH_DIRS, authMount, authVolume, KAFKA_AUTH_KEYS } from "./auth.js";
import type { KafkaInput } from "./kafka.js";
import { IMAGES, kafkaBrokers, PORTS } from "./topology.js";

export const KAFKA_EXPORTER_HEALTH_PATH = "/healthz";

/**
 * The protocol version the exporter's client (sarama) speaks, from the broker image's tag:
 * its default (2.0.0) would ask Kafka 4 for request versions it no longer serves.
 */
export function kafkaVersion(image: string = IMAGES.kafka): string {
  const tag = image.slice(image.lastIndexOf(":") + 1);
  const m = /^(\d+\.\d+\.\d+)/.exec(tag);
  if (!m) throw new Error(`cannot read a Kafka version (x.y.z) from the image ${image}`);
  return m[1]!;
}

/**
 * The exporter's arguments: every broker as a bootstrap address, the protocol version, the listen
 * address, and the SASL ones from the Secret's argument file (kingpin expands `@file`), so the
 * password is never on its command line.
 */
export function kafkaExporterArgs(input: KafkaInput): string[] {
  return [...kafkaBrokers(input.namespace, input.config.brokers, input.clusterDomain).map((b) => `--kafka.server=${b}`), `--kafka.version=${kafkaVersion()}`, `--web.listen-address=:${PORTS.kafkaExporter}`, `@${AUTH_DIRS.kafka}/${KAFKA_AUTH_KEYS.exporterArgs}`];
}

export interface KafkaExporterSpecInput extends KafkaInput {
  /** Labels of the pods (the selector's and the common ones). */
  readonly labels: Record<string, string>;
  readonly selector: Record<string, string>;
  /** secretHash of the Kafka Secret: a password change rolls the exporter. */
  readonly secretsHash?: string;
}

export function kafkaExporterDeploymentSpec(i: KafkaExporterSpecInput): k8s.types.input.apps.v1.DeploymentSpec {
  const health = { httpGet: { path: KAFKA_EXPORTER_HEALTH_PATH, port: "metrics" } };
  return {
    replicas: 1,
    selector: { matchLabels: i.selector },
    template: {
      metadata: {
        // Outside the mesh like the rest of the backend (Kafka is not injected): the label istiod selects on.
        labels: { ...i.labels, "sidecar.istio.io/inject": "false" },
        annotations: { ...scrapeAnnotations(PORTS.kafkaExporter), ...(i.secretsHash ? { [SECRETS_HASH_ANNOTATION]: i.secretsHash } : {}) },
      },
      spec: {
        automountServiceAccountToken: false,
        securityContext: { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, fsGroup: 65534, seccompProfile: { type: "RuntimeDefault" } },
        containers: [
          {
            name: "kafka-exporter",
            image: IMAGES.kafkaExporter,
            args: kafkaExporterArgs(i),
            ports: [{ name: "metrics", containerPort: PORTS.kafkaExporter }],
            // The process exits when it cannot reach a broker at start, so a pod that answers is connected.
            readinessProbe: { ...health, periodSeconds: 10, timeoutSeconds: 5 },
            livenessProbe: { ...health, initialDelaySeconds: 10, periodSeconds: 30, timeoutSeconds: 5 },
            resources: { requests: { cpu: "10m", memory: "32Mi", "ephemeral-storage": "16Mi" }, limits: { cpu: "200m", memory: "128Mi", "ephemeral-storage": "64Mi" } },
            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" } },
            volumeMounts: [authMount("kafka")],
          },
        ],
        volumes: [authVolume("kafka", [KAFKA_AUTH_KEYS.exporterArgs])],
      },
    },
  };
}
