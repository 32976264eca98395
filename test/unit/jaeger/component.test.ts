// Jaeger under Pulumi mocks: what is created, under which parent, in which order.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { Issue } from "../../../lib/schema.js";
import type { JaegerConfig } from "../../../components/jaeger/config.js";
import { type Created, recordResources } from "../mocks.js";

const created: Created[] = [];

beforeAll(async () => {
  await recordResources(created);
});

const TEST_SECRETS = { kafkaPassword: "kafka-test-password", cassandraPassword: "cassandra-test-password" };
const value = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));

// Each test builds its own component under its own name, so late registrations of one test
// never show up in another's lookups.
async function tracing(name: string, raw: Record<string, unknown>, retainOnDelete = true, clusterDomain = "cluster.local") {
  const { Jaeger, jaegerSchema } = await import("../../../components/jaeger/index.js");
  const issues: Issue[] = [];
  const config = jaegerSchema.parse(raw, "obs:jaeger", issues) as JaegerConfig;
  expect(issues).toEqual([]);
  const t = new Jaeger(name, { namespace: "observability", clusterDomain, config, secrets: TEST_SECRETS, retainOnDelete });
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

describe("Jaeger component", () => {
  it("creates Kafka, Cassandra, their Jobs and the three Jaeger roles under the component", async () => {
    const { t, mine, byType, one } = await tracing("tracing", {});
    expect(await value(t.zipkinHost)).toBe("jaeger-collector.observability.svc.cluster.local");
    expect(await value(t.queryUrl)).toBe("http://jaeger-query.observability.svc.cluster.local:16686");
    expect(mine.find((c) => c.type === "obs:jaeger:Jaeger")?.name).toBe("tracing");

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
      expect(await value(res.urn)).toMatch(new RegExp(`obs:jaeger:Jaeger\\$${type.replace(/[.$/]/g, "\\$&")}::${child}$`));
    }
    expect(created.filter((c) => c.type !== "obs:jaeger:Jaeger" && !/^(tracing|t\d)-/.test(c.name))).toEqual([]);

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
    expect(cass.spec.template.spec.containers[0].image).toBe("cassandra:5.0.5");
    expect(cass.spec.template.spec.containers[0].env).toContainEqual({ name: "CASSANDRA_SEEDS", value: "cassandra-0.cassandra.observability.svc.cluster.local" });
  });

  it("bounds the Jobs and feeds them the generated topic command and CQL", async () => {
    const { one } = await tracing("t2", { kafka: { partitions: 9 } });
    for (const name of ["kafka-topic", "cassandra-schema"]) {
      const job = one("kubernetes:batch/v1:Job", name).inputs;
      expect(job.spec.backoffLimit).toBeGreaterThan(0);
      expect(job.spec.activeDeadlineSeconds).toBeLessThan(600);
      expect(job.spec.template.spec.restartPolicy).toBe("Never");
      expect(job.spec.template.metadata.labels["sidecar.istio.io/inject"]).toBe("false");
    }
    const topic = one("kubernetes:batch/v1:Job", "kafka-topic").inputs;
    expect(topic.spec.template.spec.containers[0].command[2]).toContain("--partitions 9");
    const schema = one("kubernetes:core/v1:ConfigMap", "cassandra-schema").inputs;
    expect(schema.data["schema.cql"]).toContain("CREATE KEYSPACE IF NOT EXISTS jaeger");
    // fixed names that follow the content (no auto-naming: an interrupted run's objects are taken over)
    expect(schema.metadata.name).toMatch(/^cassandra-schema-[0-9a-f]{8}$/);
    const schemaJob = one("kubernetes:batch/v1:Job", "cassandra-schema").inputs;
    expect(schemaJob.metadata.name).toMatch(/^cassandra-schema-[0-9a-f]{8}$/);
    expect(schemaJob.metadata.name).not.toBe(schema.metadata.name);
    expect(topic.metadata.name).toMatch(/^kafka-topic-[0-9a-f]{8}$/);
    expect(schemaJob.spec.template.spec.volumes[0].configMap.name).toBe(schema.metadata.name);
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
    const collectorConfig = one("kubernetes:core/v1:ConfigMap", "jaeger-collector-config").inputs.metadata.name;
    expect(collectorConfig).toMatch(/^jaeger-collector-config-[0-9a-f]{8}$/);
    expect(collector.spec.template.spec.volumes[0].configMap.name).toBe(collectorConfig);
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
    expect(annotations).toMatchObject({ "prometheus.io/scrape": "true", "prometheus.io/port": "9308" });
    expect(dep.spec.template.metadata.labels["sidecar.istio.io/inject"]).toBe("false");
    // the same annotation scheme as the Jaeger roles, which Prometheus's kubernetes-pods job honours
    const collector = one("kubernetes:apps/v1:Deployment", "jaeger-collector").inputs.spec.template.metadata.annotations;
    expect(Object.keys(annotations).sort()).toEqual(Object.keys(collector).sort());
    // the selector matches its pods and no other role's
    expect(dep.spec.template.metadata.labels).toMatchObject(dep.spec.selector.matchLabels);
    expect(one("kubernetes:apps/v1:StatefulSet", "kafka").inputs.spec.selector.matchLabels).not.toEqual(dep.spec.selector.matchLabels);
  });

  it("keeps the former type token as an alias (merged with the caller's), so existing stacks replace nothing", async () => {
    const { Jaeger, FORMER_TYPE, jaegerSchema } = await import("../../../components/jaeger/index.js");
    const issues: Issue[] = [];
    const config = jaegerSchema.parse({}, "obs:jaeger", issues) as JaegerConfig;
    const seen: pulumi.ResourceTransformationArgs[] = [];
    const j = new Jaeger("t6", { namespace: "observability", clusterDomain: "cluster.local", config, secrets: TEST_SECRETS, retainOnDelete: true }, { aliases: [{ name: "t6-old" }], transformations: [(a) => void seen.push(a)] });
    await value(j.urn);
    expect(FORMER_TYPE).toBe("obs:tracing:Jaeger");
    const own = seen.find((a) => a.resource === j)!;
    expect(own.type).toBe("obs:jaeger:Jaeger");
    expect(own.opts.aliases).toEqual([{ name: "t6-old" }, { type: "obs:tracing:Jaeger" }]);
    // the alias as the engine receives it: the URN the component had before the rename
    const aliasUrns = await Promise.all(((j as unknown as { __aliases: pulumi.Input<string>[] }).__aliases).map((u) => value(pulumi.output(u))));
    expect(aliasUrns).toContain("urn:pulumi:dev::observability-stack::obs:tracing:Jaeger::t6");
    // children inherit the parent's alias (the engine derives theirs); their own names stay what they were
    const childAliases = seen.filter((a) => a.resource !== j).flatMap((a) => (a.opts.aliases ?? []) as { type?: string }[]);
    expect(childAliases.filter((a) => a.type?.startsWith("obs:"))).toEqual([]);
    expect(await value(j.kafka.urn)).toBe("urn:pulumi:dev::observability-stack::obs:jaeger:Jaeger$kubernetes:apps/v1:StatefulSet::t6-kafka");
  });

  it("keeps every workload's first selector and labels objects and pods with the stack's recipe", async () => {
    const { mine, byType } = await tracing("t7", { kafka: { brokers: 3, replicationFactor: 3 }, cassandra: { nodes: 3, replicationFactor: 3 } });
    const selector = (app: string) => ({ "app.kubernetes.io/name": app, "app.kubernetes.io/part-of": "jaeger" });
    const recipe = (app: string) => ({ ...selector(app), "app.kubernetes.io/instance": "t7", "app.kubernetes.io/component": "tracing" });
    const workloads = [...byType("kubernetes:apps/v1:StatefulSet"), ...byType("kubernetes:apps/v1:Deployment")].map((w) => w.inputs);
    expect(workloads.map((w) => w.metadata.name).sort()).toEqual(["cassandra", "jaeger-collector", "jaeger-ingester", "jaeger-query", "kafka", "kafka-exporter"]);
    for (const w of workloads) {
      // selectors are immutable: exactly what the backend was first deployed with
      expect(w.spec.selector.matchLabels).toEqual(selector(w.metadata.name));
      expect(w.metadata.labels).toEqual(recipe(w.metadata.name));
      // pods also carry the injection opt-out label (istiod selects on it)
      expect(w.spec.template.metadata.labels).toEqual({ ...recipe(w.metadata.name), "sidecar.istio.io/inject": "false" });
      expect(w.spec.template.metadata.annotations ?? {}).not.toHaveProperty("sidecar.istio.io/inject");
    }
    for (const svc of byType("kubernetes:core/v1:Service").map((c) => c.inputs)) expect(svc.spec.selector).toEqual(selector(svc.metadata.name));
    for (const pdb of byType("kubernetes:policy/v1:PodDisruptionBudget").map((c) => c.inputs)) expect(pdb.spec.selector.matchLabels).toEqual(selector(pdb.metadata.name));
    const jobs = byType("kubernetes:batch/v1:Job").map((c) => c.inputs);
    expect(jobs.map((j) => j.metadata.labels).sort((a, b) => a["app.kubernetes.io/name"].localeCompare(b["app.kubernetes.io/name"]))).toEqual([recipe("cassandra-schema"), recipe("kafka-topic")]);
    for (const j of jobs) expect(j.spec.template.metadata.labels).toEqual({ ...j.metadata.labels, "sidecar.istio.io/inject": "false" });
    const objects = mine.filter((c) => c.type.startsWith("kubernetes:"));
    // 18 and the two credential Secrets (Kafka, Cassandra)
    expect(objects).toHaveLength(20);
    for (const o of objects) {
      expect(o.inputs.metadata.labels, `${o.type} ${o.name}`).toMatchObject({ "app.kubernetes.io/instance": "t7", "app.kubernetes.io/part-of": "jaeger", "app.kubernetes.io/component": "tracing" });
      expect(o.inputs.metadata.labels).not.toHaveProperty(["app.kubernetes.io/managed-by"]);
    }
  });

  it("writes every host with the configured cluster domain", async () => {
    const { t, mine, one } = await tracing("t8", { kafka: { brokers: 3, replicationFactor: 3 }, cassandra: { nodes: 3, replicationFactor: 3 } }, true, "corp.example");
    expect(await value(t.zipkinHost)).toBe("jaeger-collector.observability.svc.corp.example");
    expect(await value(t.queryUrl)).toBe("http://jaeger-query.observability.svc.corp.example:16686");
    const env = (set: string) => one("kubernetes:apps/v1:StatefulSet", set).inputs.spec.template.spec.containers[0].env as { name: string; value?: string }[];
    expect(env("kafka").find((e) => e.name === "KAFKA_CONTROLLER_QUORUM_VOTERS")?.value).toBe([0, 1, 2].map((i) => `${i}@kafka-${i}.kafka.observability.svc.corp.example:9093`).join(","));
    expect(env("kafka").find((e) => e.name === "KAFKA_ADVERTISED_LISTENERS")?.value).toBe("SASL://$(POD_NAME).kafka.observability.svc.corp.example:9092");
    expect(env("cassandra").find((e) => e.name === "CASSANDRA_SEEDS")?.value).toBe("cassandra-0.cassandra.observability.svc.corp.example,cassandra-1.cassandra.observability.svc.corp.example");
    const collector = parse(one("kubernetes:core/v1:ConfigMap", "jaeger-collector-config").inputs.data["config.yaml"]);
    expect(collector.exporters.kafka.brokers[0]).toBe("kafka-0.kafka.observability.svc.corp.example:9092");
    expect(one("kubernetes:batch/v1:Job", "cassandra-schema").inputs.spec.template.spec.containers[0].command[2]).toContain("cqlsh cassandra.observability.svc.corp.example 9042");
    expect(JSON.stringify(mine.map((c) => c.inputs))).not.toContain("cluster.local");
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
