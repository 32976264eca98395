// Kafka in KRaft mode (no ZooKeeper) for the apache/kafka image: every broker is also a
// controller, node ids are pod ordinals, and the image turns KAFKA_* variables into
// server.properties. Plus the Job that creates the span topic.
import { createHash } from "node:crypto";
import { podHost, serviceHost } from "../k8s/hosts.js";
import { KAFKA_AUTH_KEYS, KAFKA_CLIENT_CONFIG, KAFKA_CLIENT_LISTENER, KAFKA_SASL_MECHANISM, secretEnv } from "./auth.js";
import type { JaegerConfig } from "./config.js";
import { script, shQuote } from "./shell.js";
import { kafkaBrokers, NAMES, PORTS, SPANS_TOPIC } from "./topology.js";

export type KafkaConfig = JaegerConfig["kafka"];

export interface KafkaInput {
  readonly namespace: string;
  /** The cluster's DNS domain (`obs:clusterDomain`), in every broker host. */
  readonly clusterDomain: string;
  readonly config: KafkaConfig;
}

/** A container env entry, structurally what Kubernetes takes. */
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string }; resourceFieldRef?: { resource: string; divisor?: string }; secretKeyRef?: { name: string; key: string } };
}

/** Mount point of the broker volume; the log dir is a sub-directory so `lost+found` stays out of it. */
export const KAFKA_VOLUME_PATH = "/var/lib/kafka";
export const KAFKA_LOG_DIR = `${KAFKA_VOLUME_PATH}/data`;
/** uid/gid of the image's user, for the volume's fsGroup. */
export const KAFKA_UID = 1000;
export const KAFKA_BIN = "/opt/kafka/bin";
const BIN = KAFKA_BIN;

/** Majority of the replicas: writes survive losing the minority. */
export function minInSyncReplicas(replicationFactor: number): number {
  return Math.max(1, Math.ceil(replicationFactor / 2));
}

/** controller.quorum.voters: `<id>@<pod dns>:<controller port>` for every broker. */
export function quorumVoters(namespace: string, brokers: number, clusterDomain: string): string {
  return Array.from({ length: brokers }, (_, i) => `${i}@${podHost(NAMES.kafka, i, NAMES.kafka, namespace, clusterDomain)}:${PORTS.kafkaController}`).join(",");
}

/**
 * The client and inter-broker listener takes SASL/PLAIN only (its JAAS, with the password, comes
 * from the Secret: kafkaJaasEnv). The controller listener stays plaintext between the brokers.
 */
export function kafkaSaslProperties(): Record<string, string> {
  return {
    "listener.security.protocol.map": `${KAFKA_CLIENT_LISTENER}:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT`,
    "inter.broker.listener.name": KAFKA_CLIENT_LISTENER,
    "sasl.enabled.mechanisms": KAFKA_SASL_MECHANISM,
    "sasl.mechanism.inter.broker.protocol": KAFKA_SASL_MECHANISM,
  };
}

/** Property holding the listener's JAAS config (the broker's env reads it from the Secret). */
export const KAFKA_JAAS_PROPERTY = `listener.name.${KAFKA_CLIENT_LISTENER.toLowerCase()}.${KAFKA_SASL_MECHANISM.toLowerCase()}.sasl.jaas.config`;

/** server.properties shared by every broker (node.id and advertised.listeners are per pod). */
export function kafkaProperties(input: KafkaInput): Record<string, string> {
  const { config: k, namespace, clusterDomain } = input;
  const minIsr = String(minInSyncReplicas(k.replicationFactor));
  const rf = String(k.replicationFactor);
  return {
    "process.roles": "broker,controller",
    "controller.quorum.voters": quorumVoters(namespace, k.brokers, clusterDomain),
    ...kafkaSaslProperties(),
    listeners: `${KAFKA_CLIENT_LISTENER}://:${PORTS.kafka},CONTROLLER://:${PORTS.kafkaController}`,
    "controller.listener.names": "CONTROLLER",
    "log.dirs": KAFKA_LOG_DIR,
    "num.partitions": String(k.partitions),
    "default.replication.factor": rf,
    "min.insync.replicas": minIsr,
    "offsets.topic.replication.factor": rf,
    "transaction.state.log.replication.factor": rf,
    "transaction.state.log.min.isr": minIsr,
    "auto.create.topics.enable": "false",
    "log.retention.hours": String(k.retentionHours),
  };
}

/** The image's mapping: `.` -> `_`, `_` -> `__`, `-` -> `___`, upper case, KAFKA_ prefix. */
export function kafkaEnvName(property: string): string {
  return "KAFKA_" + property.replace(/_/g, "__").replace(/-/g, "___").replace(/\./g, "_").toUpperCase();
}

/**
 * KRaft cluster id (16 bytes, base64url): derived from the namespace so every broker, and
 * every re-render, agrees on it without a stored secret. The `obs-tracing` seed predates the
 * folder's rename and stays: brokers refuse a log dir formatted under another cluster id.
 */
export function kafkaClusterId(namespace: string): string {
  return createHash("sha256").update(`obs-tracing/${namespace}/${NAMES.kafka}`).digest().subarray(0, 16).toString("base64url");
}

/** The broker container's env. */
export function kafkaEnv(input: KafkaInput): EnvVar[] {
  const heap = input.config.heap;
  return [
    { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
    // The StatefulSet controller labels each pod with its ordinal.
    { name: kafkaEnvName("node.id"), valueFrom: { fieldRef: { fieldPath: "metadata.labels['apps.kubernetes.io/pod-index']" } } },
    { name: kafkaEnvName("advertised.listeners"), value: `${KAFKA_CLIENT_LISTENER}://$(POD_NAME).${serviceHost(NAMES.kafka, input.namespace, input.clusterDomain)}:${PORTS.kafka}` },
    { name: "CLUSTER_ID", value: kafkaClusterId(input.namespace) },
    { name: "KAFKA_HEAP_OPTS", value: `-Xms${heap} -Xmx${heap}` },
    ...Object.entries(kafkaProperties(input)).map(([k, v]) => ({ name: kafkaEnvName(k), value: v })),
    secretEnv(kafkaEnvName(KAFKA_JAAS_PROPERTY), "kafka", KAFKA_AUTH_KEYS.jaas),
  ];
}

export function retentionMs(hours: number): number {
  return hours * 3_600_000;
}

/** Seconds the topic Job waits for every broker to register. */
export const BROKER_WAIT_SECONDS = 300;

/**
 * The topic Job: waits (bounded) until every broker is registered, creates the span topic if
 * missing, grows its partitions to the configured count (Kafka cannot shrink them) and sets
 * retention; each step retried. Running it again changes nothing.
 */
export function topicJobScript(input: KafkaInput): string {
  const k = input.config;
  const retention = `retention.ms=${retentionMs(k.retentionHours)}`;
  return script(
    `B=${shQuote(kafkaBrokers(input.namespace, k.brokers, input.clusterDomain).join(","))}`,
    `T=${SPANS_TOPIC}`,
    `C=${KAFKA_CLIENT_CONFIG}`,
    `brokers_up() { [ "$(${BIN}/kafka-broker-api-versions.sh --bootstrap-server "$B" --command-config "$C" 2>/dev/null | grep -c '(id: ')" -ge ${k.brokers} ]; }`,
    `wait_for ${BROKER_WAIT_SECONDS} "${k.brokers} broker(s) at $B" brokers_up`,
    `retry 5 ${BIN}/kafka-topics.sh --bootstrap-server "$B" --command-config "$C" --create --if-not-exists --topic "$T" --partitions ${k.partitions} --replication-factor ${k.replicationFactor} --config ${retention}`,
    `current=$(${BIN}/kafka-topics.sh --bootstrap-server "$B" --command-config "$C" --describe --topic "$T" | sed -n 's/.*PartitionCount: *\\([0-9][0-9]*\\).*/\\1/p' | head -n 1)`,
    `if [ "\${current:-0}" -lt ${k.partitions} ]; then retry 5 ${BIN}/kafka-topics.sh --bootstrap-server "$B" --command-config "$C" --alter --topic "$T" --partitions ${k.partitions}; fi`,
    `retry 5 ${BIN}/kafka-configs.sh --bootstrap-server "$B" --command-config "$C" --alter --entity-type topics --entity-name "$T" --add-config ${retention}`,
    `${BIN}/kafka-topics.sh --bootstrap-server "$B" --command-config "$C" --describe --topic "$T"`,
  );
}

/** Init container of the collector and the ingester: the span topic exists (bounded wait). */
export function topicWaitScript(input: KafkaInput, seconds: number): string {
  return script(
    `B=${shQuote(kafkaBrokers(input.namespace, input.config.brokers, input.clusterDomain).join(","))}`,
    `topic_ready() { ${BIN}/kafka-topics.sh --bootstrap-server "$B" --command-config ${KAFKA_CLIENT_CONFIG} --describe --topic ${SPANS_TOPIC} 2>/dev/null | grep -q PartitionCount; }`,
    `wait_for ${seconds} "topic ${SPANS_TOPIC}" topic_ready`,
  );
}
