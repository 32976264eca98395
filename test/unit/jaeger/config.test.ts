import { describe, expect, it } from "vitest";
import type { Issue } from "../../../lib/schema.js";
import { checkJaeger, type JaegerConfig, jaegerSchema } from "../../../components/jaeger/config.js";

function parse(raw: unknown): { config?: JaegerConfig; problems: string[] } {
  const issues: Issue[] = [];
  const config = jaegerSchema.parse(raw, "obs:jaeger", issues);
  if (config) checkJaeger(config, issues);
  return { config, problems: issues.map((i) => `${i.key} = ${JSON.stringify(i.value)}: ${i.allowed}`) };
}

describe("obs:jaeger schema", () => {
  it("defaults to one broker and one node, and passes its own cross-checks", () => {
    const { config, problems } = parse({});
    expect(problems).toEqual([]);
    expect(config!.kafka).toMatchObject({ brokers: 1, replicationFactor: 1, partitions: 6, retentionHours: 24, heap: "1G" });
    expect(config!.cassandra).toMatchObject({ nodes: 1, replicationFactor: 1, spanTtlHours: 48, datacenter: "dc1" });
    expect(config!.query.expose).toBe(false);
    expect(config!.collector.resources.limits.memory).toBe("1Gi");
  });

  it("reports every field problem at once with its key", () => {
    const { problems } = parse({ kafka: { brokers: 10, storageSize: "lots" }, cassandra: { heap: "1GB" }, query: { expose: "yes" }, bogus: 1 });
    expect(problems).toEqual([
      expect.stringMatching(/^obs:jaeger\.bogus = 1: a known key/),
      "obs:jaeger.kafka.brokers = 10: an integer >= 1 and <= 9",
      expect.stringMatching(/^obs:jaeger\.kafka\.storageSize = "lots": a Kubernetes quantity/),
      'obs:jaeger.cassandra.heap = "1GB": a JVM heap size such as 512M or 2G',
      'obs:jaeger.query.expose = "yes": true or false',
    ]);
  });

  it("cross-checks partitions against ingesters and replication against brokers and nodes", () => {
    const { problems } = parse({ kafka: { brokers: 1, replicationFactor: 3, partitions: 2 }, ingester: { replicas: 3 }, cassandra: { nodes: 2, replicationFactor: 3 } });
    expect(problems).toEqual([
      "obs:jaeger.kafka.partitions = 2: >= obs:jaeger.ingester.replicas (3): an ingester without a partition sits idle",
      "obs:jaeger.kafka.replicationFactor = 3: <= obs:jaeger.kafka.brokers (1)",
      "obs:jaeger.cassandra.replicationFactor = 3: <= obs:jaeger.cassandra.nodes (2)",
    ]);
  });

  it("refuses a heap that leaves the JVM no room under the memory limit", () => {
    const { problems } = parse({ cassandra: { heap: "4G", resources: { limits: { memory: "4Gi" } } } });
    expect(problems).toEqual(["obs:jaeger.cassandra.heap = \"4G\": less than obs:jaeger.cassandra.resources.limits.memory (4Gi): the JVM needs room beside its heap"]);
  });

  it("refuses an even number of brokers (each is a KRaft voter), naming key, value and what is allowed", () => {
    for (const brokers of [2, 4]) {
      expect(parse({ kafka: { brokers, replicationFactor: 1 } }).problems).toEqual([
        `obs:jaeger.kafka.brokers = ${brokers}: an odd number (1, 3, 5, 7 or 9): each broker is also a KRaft controller, and ${brokers} voters survive no more failures than ${brokers - 1}`,
      ]);
    }
    expect(parse({ kafka: { brokers: 5, replicationFactor: 3 } }).problems).toEqual([]);
  });

  it("refuses a request above its limit in the backend's resources", () => {
    expect(parse({ cassandra: { resources: { requests: { cpu: "3" }, limits: { cpu: "2" } } } }).problems).toEqual([expect.stringMatching(/^obs:jaeger\.cassandra\.resources\.requests\.cpu = "3": at most .*limits\.cpu.*\b2\b/)]);
  });

  it("accepts a production shape", () => {
    expect(parse({ kafka: { brokers: 3, replicationFactor: 3, partitions: 12 }, cassandra: { nodes: 3, replicationFactor: 3 }, ingester: { replicas: 3 } }).problems).toEqual([]);
  });

});
