// Bad input found by trying the stack as a user would: zero durations and sizes, and a
// StorageClass that is no object name, are refused with the same clear error as the rest.
import { describe, expect, it } from "vitest";
import { problems } from "./config-problems.js";

const base = () => ({ kubernetes: { context: "dev" }, logging: { enabled: false }, grafana: { enabled: false }, kiali: { enabled: false }, jaeger: { kafkaPassword: "test-kafka-password", cassandraPassword: "test-cassandra-password" }, istio: { revisions: [{ name: "1-30", version: "1.30" }] } });

describe("volumes, sizes and durations", () => {
  it("accepts the defaults", () => {
    expect(problems(base())).toEqual([]);
  });

  it.each([
    ["scrapeInterval", { prometheus: { scrapeInterval: "0s" } }, 'obs:prometheus.scrapeInterval = "0s": a duration above 0 (e.g. 30s)'],
    ["scrapeTimeout", { prometheus: { scrapeTimeout: "0s" } }, 'obs:prometheus.scrapeTimeout = "0s": a duration above 0 (e.g. 10s)'],
    ["Prometheus storageClass", { prometheus: { storageClass: "Fast SSD" } }, "obs:prometheus.storageClass = \"Fast SSD\": a StorageClass name (DNS-1123 subdomain) or empty (the cluster's default class)"],
    ["Grafana storageSize", { grafana: { enabled: false, storageSize: "0" } }, 'obs:grafana.storageSize = "0": a Kubernetes quantity above 0 such as 10Gi'],
    ["Kafka storageSize", { jaeger: { kafkaPassword: "test-kafka-password", cassandraPassword: "test-cassandra-password", kafka: { storageSize: "0Gi" } } }, 'obs:jaeger.kafka.storageSize = "0Gi": a Kubernetes quantity above 0 such as 10Gi'],
    ["Cassandra storageClass", { jaeger: { kafkaPassword: "test-kafka-password", cassandraPassword: "test-cassandra-password", cassandra: { storageClass: "-bad" } } }, "obs:jaeger.cassandra.storageClass = \"-bad\": a StorageClass name (DNS-1123 subdomain) or empty (the cluster's default class)"],
    ["Elasticsearch storageSize", { logging: { enabled: false, elasticsearch: { storageSize: "0.0" } } }, 'obs:logging.elasticsearch.storageSize = "0.0": a Kubernetes quantity above 0 such as 10Gi'],
  ])("refuses %s naming key, value and what is allowed", (_what, extra, message) => {
    expect(problems({ ...base(), ...extra })).toEqual([message]);
  });
});
