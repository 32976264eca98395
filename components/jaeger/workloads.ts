// The tracing backend's Kubernetes shapes (the Kafka and Cassandra StatefulSets, their Jobs,
// the Jaeger roles, Services, disruption budgets), built by pure functions so they are tested
// without the Pulumi engine; the component only registers them. Text that names hosts in the
// namespace (env, scripts) comes in as an input, so only that text waits on the namespace.
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { labels } from "../k8s/labels.js";
import { DATA_VOLUME, type HeadlessStatefulSet, headlessStatefulSet, type HeadlessStatefulSetInput } from "../k8s/statefulset.js";
import { scrapeAnnotations } from "../mesh/metrics.js";
import { SECRETS_HASH_ANNOTATION } from "../k8s/hash.js";
import { authMount, authVolume, CASSANDRA_AUTH_KEYS, KAFKA_AUTH_KEYS, KAFKA_CLIENT_CONFIG, PASSWORD_ENV, secretEnv } from "./auth.js";
import { CASSANDRA_DATA_PATH, CASSANDRA_UID, SCHEMA_DIR } from "./cassandra.js";
import type { JaegerConfig, ResourcesConfig } from "./config.js";
import { HEALTH_PATH, type JaegerRole } from "./jaeger-config.js";
import { type EnvVar, KAFKA_BIN, KAFKA_UID, KAFKA_VOLUME_PATH, kafkaEnvName } from "./kafka.js";
import { IMAGES, NAMES, PORTS } from "./topology.js";
import { apartOnNodes } from "../k8s/spread.js";

type Container = k8s.types.input.core.v1.Container;

const PART_OF = "jaeger";

/**
 * What every workload of the backend selects on. A Deployment's or StatefulSet's selector is
 * immutable, so it stays the one the backend was first deployed with: the stack's recipe
 * (name and instance) would replace every workload, and the StatefulSets with their data.
 */
export function backendSelector(app: string): Record<string, string> {
  return { "app.kubernetes.io/name": app, "app.kubernetes.io/part-of": PART_OF };
}

/**
 * Labels of every object and pod: the stack's recipe (component "tracing"), with part-of kept
 * at "jaeger" so the pods still match backendSelector.
 */
export function backendLabels(app: string, instance: string): Record<string, string> {
  return { ...labels(app, instance, "tracing"), "app.kubernetes.io/part-of": PART_OF };
}

/** Bound of every init container's wait; the kubelet retries it with back-off afterwards. */
export const DEPENDENCY_WAIT_SECONDS = 300;
/** Jobs fail before Pulumi's 10-minute await gives up, with their own message. */
export const JOB_DEADLINE_SECONDS = 540;
export const JAEGER_CONFIG_DIR = "/etc/jaeger";
export const JAEGER_CONFIG_FILE = "config.yaml";
/** uid of the jaeger image's user. */
const JAEGER_UID = 10001;

const toolResources = { requests: { cpu: "50m", memory: "128Mi", "ephemeral-storage": "32Mi" }, limits: { cpu: "500m", memory: "512Mi", "ephemeral-storage": "256Mi" } };
// The backend does not trace itself through the mesh (a sidecar would also keep the Jobs
// running and cut the init containers off the network). The label, not the deprecated
// annotation: istiod's webhook selects on it.
export const NO_SIDECAR_LABEL = { "sidecar.istio.io/inject": "false" };
const seccomp = { seccompProfile: { type: "RuntimeDefault" as const } };
/** A container passing Pod Security `restricted` as `uid`. */
export const restrictedAs = (uid: number) => ({ runAsUser: uid, runAsGroup: uid, runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, ...seccomp });
/** Pod-level security context of the backend's pods: the runtime's seccomp profile, the volume's group. */
const podSecurity = (fsGroup?: number) => ({ ...seccomp, runAsNonRoot: true, ...(fsGroup !== undefined ? { fsGroup } : {}) });
// cqlsh runs as the image's user and keeps its history out of a home it cannot write.
const cqlshUser = { env: [{ name: "HOME", value: "/tmp" }], securityContext: restrictedAs(CASSANDRA_UID) };

/** Anti-affinity on the node name: a hard rule for quorum members in staging and prod, preferred otherwise. */
export const spreadOver = (app: string, required = false): k8s.types.input.core.v1.Affinity => apartOnNodes(backendSelector(app), required);

/**
 * Kafka's readiness: this broker answers, and it is in sync for every partition it holds a
 * replica of (no under-replicated partition lists it among the replicas but not the ISR), so a
 * rolling update takes the next broker down only once this one has caught up.
 */
export function kafkaReadinessScript(underReplicated = `${KAFKA_BIN}/kafka-topics.sh --bootstrap-server localhost:${PORTS.kafka} --command-config ${KAFKA_CLIENT_CONFIG} --describe --under-replicated-partitions`): string {
  return [
    `urp=$(${underReplicated} 2>/dev/null) || exit 1`,
    `id=$${kafkaEnvName("node.id")}`,
    `echo "$urp" | while read -r line; do`,
    `  replicas=$(echo "$line" | sed -n 's/.*Replicas: *\\([0-9,]*\\).*/\\1/p'); isr=$(echo "$line" | sed -n 's/.*Isr: *\\([0-9,]*\\).*/\\1/p')`,
    `  case ",$replicas," in *",$id,"*) case ",$isr," in *",$id,"*) ;; *) exit 1 ;; esac ;; esac`,
    `done`,
  ].join("\n");
}

/** Cassandra's readiness: this node is Up and Normal (UN) in the ring, and CQL answers. */
export function cassandraReadinessScript(): string {
  return [`nodetool status 2>/dev/null | grep -qE "^UN +$POD_IP( |$)" || exit 1`, `exec 3<>/dev/tcp/127.0.0.1/${PORTS.cql}`].join("\n");
}

export interface StoreInput {
  /** The component's name: the `instance` label. */
  readonly instance: string;
  readonly config: JaegerConfig;
  /** The store container's env (kafkaEnv, cassandraEnv). */
  readonly env: pulumi.Input<EnvVar[]>;
  /** Quorum members on distinct nodes as a hard rule (staging, prod; 3 or more members). */
  readonly requireSpread?: boolean;
  /** secretHash of the store's auth Secret: a password change rolls the store. */
  readonly secretsHash?: string;
}

/** The pod-template annotation of secretHash, when there is one. */
export const secretsAnnotation = (hash: string | undefined): Record<string, string> => (hash ? { [SECRETS_HASH_ANNOTATION]: hash } : {});

/** A store of the backend: the headless StatefulSet `app`, selected and labelled like every backend workload, outside the mesh. */
function storeSet(app: string, instance: string, secretsHash: string | undefined, set: Omit<HeadlessStatefulSetInput, "name" | "selector" | "podLabels" | "podAnnotations">): HeadlessStatefulSet {
  return headlessStatefulSet({ name: app, selector: backendSelector(app), podLabels: { ...backendLabels(app, instance), ...NO_SIDECAR_LABEL }, ...(secretsHash ? { podAnnotations: secretsAnnotation(secretsHash) } : {}), ...set });
}

/** Kafka: every broker also a controller, behind the headless Service `kafka`. */
export function kafkaSet(i: StoreInput): HeadlessStatefulSet {
  const k = i.config.kafka;
  return storeSet(NAMES.kafka, i.instance, i.secretsHash, {
    replicas: k.brokers,
    ports: [
      { name: "tcp-kafka", port: PORTS.kafka },
      { name: "tcp-controller", port: PORTS.kafkaController },
    ],
    volume: { size: k.storageSize, storageClass: k.storageClass },
    // All voters start together; one at a time no quorum would ever form.
    podManagementPolicy: "Parallel",
    pod: {
      securityContext: podSecurity(KAFKA_UID),
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 60,
      affinity: spreadOver(NAMES.kafka, (i.requireSpread ?? false) && k.brokers >= 3),
      containers: [
        {
          name: "kafka",
          image: IMAGES.kafka,
          env: i.env,
          ports: [
            { name: "kafka", containerPort: PORTS.kafka },
            { name: "controller", containerPort: PORTS.kafkaController },
          ],
          readinessProbe: { exec: { command: ["/bin/sh", "-c", kafkaReadinessScript()] }, initialDelaySeconds: 20, periodSeconds: 20, timeoutSeconds: 15 },
          livenessProbe: { tcpSocket: { port: PORTS.kafkaController }, initialDelaySeconds: 60, periodSeconds: 20, failureThreshold: 6 },
          resources: k.resources,
          securityContext: restrictedAs(KAFKA_UID),
          volumeMounts: [{ name: DATA_VOLUME, mountPath: KAFKA_VOLUME_PATH }, authMount("kafka")],
        },
      ],
      // the readiness probe's client config
      volumes: [authVolume("kafka", [KAFKA_AUTH_KEYS.clientProperties])],
    },
  });
}

/** Cassandra: nodes join the ring one at a time (OrderedReady), behind the headless Service `cassandra`. */
export function cassandraSet(i: StoreInput): HeadlessStatefulSet {
  const c = i.config.cassandra;
  return storeSet(NAMES.cassandra, i.instance, i.secretsHash, {
    replicas: c.nodes,
    ports: [
      { name: "tcp-cql", port: PORTS.cql },
      { name: "tcp-gossip", port: PORTS.cassandraGossip },
    ],
    volume: { size: c.storageSize, storageClass: c.storageClass },
    pod: {
      securityContext: podSecurity(CASSANDRA_UID),
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 120,
      affinity: spreadOver(NAMES.cassandra, (i.requireSpread ?? false) && c.nodes >= 3),
      containers: [
        {
          name: "cassandra",
          image: IMAGES.cassandra,
          env: i.env,
          ports: [
            { name: "cql", containerPort: PORTS.cql },
            { name: "gossip", containerPort: PORTS.cassandraGossip },
          ],
          // Startup and liveness ask JMX (local, up early in the start), not CQL: 9042 opens only
          // once a joining node has streamed its data, which may take hours. Readiness is UN.
          startupProbe: { exec: { command: ["nodetool", "version"] }, periodSeconds: 15, timeoutSeconds: 30, failureThreshold: 40 },
          readinessProbe: { exec: { command: ["/bin/bash", "-c", cassandraReadinessScript()] }, periodSeconds: 20, timeoutSeconds: 30 },
          livenessProbe: { exec: { command: ["nodetool", "version"] }, periodSeconds: 30, timeoutSeconds: 30, failureThreshold: 6 },
          securityContext: restrictedAs(CASSANDRA_UID),
          // Flush memtables and leave the ring cleanly before the pod stops.
          lifecycle: { preStop: { exec: { command: ["nodetool", "drain"] } } },
          resources: c.resources,
          volumeMounts: [{ name: DATA_VOLUME, mountPath: CASSANDRA_DATA_PATH }],
        },
      ],
    },
  });
}

/** At most one broker or node down at a time (only with more than one). */
export function disruptionBudgetSpec(app: string): k8s.types.input.policy.v1.PodDisruptionBudgetSpec {
  return { maxUnavailable: 1, selector: { matchLabels: backendSelector(app) } };
}

/** A one-shot Job: bounded attempts and deadline, outside the mesh. */
function jobSpec(jobLabels: Record<string, string>, container: Container, fsGroup: number, secretsHash: string | undefined, volumes: k8s.types.input.core.v1.Volume[]): k8s.types.input.batch.v1.JobSpec {
  const annotations = secretsAnnotation(secretsHash);
  return {
    backoffLimit: 3,
    activeDeadlineSeconds: JOB_DEADLINE_SECONDS,
    template: {
      // The secrets' hash makes a rotation a new Job (its name follows the spec), which runs again.
      metadata: { labels: { ...jobLabels, ...NO_SIDECAR_LABEL }, ...(Object.keys(annotations).length ? { annotations } : {}) },
      // fsGroup: the group that may read the auth Secret's files
      spec: { restartPolicy: "Never", automountServiceAccountToken: false, securityContext: podSecurity(fsGroup), containers: [container], volumes },
    },
  };
}

/** The topic Job (topicJobScript). */
export function topicJobSpec(jobLabels: Record<string, string>, script: pulumi.Input<string>, secretsHash?: string): k8s.types.input.batch.v1.JobSpec {
  return jobSpec(
    jobLabels,
    { name: "create-topic", image: IMAGES.kafka, command: ["/bin/sh", "-c", script], securityContext: restrictedAs(KAFKA_UID), resources: toolResources, volumeMounts: [authMount("kafka")] },
    KAFKA_UID,
    secretsHash,
    [authVolume("kafka", [KAFKA_AUTH_KEYS.clientProperties])],
  );
}

/** The schema Job (schemaJobScript), with the CQL ConfigMap mounted at SCHEMA_DIR. */
export function schemaJobSpec(jobLabels: Record<string, string>, script: pulumi.Input<string>, schemaConfigMap: pulumi.Input<string>, secretsHash?: string): k8s.types.input.batch.v1.JobSpec {
  return jobSpec(
    jobLabels,
    { name: "create-schema", image: IMAGES.cassandra, command: ["/bin/sh", "-c", script], ...cqlshUser, resources: toolResources, volumeMounts: [{ name: "schema", mountPath: SCHEMA_DIR, readOnly: true }, authMount("cassandra")] },
    CASSANDRA_UID,
    secretsHash,
    [{ name: "schema", configMap: { name: schemaConfigMap } }, authVolume("cassandra", CASSANDRA_CLI_KEYS)],
  );
}

/** What cqlsh's wrappers read from the Cassandra Secret. */
const CASSANDRA_CLI_KEYS = [CASSANDRA_AUTH_KEYS.credentials, CASSANDRA_AUTH_KEYS.defaultCredentials, CASSANDRA_AUTH_KEYS.bootstrap, CASSANDRA_AUTH_KEYS.lockdown];

/** What a role waits for before it starts; Pulumi also orders it after that store's Job. */
export type Dependency = "kafka" | "cassandra";
export const ROLE_NEEDS: Readonly<Record<JaegerRole, readonly Dependency[]>> = { collector: ["kafka"], ingester: ["kafka", "cassandra"], query: ["cassandra"] };

/** Container ports of each role besides health and metrics, by name. */
export const ROLE_PORTS: Readonly<Record<JaegerRole, Readonly<Record<string, number>>>> = {
  collector: { zipkin: PORTS.zipkin, "otlp-grpc": PORTS.otlpGrpc, "otlp-http": PORTS.otlpHttp },
  ingester: {},
  query: { query: PORTS.query, "query-grpc": PORTS.queryGrpc },
};

/** The init container that waits for a store (topicWaitScript, schemaWaitScript). */
export function waitContainer(dependency: Dependency, script: pulumi.Input<string>): Container {
  const command = ["/bin/sh", "-c", script];
  if (dependency === "kafka") return { name: "wait-kafka", image: IMAGES.kafka, command, securityContext: restrictedAs(KAFKA_UID), resources: toolResources, volumeMounts: [authMount("kafka")] };
  return { name: "wait-cassandra", image: IMAGES.cassandra, command, ...cqlshUser, resources: toolResources, volumeMounts: [authMount("cassandra")] };
}

/** The auth Secret volumes of a role's pod (what its wait containers read). */
export function roleAuthVolumes(needs: readonly Dependency[]): k8s.types.input.core.v1.Volume[] {
  return needs.map((d) => (d === "kafka" ? authVolume("kafka", [KAFKA_AUTH_KEYS.clientProperties]) : authVolume("cassandra", CASSANDRA_CLI_KEYS)));
}

/** The jaeger container's password env: what its config reads with `${env:...}`. */
export function roleAuthEnv(needs: readonly Dependency[]): { name: string; valueFrom: { secretKeyRef: { name: string; key: string } } }[] {
  return needs.map((d) => (d === "kafka" ? secretEnv(PASSWORD_ENV.kafka, "kafka", KAFKA_AUTH_KEYS.password) : secretEnv(PASSWORD_ENV.cassandra, "cassandra", CASSANDRA_AUTH_KEYS.password)));
}

export interface RoleInput {
  readonly role: JaegerRole;
  readonly instance: string;
  readonly config: JaegerConfig;
  /** The role's otelcol ConfigMap (auto-named: a new config rolls the Deployment). */
  readonly configMap: pulumi.Input<string>;
  /** One waitContainer per ROLE_NEEDS entry, in that order. */
  readonly initContainers: Container[];
  /** secretHash of the auth Secrets the role reads: a password change rolls it. */
  readonly secretsHash?: string;
}

/** A Jaeger role: the jaeger binary with its otelcol config, scraped, probed on healthcheckv2. */
export function roleDeploymentSpec(r: RoleInput): k8s.types.input.apps.v1.DeploymentSpec {
  const app = NAMES[r.role];
  const rc: { replicas: number; resources: ResourcesConfig } = r.config[r.role];
  const ports = [...Object.entries(ROLE_PORTS[r.role]).map(([name, containerPort]) => ({ name, containerPort })), { name: "health", containerPort: PORTS.health }, { name: "metrics", containerPort: PORTS.metrics }];
  const health = { httpGet: { path: HEALTH_PATH, port: "health" } };
  return {
    replicas: rc.replicas,
    selector: { matchLabels: backendSelector(app) },
    template: {
      metadata: { labels: { ...backendLabels(app, r.instance), ...NO_SIDECAR_LABEL }, annotations: { ...scrapeAnnotations(PORTS.metrics), ...secretsAnnotation(r.secretsHash) } },
      spec: {
        // fsGroup: the group that may read the auth Secrets' files (the wait containers run as other users)
        securityContext: podSecurity(JAEGER_UID),
        automountServiceAccountToken: false,
        affinity: spreadOver(app),
        initContainers: r.initContainers,
        containers: [
          {
            name: "jaeger",
            image: IMAGES.jaeger,
            args: [`--config=${JAEGER_CONFIG_DIR}/${JAEGER_CONFIG_FILE}`],
            env: roleAuthEnv(ROLE_NEEDS[r.role]),
            ports,
            readinessProbe: { ...health, periodSeconds: 10 },
            livenessProbe: { ...health, initialDelaySeconds: 15, periodSeconds: 20, failureThreshold: 5 },
            resources: rc.resources,
            securityContext: { ...restrictedAs(JAEGER_UID), readOnlyRootFilesystem: true },
            volumeMounts: [
              { name: "config", mountPath: JAEGER_CONFIG_DIR, readOnly: true },
              { name: "tmp", mountPath: "/tmp" },
            ],
          },
        ],
        volumes: [
          { name: "config", configMap: { name: r.configMap } },
          { name: "tmp", emptyDir: { sizeLimit: "64Mi" } },
          ...roleAuthVolumes(ROLE_NEEDS[r.role]),
        ],
      },
    },
  };
}

/** `jaeger-collector`: Zipkin 9411 (the mesh's tracer), OTLP 4317/4318. Port names carry the protocol for Istio. */
export function collectorServiceSpec(): k8s.types.input.core.v1.ServiceSpec {
  return {
    selector: backendSelector(NAMES.collector),
    ports: [
      { name: "http-zipkin", port: PORTS.zipkin, targetPort: "zipkin", appProtocol: "http" },
      { name: "grpc-otlp", port: PORTS.otlpGrpc, targetPort: "otlp-grpc", appProtocol: "grpc" },
      { name: "http-otlp", port: PORTS.otlpHttp, targetPort: "otlp-http", appProtocol: "http" },
    ],
  };
}

/** `jaeger-query`: UI and API on 16686, gRPC on 16685; a LoadBalancer when exposed. */
export function queryServiceSpec(expose: boolean): k8s.types.input.core.v1.ServiceSpec {
  return {
    type: expose ? "LoadBalancer" : "ClusterIP",
    selector: backendSelector(NAMES.query),
    ports: [
      { name: "http-query", port: PORTS.query, targetPort: "query", appProtocol: "http" },
      { name: "grpc-query", port: PORTS.queryGrpc, targetPort: "query-grpc", appProtocol: "grpc" },
    ],
  };
}
