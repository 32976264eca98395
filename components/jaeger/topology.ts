// Names, images and ports the tracing pieces share: every builder derives DNS names and
// wiring from here, so the collector, the ingester and the Jobs cannot disagree.
import { podHost, serviceHost } from "../k8s/hosts.js";

export const IMAGES = {
  jaeger: "jaegertracing/jaeger:2.13.0",
  kafka: "apache/kafka:4.1.0",
  cassandra: "cassandra:5.0.5",
  kafkaExporter: "danielqsj/kafka-exporter:v1.9.0",
} as const;

/** Kubernetes object names (fixed: the DNS names and the Zipkin host depend on them). */
export const NAMES = {
  kafka: "kafka",
  cassandra: "cassandra",
  collector: "jaeger-collector",
  ingester: "jaeger-ingester",
  query: "jaeger-query",
  kafkaExporter: "kafka-exporter",
} as const;

export const PORTS = {
  zipkin: 9411,
  otlpGrpc: 4317,
  otlpHttp: 4318,
  query: 16686,
  queryGrpc: 16685,
  health: 13133,
  metrics: 8888,
  kafka: 9092,
  kafkaController: 9093,
  cql: 9042,
  cassandraGossip: 7000,
  kafkaExporter: 9308,
} as const;

/** The Kafka topic between collectors and ingesters. */
export const SPANS_TOPIC = "jaeger-spans";
/** Encoding of the messages on the topic; the collector writes it, the ingester reads it. */
export const SPANS_ENCODING = "otlp_proto";
/** Consumer group of the ingesters: partitions are shared among its members. */
export const INGESTER_GROUP = "jaeger-ingester";
/** Cassandra keyspace of the spans. */
export const KEYSPACE = "jaeger";

/** host:port of every broker, the bootstrap list of clients. */
export function kafkaBrokers(namespace: string, brokers: number, clusterDomain: string): string[] {
  return Array.from({ length: brokers }, (_, i) => `${podHost(NAMES.kafka, i, NAMES.kafka, namespace, clusterDomain)}:${PORTS.kafka}`);
}

/** Contact point of the Cassandra cluster: the headless Service resolves to every ready node. */
export function cassandraHost(namespace: string, clusterDomain: string): string {
  return serviceHost(NAMES.cassandra, namespace, clusterDomain);
}
