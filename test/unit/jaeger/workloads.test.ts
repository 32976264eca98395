// The backend's Kubernetes shapes (components/jaeger/workloads.ts): Kafka and Cassandra through
// the one headless StatefulSet builder, the labels and the selectors kept, the roles' wiring.
import { describe, expect, it } from "vitest";
import type { Issue } from "../../../lib/schema.js";
import { type JaegerConfig, jaegerSchema } from "../../../components/jaeger/config.js";
import { spawnSync } from "node:child_process";
import {
  backendLabels,
  backendSelector,
  cassandraReadinessScript,
  cassandraSet,
  disruptionBudgetSpec,
  kafkaReadinessScript,
  kafkaSet,
  queryServiceSpec,
  ROLE_NEEDS,
  roleDeploymentSpec,
  schemaJobSpec,
  topicJobSpec,
  waitContainer,
} from "../../../components/jaeger/workloads.js";
import { headlessStatefulSet } from "../../../components/k8s/statefulset.js";

function config(raw: Record<string, unknown> = {}): JaegerConfig {
  const issues: Issue[] = [];
  const c = jaegerSchema.parse(raw, "obs:jaeger", issues);
  expect(issues).toEqual([]);
  return c!;
}
const env = [{ name: "E", value: "v" }];

describe("labels and selectors", () => {
  it("selects on name and part-of jaeger (immutable since the first deploy); labels follow the recipe and still match", () => {
    expect(backendSelector("kafka")).toEqual({ "app.kubernetes.io/name": "kafka", "app.kubernetes.io/part-of": "jaeger" });
    expect(backendLabels("kafka", "tracing")).toEqual({ "app.kubernetes.io/name": "kafka", "app.kubernetes.io/instance": "tracing", "app.kubernetes.io/part-of": "jaeger", "app.kubernetes.io/component": "tracing" });
    expect(backendLabels("kafka", "tracing")).toMatchObject(backendSelector("kafka"));
    expect(disruptionBudgetSpec("cassandra")).toEqual({ maxUnavailable: 1, selector: { matchLabels: backendSelector("cassandra") } });
  });
});

describe("Kafka and Cassandra StatefulSets", () => {
  it("Kafka: the headless builder's shape, all voters started together, its volume from config", () => {
    const c = config({ kafka: { brokers: 3, replicationFactor: 3, storageSize: "5Gi", storageClass: "fast" } });
    const k = kafkaSet({ instance: "tracing", config: c, env });
    const pod = k.statefulSet.template as any;
    expect(k).toEqual(
      headlessStatefulSet({
        name: "kafka",
        replicas: 3,
        selector: backendSelector("kafka"),
        podLabels: { ...backendLabels("kafka", "tracing"), "sidecar.istio.io/inject": "false" },
        ports: [{ name: "tcp-kafka", port: 9092 }, { name: "tcp-controller", port: 9093 }],
        volume: { size: "5Gi", storageClass: "fast" },
        podManagementPolicy: "Parallel",
        pod: pod.spec,
      }),
    );
    expect(pod.spec.containers[0]).toMatchObject({ name: "kafka", image: "apache/kafka:4.1.0", env, volumeMounts: [{ name: "data", mountPath: "/var/lib/kafka" }, { name: "kafka-auth", mountPath: "/etc/kafka-auth", readOnly: true }] });
    // the readiness probe logs in with the client config from the Secret
    expect(pod.spec.volumes).toEqual([{ name: "kafka-auth", secret: { secretName: "jaeger-kafka-auth", defaultMode: 0o440, items: [{ key: "client.properties", path: "client.properties" }] } }]);
    expect(kafkaReadinessScript()).toContain("--command-config /etc/kafka-auth/client.properties");
    expect(pod.spec.securityContext).toEqual({ fsGroup: 1000, runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    expect(pod.spec.containers[0].securityContext).toEqual({ runAsUser: 1000, runAsGroup: 1000, runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" } });
    // ready only once this broker is back in sync for its partitions, not on an open port
    expect(pod.spec.containers[0].readinessProbe.exec.command).toEqual(["/bin/sh", "-c", kafkaReadinessScript()]);
    // the pod spec above is taken from the result: its own fields are checked here
    expect(pod.spec.terminationGracePeriodSeconds).toBe(60);
    expect(pod.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm).toEqual({ topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: backendSelector("kafka") } });
    expect(pod.spec.containers[0].resources).toEqual(c.kafka.resources);
  });

  it("Cassandra: the headless builder's shape, nodes joining one at a time", () => {
    const c = config({ cassandra: { nodes: 3, replicationFactor: 3 } });
    const s = cassandraSet({ instance: "tracing", config: c, env });
    const pod = s.statefulSet.template as any;
    expect(s).toEqual(
      headlessStatefulSet({
        name: "cassandra",
        replicas: 3,
        selector: backendSelector("cassandra"),
        podLabels: { ...backendLabels("cassandra", "tracing"), "sidecar.istio.io/inject": "false" },
        ports: [{ name: "tcp-cql", port: 9042 }, { name: "tcp-gossip", port: 7000 }],
        volume: { size: "50Gi", storageClass: "" },
        pod: pod.spec,
      }),
    );
    expect(s.statefulSet).not.toHaveProperty("podManagementPolicy");
    expect(pod.spec.containers[0]).toMatchObject({ name: "cassandra", image: "cassandra:5.0.5", env, volumeMounts: [{ name: "data", mountPath: "/var/lib/cassandra" }] });
    // a joining node streams before 9042 opens: startup and liveness ask the local JMX, readiness wants UN
    const probes = pod.spec.containers[0];
    expect(probes.startupProbe.exec.command).toEqual(["nodetool", "version"]);
    expect(probes.livenessProbe.exec.command).toEqual(["nodetool", "version"]);
    expect(JSON.stringify([probes.startupProbe, probes.livenessProbe, probes.readinessProbe])).not.toContain("tcpSocket");
    expect(probes.readinessProbe.exec.command).toEqual(["/bin/bash", "-c", cassandraReadinessScript()]);
    expect(cassandraReadinessScript()).toContain('grep -qE "^UN +$POD_IP( |$)"');
    expect(pod.spec.containers[0].lifecycle.preStop.exec.command).toEqual(["nodetool", "drain"]);
    expect(pod.spec.securityContext).toEqual({ fsGroup: 999, runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    expect(pod.spec.terminationGracePeriodSeconds).toBe(120);
    expect(pod.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.labelSelector).toEqual({ matchLabels: backendSelector("cassandra") });
    expect(pod.spec.containers[0].resources).toEqual(c.cassandra.resources);
  });
});

describe("quorum spread and readiness scripts", () => {
  it("Kafka and Cassandra with 3 or more members: a hard anti-affinity rule when asked (staging, prod), preferred otherwise", () => {
    const c = config({ kafka: { brokers: 3, replicationFactor: 3 }, cassandra: { nodes: 3, replicationFactor: 3 } });
    for (const set of [kafkaSet, cassandraSet]) {
      const hard = (set({ instance: "tracing", config: c, env, requireSpread: true }).statefulSet.template as any).spec.affinity.podAntiAffinity;
      expect(hard.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey).toBe("kubernetes.io/hostname");
      expect(hard).not.toHaveProperty("preferredDuringSchedulingIgnoredDuringExecution");
      const soft = (set({ instance: "tracing", config: c, env }).statefulSet.template as any).spec.affinity.podAntiAffinity;
      expect(soft).not.toHaveProperty("requiredDuringSchedulingIgnoredDuringExecution");
    }
    // a single member stays schedulable anywhere
    const one = (kafkaSet({ instance: "tracing", config: config({}), env, requireSpread: true }).statefulSet.template as any).spec.affinity.podAntiAffinity;
    expect(one).not.toHaveProperty("requiredDuringSchedulingIgnoredDuringExecution");
  });

  it("the Kafka readiness script fails while this broker is out of sync for one of its partitions, and only then", () => {
    // kafka-topics.sh --describe --under-replicated-partitions prints one tab-separated line per partition
    const run = (id: string, lines: string[], describe = `printf '${lines.map((l) => `${l}\\n`).join("")}'`) =>
      spawnSync("sh", ["-c", kafkaReadinessScript(describe)], { env: { ...process.env, KAFKA_NODE_ID: id }, encoding: "utf8" }).status;
    const lagging = "\tTopic: jaeger-spans\tTopicId: x\tPartition: 0\tLeader: 0\tReplicas: 0,1,2\tIsr: 0,2\tElr: \tLastKnownElr: ";
    expect(run("1", [lagging])).toBe(1);
    expect(run("2", [lagging])).toBe(0);
    expect(run("1", [])).toBe(0);
    expect(run("12", [lagging])).toBe(0);
    // no answer from the broker: not ready
    expect(run("0", [], "false")).toBe(1);
  });
});

describe("Jobs and the Jaeger roles", () => {
  it("Jobs: bounded, outside the mesh, the script as sh -c; the schema Job mounts its CQL", () => {
    const labels = backendLabels("kafka-topic", "tracing");
    const topic = topicJobSpec(labels, "echo topic") as any;
    expect(topic).toMatchObject({ backoffLimit: 3, activeDeadlineSeconds: 540, template: { metadata: { labels: { ...labels, "sidecar.istio.io/inject": "false" } }, spec: { restartPolicy: "Never" } } });
    expect(topic.template.metadata).not.toHaveProperty("annotations");
    expect(topic.template.spec.containers[0].command).toEqual(["/bin/sh", "-c", "echo topic"]);
    const schema = schemaJobSpec(backendLabels("cassandra-schema", "tracing"), "echo cql", "schema-cm") as any;
    expect(schema.template.spec.volumes[0]).toEqual({ name: "schema", configMap: { name: "schema-cm" } });
    // the credentials and role CQL from the Secret, readable by the pod's group only
    expect(schema.template.spec.volumes[1]).toMatchObject({ name: "cassandra-auth", secret: { secretName: "jaeger-cassandra-auth", defaultMode: 0o440 } });
    expect(schema.template.spec.securityContext.fsGroup).toBe(999);
    expect(schema.template.spec.containers[0]).toMatchObject({ env: [{ name: "HOME", value: "/tmp" }], securityContext: { runAsUser: 999, runAsNonRoot: true }, volumeMounts: [{ name: "schema", mountPath: "/etc/jaeger-schema", readOnly: true }, { name: "cassandra-auth", mountPath: "/etc/cassandra-auth", readOnly: true }] });
    expect(topic.template.spec.volumes).toEqual([{ name: "kafka-auth", secret: { secretName: "jaeger-kafka-auth", defaultMode: 0o440, items: [{ key: "client.properties", path: "client.properties" }] } }]);
    // a password change is a new Job (its name follows the spec), which runs again
    const rotated = topicJobSpec(labels, "echo topic", "abc123") as any;
    expect(rotated.template.metadata.annotations).toEqual({ "observability-stack/secrets-hash": "abc123" });
  });

  it("each role waits for what it reads or writes, in that order", () => {
    expect(ROLE_NEEDS).toEqual({ collector: ["kafka"], ingester: ["kafka", "cassandra"], query: ["cassandra"] });
    expect(waitContainer("kafka", "w").name).toBe("wait-kafka");
    expect(waitContainer("cassandra", "w")).toMatchObject({ name: "wait-cassandra", image: "cassandra:5.0.5", env: [{ name: "HOME", value: "/tmp" }] });
  });

  it("a role's Deployment: replicas and resources from its config, its ports, its ConfigMap, scraped on 8888", () => {
    const c = config({ ingester: { replicas: 2 } });
    const d = roleDeploymentSpec({ role: "ingester", instance: "tracing", config: c, configMap: "cm", initContainers: [waitContainer("kafka", "w")] }) as any;
    expect(d.replicas).toBe(2);
    expect(d.selector.matchLabels).toEqual(backendSelector("jaeger-ingester"));
    expect(d.template.metadata).toEqual({ labels: { ...backendLabels("jaeger-ingester", "tracing"), "sidecar.istio.io/inject": "false" }, annotations: { "prometheus.io/scrape": "true", "prometheus.io/port": "8888" } });
    expect(d.template.spec.initContainers.map((i: { name: string }) => i.name)).toEqual(["wait-kafka"]);
    expect(d.template.spec.containers[0].resources).toEqual(c.ingester.resources);
    expect(d.template.spec.volumes[0]).toEqual({ name: "config", configMap: { name: "cm" } });
    const q = roleDeploymentSpec({ role: "query", instance: "tracing", config: c, configMap: "cm", initContainers: [] }) as any;
    expect(q.template.spec.containers[0].ports.map((p: { name: string }) => p.name)).toEqual(["query", "query-grpc", "health", "metrics"]);
    expect(queryServiceSpec(true).type).toBe("LoadBalancer");
    expect(queryServiceSpec(false).selector).toEqual(backendSelector("jaeger-query"));
  });
});
