// Tracing under Pulumi mocks: what is created, under which parent, in which order.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { Issue } from "../../../config/schema.js";
import type { TracingBackendConfig } from "../../../components/tracing/config.js";

interface Created {
  type: string;
  name: string;
  inputs: any;
}
const created: Created[] = [];

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        created.push({ type: args.type, name: args.name, inputs: args.inputs });
        // what the API server would fill in for auto-named objects
        const metadata = args.inputs.metadata ? { ...args.inputs.metadata, name: args.inputs.metadata.name ?? `${args.name}-abc123` } : undefined;
        return { id: `${args.name}-id`, state: { ...args.inputs, ...(metadata ? { metadata } : {}) } };
      },
      call: (args) => {
        throw new Error(`unexpected call ${args.token}`);
      },
    },
    "observability-stack",
    "dev",
    false,
  );
});

const value = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));

async function tracing(raw: Record<string, unknown>, retainOnDelete = true) {
  const { Tracing, tracingBackendSchema } = await import("../../../components/tracing/index.js");
  const issues: Issue[] = [];
  const config = tracingBackendSchema.parse(raw, "obs:jaeger", issues) as TracingBackendConfig;
  expect(issues).toEqual([]);
  created.length = 0;
  const t = new Tracing("tracing", { namespace: "observability", config, retainOnDelete });
  // outputs resolve once every child is registered
  const zipkin = await value(t.zipkinHost);
  await value(t.query.urn);
  return { t, zipkin };
}

const byType = (type: string) => created.filter((c) => c.type === type);
const one = (type: string, name: string) => {
  const found = created.find((c) => c.type === type && c.name === name);
  expect(found, `${type} ${name}`).toBeDefined();
  return found!;
};

describe("Tracing component", () => {
  it("creates Kafka, Cassandra, their Jobs and the three Jaeger roles under the component", async () => {
    const { t, zipkin } = await tracing({});
    expect(zipkin).toBe("jaeger-collector.observability.svc.cluster.local");
    expect(await value(t.queryUrl)).toBe("http://jaeger-query.observability.svc.cluster.local:16686");
    expect(created.find((c) => c.type === "obs:tracing:Jaeger")?.name).toBe("tracing");

    for (const [res, type, child] of [
      [t.kafka, "kubernetes:apps/v1:StatefulSet", "tracing-kafka"],
      [t.cassandra, "kubernetes:apps/v1:StatefulSet", "tracing-cassandra"],
      [t.topicJob, "kubernetes:batch/v1:Job", "tracing-kafka-topic"],
      [t.schemaJob, "kubernetes:batch/v1:Job", "tracing-cassandra-schema"],
      [t.collector, "kubernetes:apps/v1:Deployment", "tracing-jaeger-collector"],
      [t.ingester, "kubernetes:apps/v1:Deployment", "tracing-jaeger-ingester"],
      [t.query, "kubernetes:apps/v1:Deployment", "tracing-jaeger-query"],
    ] as const) {
      expect(await value(res.urn)).toMatch(new RegExp(`obs:tracing:Jaeger\\$${type.replace(/[.$/]/g, "\\$&")}::${child}$`));
    }
    expect(created.every((c) => c.type === "obs:tracing:Jaeger" || c.name.startsWith("tracing-"))).toBe(true);

    // one broker, one node: no PodDisruptionBudget
    expect(byType("kubernetes:policy/v1:PodDisruptionBudget")).toEqual([]);
    const kafka = one("kubernetes:apps/v1:StatefulSet", "tracing-kafka").inputs;
    expect(kafka.spec.replicas).toBe(1);
    expect(kafka.spec.serviceName).toBe("kafka");
    expect(kafka.spec.podManagementPolicy).toBe("Parallel");
    expect(kafka.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe("20Gi");
    expect(kafka.spec.template.spec.containers[0].image).toBe("apache/kafka:4.1.0");
    const kafkaSvc = one("kubernetes:core/v1:Service", "tracing-kafka").inputs;
    expect(kafkaSvc.spec.clusterIP).toBe("None");
    expect(kafkaSvc.metadata.name).toBe("kafka");
    const cass = one("kubernetes:apps/v1:StatefulSet", "tracing-cassandra").inputs;
    expect(cass.spec.template.spec.containers[0].image).toBe("cassandra:5.0");
    expect(cass.spec.template.spec.containers[0].env).toContainEqual({ name: "CASSANDRA_SEEDS", value: "cassandra-0.cassandra.observability.svc.cluster.local" });
  });

  it("bounds the Jobs and feeds them the generated topic command and CQL", async () => {
    await tracing({ kafka: { partitions: 9 } });
    for (const name of ["tracing-kafka-topic", "tracing-cassandra-schema"]) {
      const job = one("kubernetes:batch/v1:Job", name).inputs;
      expect(job.spec.backoffLimit).toBeGreaterThan(0);
      expect(job.spec.activeDeadlineSeconds).toBeLessThan(600);
      expect(job.spec.template.spec.restartPolicy).toBe("Never");
      expect(job.spec.template.metadata.annotations["sidecar.istio.io/inject"]).toBe("false");
    }
    const topic = one("kubernetes:batch/v1:Job", "tracing-kafka-topic").inputs;
    expect(topic.spec.template.spec.containers[0].command[2]).toContain("--partitions 9");
    const schema = one("kubernetes:core/v1:ConfigMap", "tracing-cassandra-schema").inputs;
    expect(schema.data["schema.cql"]).toContain("CREATE KEYSPACE IF NOT EXISTS jaeger");
    const schemaJob = one("kubernetes:batch/v1:Job", "tracing-cassandra-schema").inputs;
    expect(schemaJob.spec.template.spec.volumes[0].configMap.name).toBe("tracing-cassandra-schema-abc123");
  });

  it("wires the Jaeger roles: config maps, ports, services and init containers that wait", async () => {
    await tracing({});
    const cm = (role: string) => parse(one("kubernetes:core/v1:ConfigMap", `tracing-${role}-config`).inputs.data["config.yaml"]);
    expect(cm("jaeger-collector").receivers.zipkin.endpoint).toBe("0.0.0.0:9411");
    expect(cm("jaeger-ingester").extensions.jaeger_storage.backends.cassandra.cassandra.schema.create).toBe(false);
    expect(cm("jaeger-query").extensions.jaeger_query.http.endpoint).toBe("0.0.0.0:16686");

    const dep = (role: string) => one("kubernetes:apps/v1:Deployment", `tracing-${role}`).inputs;
    const init = (role: string) => dep(role).spec.template.spec.initContainers.map((c: any) => c.name);
    expect(init("jaeger-collector")).toEqual(["wait-kafka"]);
    expect(init("jaeger-ingester")).toEqual(["wait-kafka", "wait-cassandra"]);
    expect(init("jaeger-query")).toEqual(["wait-cassandra"]);
    const collector = dep("jaeger-collector");
    expect(collector.metadata.name).toBe("jaeger-collector");
    expect(collector.spec.template.spec.containers[0].image).toBe("jaegertracing/jaeger:2.13.0");
    expect(collector.spec.template.spec.containers[0].args).toEqual(["--config=/etc/jaeger/config.yaml"]);
    expect(collector.spec.template.spec.volumes[0].configMap.name).toBe("tracing-jaeger-collector-config-abc123");
    expect(collector.spec.template.spec.containers[0].readinessProbe.httpGet).toEqual({ path: "/status", port: "health" });

    const svc = one("kubernetes:core/v1:Service", "tracing-collector").inputs;
    expect(svc.metadata.name).toBe("jaeger-collector");
    expect(svc.spec.ports.map((p: any) => [p.name, p.port])).toEqual([["http-zipkin", 9411], ["grpc-otlp", 4317], ["http-otlp", 4318]]);
    const query = one("kubernetes:core/v1:Service", "tracing-query").inputs;
    expect(query.spec.type).toBe("ClusterIP");
    expect(query.spec.ports[0].port).toBe(16686);
  });

  it("production shape: three brokers and nodes with disruption budgets and matching replication", async () => {
    await tracing({ kafka: { brokers: 3, replicationFactor: 3 }, cassandra: { nodes: 3, replicationFactor: 3 }, query: { expose: true } });
    const pdbs = byType("kubernetes:policy/v1:PodDisruptionBudget").map((p) => [p.name, p.inputs.spec.maxUnavailable]);
    expect(pdbs).toEqual([["tracing-kafka", 1], ["tracing-cassandra", 1]]);
    expect(one("kubernetes:apps/v1:StatefulSet", "tracing-kafka").inputs.spec.replicas).toBe(3);
    expect(one("kubernetes:apps/v1:StatefulSet", "tracing-cassandra").inputs.spec.replicas).toBe(3);
    const collector = parse(one("kubernetes:core/v1:ConfigMap", "tracing-jaeger-collector-config").inputs.data["config.yaml"]);
    expect(collector.exporters.kafka.brokers).toHaveLength(3);
    expect(one("kubernetes:core/v1:Service", "tracing-query").inputs.spec.type).toBe("LoadBalancer");
  });
});
