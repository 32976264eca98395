// Tracing under Pulumi mocks: what is created, under which parent, in which order.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { Issue } from "../../../lib/schema.js";
import type { TracingBackendConfig } from "../../../components/tracing/config.js";
import { type Created, recordResources } from "../mocks.js";

const created: Created[] = [];

beforeAll(async () => {
  await recordResources(created);
});

const value = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));

// Each test builds its own component under its own name, so late registrations of one test
// never show up in another's lookups.
async function tracing(name: string, raw: Record<string, unknown>, retainOnDelete = true) {
  const { Tracing, tracingBackendSchema } = await import("../../../components/tracing/index.js");
  const issues: Issue[] = [];
  const config = tracingBackendSchema.parse(raw, "obs:jaeger", issues) as TracingBackendConfig;
  expect(issues).toEqual([]);
  const t = new Tracing(name, { namespace: "observability", config, retainOnDelete });
  await Promise.all([value(t.zipkinHost), ...[t.kafka, t.cassandra, t.topicJob, t.schemaJob, t.collector, t.ingester, t.query, t.collectorService, t.queryService, t.kafkaExporter].map((r) => value(r.urn))]);
  const mine = created.filter((c) => c.name === name || c.name.startsWith(`${name}-`));
  const byType = (type: string) => mine.filter((c) => c.type === type);
  const one = (type: string, suffix: string) => {
    const found = mine.find((c) => c.type === type && c.name === `${name}-${suffix}`);
    expect(found, `${type} ${name}-${suffix}`).toBeDefined();
    return found!;
  };
  return { t, mine, byType, one };
}

describe("Tracing component", () => {
  it("creates Kafka, Cassandra, their Jobs and the three Jaeger roles under the component", async () => {
    const { t, mine, byType, one } = await tracing("tracing", {});
    expect(await value(t.zipkinHost)).toBe("jaeger-collector.observability.svc.cluster.local");
    expect(await value(t.queryUrl)).toBe("http://jaeger-query.observability.svc.cluster.local:16686");
    expect(mine.find((c) => c.type === "obs:tracing:Jaeger")?.name).toBe("tracing");

    for (const [res, type, child] of [
      [t.kafka, "kubernetes:apps/v1:StatefulSet", "tracing-kafka"],
      [t.cassandra, "kubernetes:apps/v1:StatefulSet", "tracing-cassandra"],
      [t.topicJob, "kubernetes:batch/v1:Job", "tracing-kafka-topic"],
      [t.schemaJob, "kubernetes:batch/v1:Job", "tracing-cassandra-schema"],
      [t.collector, "kubernetes:apps/v1:Deployment", "tracing-jaeger-collector"],
      [t.ingester, "kubernetes:apps/v1:Deployment", "tracing-jaeger-ingester"],
      [t.query, "kubernetes:apps/v1:Deployment", "tracing-jaeger-query"],
      [t.kafkaExporter, "kubernetes:apps/v1:Deployment", "tracing-kafka-exporter"],
    ] as const) {
      expect(await value(res.urn)).toMatch(new RegExp(`obs:tracing:Jaeger\\$${type.replace(/[.$/]/g, "\\$&")}::${child}$`));
    }
    expect(created.filter((c) => c.type !== "obs:tracing:Jaeger" && !/^(tracing|t\d)-/.test(c.name))).toEqual([]);

    // one broker, one node: no PodDisruptionBudget
    expect(byType("kubernetes:policy/v1:PodDisruptionBudget")).toEqual([]);
    const kafka = one("kubernetes:apps/v1:StatefulSet", "kafka").inputs;
    expect(kafka.spec.replicas).toBe(1);
    expect(kafka.spec.serviceName).toBe("kafka");
    expect(kafka.spec.podManagementPolicy).toBe("Parallel");
    expect(kafka.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe("20Gi");
    expect(kafka.spec.template.spec.containers[0].image).toBe("apache/kafka:4.1.0");
    const kafkaSvc = one("kubernetes:core/v1:Service", "kafka").inputs;
    expect(kafkaSvc.spec.clusterIP).toBe("None");
    expect(kafkaSvc.metadata.name).toBe("kafka");
    const cass = one("kubernetes:apps/v1:StatefulSet", "cassandra").inputs;
    expect(cass.spec.template.spec.containers[0].image).toBe("cassandra:5.0");
    expect(cass.spec.template.spec.containers[0].env).toContainEqual({ name: "CASSANDRA_SEEDS", value: "cassandra-0.cassandra.observability.svc.cluster.local" });
  });

  it("bounds the Jobs and feeds them the generated topic command and CQL", async () => {
    const { one } = await tracing("t2", { kafka: { partitions: 9 } });
    for (const name of ["kafka-topic", "cassandra-schema"]) {
      const job = one("kubernetes:batch/v1:Job", name).inputs;
      expect(job.spec.backoffLimit).toBeGreaterThan(0);
      expect(job.spec.activeDeadlineSeconds).toBeLessThan(600);
      expect(job.spec.template.spec.restartPolicy).toBe("Never");
      expect(job.spec.template.metadata.annotations["sidecar.istio.io/inject"]).toBe("false");
    }
    const topic = one("kubernetes:batch/v1:Job", "kafka-topic").inputs;
    expect(topic.spec.template.spec.containers[0].command[2]).toContain("--partitions 9");
    const schema = one("kubernetes:core/v1:ConfigMap", "cassandra-schema").inputs;
    expect(schema.data["schema.cql"]).toContain("CREATE KEYSPACE IF NOT EXISTS jaeger");
    const schemaJob = one("kubernetes:batch/v1:Job", "cassandra-schema").inputs;
    expect(schemaJob.spec.template.spec.volumes[0].configMap.name).toBe("t2-cassandra-schema-x1y2z3");
  });

  it("wires the Jaeger roles: config maps, ports, services and init containers that wait", async () => {
    const { one } = await tracing("t3", {});
    const cm = (role: string) => parse(one("kubernetes:core/v1:ConfigMap", `${role}-config`).inputs.data["config.yaml"]);
    expect(cm("jaeger-collector").receivers.zipkin.endpoint).toBe("0.0.0.0:9411");
    expect(cm("jaeger-ingester").extensions.jaeger_storage.backends.cassandra.cassandra.schema.create).toBe(false);
    expect(cm("jaeger-query").extensions.jaeger_query.http.endpoint).toBe("0.0.0.0:16686");

    const dep = (role: string) => one("kubernetes:apps/v1:Deployment", role).inputs;
    const init = (role: string) => dep(role).spec.template.spec.initContainers.map((c: any) => c.name);
    expect(init("jaeger-collector")).toEqual(["wait-kafka"]);
    expect(init("jaeger-ingester")).toEqual(["wait-kafka", "wait-cassandra"]);
    expect(init("jaeger-query")).toEqual(["wait-cassandra"]);
    const collector = dep("jaeger-collector");
    expect(collector.metadata.name).toBe("jaeger-collector");
    expect(collector.spec.template.spec.containers[0].image).toBe("jaegertracing/jaeger:2.13.0");
    expect(collector.spec.template.spec.containers[0].args).toEqual(["--config=/etc/jaeger/config.yaml"]);
    expect(collector.spec.template.spec.volumes[0].configMap.name).toBe("t3-jaeger-collector-config-x1y2z3");
    expect(collector.spec.template.spec.containers[0].readinessProbe.httpGet).toEqual({ path: "/status", port: "health" });

    const svc = one("kubernetes:core/v1:Service", "collector").inputs;
    expect(svc.metadata.name).toBe("jaeger-collector");
    expect(svc.spec.ports.map((p: any) => [p.name, p.port])).toEqual([["http-zipkin", 9411], ["grpc-otlp", 4317], ["http-otlp", 4318]]);
    const query = one("kubernetes:core/v1:Service", "query").inputs;
    expect(query.spec.type).toBe("ClusterIP");
    expect(query.spec.ports[0].port).toBe(16686);
  });

  it("runs kafka-exporter beside the brokers: pinned, every broker, scraped on 9308 like the Jaeger pods", async () => {
    const { one } = await tracing("t5", { kafka: { brokers: 3, replicationFactor: 3 } });
    const dep = one("kubernetes:apps/v1:Deployment", "kafka-exporter").inputs;
    expect(dep.metadata).toMatchObject({ name: "kafka-exporter", namespace: "observability", labels: { "app.kubernetes.io/name": "kafka-exporter", "app.kubernetes.io/part-of": "jaeger" } });
    expect(dep.spec.replicas).toBe(1);
    const c = dep.spec.template.spec.containers[0];
    expect(c.image).toBe("danielqsj/kafka-exporter:v1.9.0");
    expect(c.args.filter((a: string) => a.startsWith("--kafka.server="))).toEqual([0, 1, 2].map((i) => `--kafka.server=kafka-${i}.kafka.observability.svc.cluster.local:9092`));
    const annotations = dep.spec.template.metadata.annotations;
    expect(annotations).toMatchObject({ "sidecar.istio.io/inject": "false", "prometheus.io/scrape": "true", "prometheus.io/port": "9308" });
    // the same annotation scheme as the Jaeger roles, which Prometheus's kubernetes-pods job honours
    const collector = one("kubernetes:apps/v1:Deployment", "jaeger-collector").inputs.spec.template.metadata.annotations;
    expect(Object.keys(annotations).sort()).toEqual(Object.keys(collector).sort());
    // the selector matches its pods and no other role's
    expect(dep.spec.template.metadata.labels).toMatchObject(dep.spec.selector.matchLabels);
    expect(one("kubernetes:apps/v1:StatefulSet", "kafka").inputs.spec.selector.matchLabels).not.toEqual(dep.spec.selector.matchLabels);
  });

  it("production shape: three brokers and nodes with disruption budgets and matching replication", async () => {
    const { one, byType } = await tracing("t4", { kafka: { brokers: 3, replicationFactor: 3 }, cassandra: { nodes: 3, replicationFactor: 3 }, query: { expose: true } });
    const pdbs = byType("kubernetes:policy/v1:PodDisruptionBudget").map((p) => [p.name, p.inputs.spec.maxUnavailable]);
    expect(pdbs).toEqual([["t4-kafka", 1], ["t4-cassandra", 1]]);
    expect(one("kubernetes:apps/v1:StatefulSet", "kafka").inputs.spec.replicas).toBe(3);
    expect(one("kubernetes:apps/v1:StatefulSet", "cassandra").inputs.spec.replicas).toBe(3);
    const collector = parse(one("kubernetes:core/v1:ConfigMap", "jaeger-collector-config").inputs.data["config.yaml"]);
    expect(collector.exporters.kafka.brokers).toHaveLength(3);
    expect(one("kubernetes:core/v1:Service", "query").inputs.spec.type).toBe("LoadBalancer");
  });
});
