// The tracing backend: Kafka (KRaft) buffers spans between the Jaeger collectors and
// ingesters, Cassandra stores them, jaeger-query serves the UI. Each role starts only when
// what it needs is ready: Pulumi orders it (dependsOn the StatefulSets and Jobs) and the pod
// checks it again on every start (bounded init containers). kafka-exporter reports the brokers
// and the ingesters' consumer lag to Prometheus.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import { CASSANDRA_DATA_PATH, CASSANDRA_UID, cassandraEnv, SCHEMA_DIR, SCHEMA_FILE, schemaCql, schemaJobScript, schemaWaitScript } from "./cassandra.js";
import type { ResourcesConfig, TracingBackendConfig } from "./config.js";
import { collectorConfig, HEALTH_PATH, ingesterConfig, type JaegerConfigInput, type OtelcolConfig, queryConfig } from "./jaeger-config.js";
import { KAFKA_UID, KAFKA_VOLUME_PATH, kafkaEnv, topicJobScript, topicWaitScript } from "./kafka.js";
import { kafkaExporterDeploymentSpec } from "./kafka-exporter.js";
import { scrapeAnnotations } from "../mesh/metrics.js";
import { IMAGES, NAMES, PORTS, serviceHost } from "./topology.js";

export { checkTracing, type TracingBackendConfig, tracingBackendSchema } from "./config.js";
export { collectorConfig, ingesterConfig, queryConfig } from "./jaeger-config.js";
export { IMAGES, INGESTER_GROUP, KEYSPACE, NAMES, PORTS, SPANS_TOPIC } from "./topology.js";

/** Name of the Service that receives Zipkin spans from the mesh (port 9411). */
export const ZIPKIN_SERVICE_NAME = NAMES.collector;

/** Host the mesh's Zipkin tracer sends to: `jaeger-collector.<ns>.svc.cluster.local`. */
export function zipkinHost(namespace: string): string {
  return serviceHost(ZIPKIN_SERVICE_NAME, namespace);
}

export interface TracingArgs {
  /** Namespace of every object; it must exist. */
  readonly namespace: pulumi.Input<string>;
  /** The parsed `obs:jaeger` section. */
  readonly config: TracingBackendConfig;
  /** Keep the StatefulSets and their Services in the cluster when they leave the stack. */
  readonly retainOnDelete: boolean;
}

/** Bound of every init container's wait; the kubelet retries it with back-off afterwards. */
const DEPENDENCY_WAIT_SECONDS = 300;
/** Jobs fail before Pulumi's 10-minute await gives up, with their own message. */
const JOB_DEADLINE_SECONDS = 540;

const toolResources = { requests: { cpu: "50m", memory: "128Mi" }, limits: { cpu: "500m", memory: "512Mi" } };
// The backend does not trace itself through the mesh; a sidecar would also keep the Jobs
// running and cut the init containers off the network.
const noSidecar = { "sidecar.istio.io/inject": "false" };
// cqlsh runs as the image's user and keeps its history out of a home it cannot write.
const cqlshUser = { securityContext: { runAsUser: CASSANDRA_UID, runAsGroup: CASSANDRA_UID, runAsNonRoot: true } };

function labelsOf(component: string): Record<string, string> {
  return { "app.kubernetes.io/name": component, "app.kubernetes.io/part-of": "jaeger", "app.kubernetes.io/managed-by": "pulumi" };
}
const selectorOf = (component: string) => ({ "app.kubernetes.io/name": component, "app.kubernetes.io/part-of": "jaeger" });

function spreadOver(component: string) {
  return { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: selectorOf(component) } } }] } };
}

function volumeClaim(size: string, storageClass: string) {
  return { metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], ...(storageClass ? { storageClassName: storageClass } : {}), resources: { requests: { storage: size } } } };
}

export class Tracing extends pulumi.ComponentResource {
  /** `jaeger-collector.<ns>.svc.cluster.local`, the mesh's Zipkin target. */
  readonly zipkinHost: pulumi.Output<string>;
  /** In-cluster URL of the Jaeger UI. */
  readonly queryUrl: pulumi.Output<string>;
  readonly kafka: k8s.apps.v1.StatefulSet;
  readonly cassandra: k8s.apps.v1.StatefulSet;
  readonly topicJob: k8s.batch.v1.Job;
  /** kafka-exporter (port 9308, scraped through its pod annotations). */
  readonly kafkaExporter: k8s.apps.v1.Deployment;
  readonly schemaJob: k8s.batch.v1.Job;
  readonly collector: k8s.apps.v1.Deployment;
  readonly ingester: k8s.apps.v1.Deployment;
  readonly query: k8s.apps.v1.Deployment;
  /** `jaeger-collector`: Zipkin 9411, OTLP 4317/4318. */
  readonly collectorService: k8s.core.v1.Service;
  /** `jaeger-query`: UI and API on 16686. */
  readonly queryService: k8s.core.v1.Service;

  constructor(name: string, args: TracingArgs, opts?: pulumi.ComponentResourceOptions) {
    super("obs:tracing:Jaeger", name, {}, opts);
    const cfg = args.config;
    const namespace = pulumi.output(args.namespace);
    // Builders need the namespace as text (DNS names); apply only shapes data, never resources.
    const build = <T>(f: (ns: string) => T): pulumi.Output<T> => namespace.apply(f);
    const stateful: pulumi.CustomResourceOptions = { parent: this, retainOnDelete: args.retainOnDelete };

    // ---- Kafka ----
    const kafkaLabels = labelsOf(NAMES.kafka);
    new k8s.core.v1.Service(
      `${name}-kafka`,
      {
        metadata: { name: NAMES.kafka, namespace, labels: kafkaLabels },
        spec: {
          clusterIP: "None",
          // Brokers must find each other (quorum) before any of them is ready.
          publishNotReadyAddresses: true,
          selector: selectorOf(NAMES.kafka),
          ports: [
            { name: "tcp-kafka", port: PORTS.kafka },
            { name: "tcp-controller", port: PORTS.kafkaController },
          ],
        },
      },
      stateful,
    );
    this.kafka = new k8s.apps.v1.StatefulSet(
      `${name}-kafka`,
      {
        metadata: { name: NAMES.kafka, namespace, labels: kafkaLabels },
        spec: {
          serviceName: NAMES.kafka,
          replicas: cfg.kafka.brokers,
          // All voters start together; one at a time no quorum would ever form.
          podManagementPolicy: "Parallel",
          selector: { matchLabels: selectorOf(NAMES.kafka) },
          persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
          template: {
            metadata: { labels: kafkaLabels, annotations: noSidecar },
            spec: {
              securityContext: { fsGroup: KAFKA_UID },
              terminationGracePeriodSeconds: 60,
              affinity: spreadOver(NAMES.kafka),
              containers: [
                {
                  name: "kafka",
                  image: IMAGES.kafka,
                  env: build((ns) => kafkaEnv({ namespace: ns, config: cfg.kafka })),
                  ports: [
                    { name: "kafka", containerPort: PORTS.kafka },
                    { name: "controller", containerPort: PORTS.kafkaController },
                  ],
                  readinessProbe: { tcpSocket: { port: PORTS.kafka }, initialDelaySeconds: 10, periodSeconds: 10 },
                  livenessProbe: { tcpSocket: { port: PORTS.kafkaController }, initialDelaySeconds: 60, periodSeconds: 20, failureThreshold: 6 },
                  resources: cfg.kafka.resources,
                  volumeMounts: [{ name: "data", mountPath: KAFKA_VOLUME_PATH }],
                },
              ],
            },
          },
          volumeClaimTemplates: [volumeClaim(cfg.kafka.storageSize, cfg.kafka.storageClass)],
        },
      },
      stateful,
    );
    if (cfg.kafka.brokers > 1) this.disruptionBudget(`${name}-kafka`, namespace, NAMES.kafka);

    this.topicJob = new k8s.batch.v1.Job(
      `${name}-kafka-topic`,
      {
        metadata: { namespace, labels: labelsOf("kafka-topic") },
        spec: {
          backoffLimit: 3,
          activeDeadlineSeconds: JOB_DEADLINE_SECONDS,
          template: {
            metadata: { labels: labelsOf("kafka-topic"), annotations: noSidecar },
            spec: {
              restartPolicy: "Never",
              containers: [{ name: "create-topic", image: IMAGES.kafka, command: ["/bin/sh", "-c", build((ns) => topicJobScript({ namespace: ns, config: cfg.kafka }))], resources: toolResources }],
            },
          },
        },
      },
      { parent: this, dependsOn: [this.kafka] },
    );

    const exporterLabels = labelsOf(NAMES.kafkaExporter);
    this.kafkaExporter = new k8s.apps.v1.Deployment(
      `${name}-kafka-exporter`,
      {
        metadata: { name: NAMES.kafkaExporter, namespace, labels: exporterLabels },
        spec: build((ns) => kafkaExporterDeploymentSpec({ namespace: ns, config: cfg.kafka, labels: exporterLabels, selector: selectorOf(NAMES.kafkaExporter) })),
      },
      // It exits when no broker answers at start.
      { parent: this, dependsOn: [this.kafka] },
    );

    // ---- Cassandra ----
    const cassLabels = labelsOf(NAMES.cassandra);
    new k8s.core.v1.Service(
      `${name}-cassandra`,
      {
        metadata: { name: NAMES.cassandra, namespace, labels: cassLabels },
        spec: {
          clusterIP: "None",
          // Seeds must resolve while the ring forms.
          publishNotReadyAddresses: true,
          selector: selectorOf(NAMES.cassandra),
          ports: [
            { name: "tcp-cql", port: PORTS.cql },
            { name: "tcp-gossip", port: PORTS.cassandraGossip },
          ],
        },
      },
      stateful,
    );
    this.cassandra = new k8s.apps.v1.StatefulSet(
      `${name}-cassandra`,
      {
        metadata: { name: NAMES.cassandra, namespace, labels: cassLabels },
        spec: {
          serviceName: NAMES.cassandra,
          replicas: cfg.cassandra.nodes,
          // Nodes join the ring one at a time (OrderedReady, the default).
          selector: { matchLabels: selectorOf(NAMES.cassandra) },
          persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
          template: {
            metadata: { labels: cassLabels, annotations: noSidecar },
            spec: {
              securityContext: { fsGroup: CASSANDRA_UID },
              terminationGracePeriodSeconds: 120,
              affinity: spreadOver(NAMES.cassandra),
              containers: [
                {
                  name: "cassandra",
                  image: IMAGES.cassandra,
                  env: build((ns) => cassandraEnv({ namespace: ns, config: cfg.cassandra })),
                  ports: [
                    { name: "cql", containerPort: PORTS.cql },
                    { name: "gossip", containerPort: PORTS.cassandraGossip },
                  ],
                  startupProbe: { tcpSocket: { port: PORTS.cql }, periodSeconds: 10, failureThreshold: 60 },
                  readinessProbe: { tcpSocket: { port: PORTS.cql }, periodSeconds: 10 },
                  livenessProbe: { tcpSocket: { port: PORTS.cql }, periodSeconds: 20, failureThreshold: 6 },
                  // Flush memtables and leave the ring cleanly before the pod stops.
                  lifecycle: { preStop: { exec: { command: ["nodetool", "drain"] } } },
                  resources: cfg.cassandra.resources,
                  volumeMounts: [{ name: "data", mountPath: CASSANDRA_DATA_PATH }],
                },
              ],
            },
          },
          volumeClaimTemplates: [volumeClaim(cfg.cassandra.storageSize, cfg.cassandra.storageClass)],
        },
      },
      stateful,
    );
    if (cfg.cassandra.nodes > 1) this.disruptionBudget(`${name}-cassandra`, namespace, NAMES.cassandra);

    const schema = new k8s.core.v1.ConfigMap(
      `${name}-cassandra-schema`,
      { metadata: { namespace, labels: labelsOf("cassandra-schema") }, data: { [SCHEMA_FILE]: schemaCql(cfg.cassandra) } },
      { parent: this },
    );
    this.schemaJob = new k8s.batch.v1.Job(
      `${name}-cassandra-schema`,
      {
        metadata: { namespace, labels: labelsOf("cassandra-schema") },
        spec: {
          backoffLimit: 3,
          activeDeadlineSeconds: JOB_DEADLINE_SECONDS,
          template: {
            metadata: { labels: labelsOf("cassandra-schema"), annotations: noSidecar },
            spec: {
              restartPolicy: "Never",
              containers: [
                {
                  name: "create-schema",
                  image: IMAGES.cassandra,
                  command: ["/bin/sh", "-c", build((ns) => schemaJobScript({ namespace: ns, config: cfg.cassandra }))],
                  env: [{ name: "HOME", value: "/tmp" }],
                  ...cqlshUser,
                  resources: toolResources,
                  volumeMounts: [{ name: "schema", mountPath: SCHEMA_DIR, readOnly: true }],
                },
              ],
              volumes: [{ name: "schema", configMap: { name: schema.metadata.name } }],
            },
          },
        },
      },
      { parent: this, dependsOn: [this.cassandra] },
    );

    // ---- Jaeger ----
    const jaegerInput = (ns: string): JaegerConfigInput => ({ namespace: ns, config: cfg });
    const waitKafka = { name: "wait-kafka", image: IMAGES.kafka, command: ["/bin/sh", "-c", build((ns) => topicWaitScript({ namespace: ns, config: cfg.kafka }, DEPENDENCY_WAIT_SECONDS))], resources: toolResources };
    const waitCassandra = {
      name: "wait-cassandra",
      image: IMAGES.cassandra,
      command: ["/bin/sh", "-c", build((ns) => schemaWaitScript({ namespace: ns, config: cfg.cassandra }, DEPENDENCY_WAIT_SECONDS))],
      env: [{ name: "HOME", value: "/tmp" }],
      ...cqlshUser,
      resources: toolResources,
    };

    this.collector = this.jaeger(name, namespace, {
      role: NAMES.collector,
      otelcol: build((ns) => collectorConfig(jaegerInput(ns))),
      replicas: cfg.collector.replicas,
      resources: cfg.collector.resources,
      ports: { zipkin: PORTS.zipkin, "otlp-grpc": PORTS.otlpGrpc, "otlp-http": PORTS.otlpHttp },
      initContainers: [waitKafka],
      dependsOn: [this.topicJob],
    });
    this.ingester = this.jaeger(name, namespace, {
      role: NAMES.ingester,
      otelcol: build((ns) => ingesterConfig(jaegerInput(ns))),
      replicas: cfg.ingester.replicas,
      resources: cfg.ingester.resources,
      ports: {},
      initContainers: [waitKafka, waitCassandra],
      dependsOn: [this.topicJob, this.schemaJob],
    });
    this.query = this.jaeger(name, namespace, {
      role: NAMES.query,
      otelcol: build((ns) => queryConfig(jaegerInput(ns))),
      replicas: cfg.query.replicas,
      resources: cfg.query.resources,
      ports: { query: PORTS.query, "query-grpc": PORTS.queryGrpc },
      initContainers: [waitCassandra],
      dependsOn: [this.schemaJob],
    });

    this.collectorService = new k8s.core.v1.Service(
      `${name}-collector`,
      {
        metadata: { name: NAMES.collector, namespace, labels: labelsOf(NAMES.collector) },
        spec: {
          selector: selectorOf(NAMES.collector),
          // Port names carry the protocol for Istio.
          ports: [
            { name: "http-zipkin", port: PORTS.zipkin, targetPort: "zipkin", appProtocol: "http" },
            { name: "grpc-otlp", port: PORTS.otlpGrpc, targetPort: "otlp-grpc", appProtocol: "grpc" },
            { name: "http-otlp", port: PORTS.otlpHttp, targetPort: "otlp-http", appProtocol: "http" },
          ],
        },
      },
      { parent: this },
    );
    this.queryService = new k8s.core.v1.Service(
      `${name}-query`,
      {
        metadata: { name: NAMES.query, namespace, labels: labelsOf(NAMES.query) },
        spec: {
          type: cfg.query.expose ? "LoadBalancer" : "ClusterIP",
          selector: selectorOf(NAMES.query),
          ports: [
            { name: "http-query", port: PORTS.query, targetPort: "query", appProtocol: "http" },
            { name: "grpc-query", port: PORTS.queryGrpc, targetPort: "query-grpc", appProtocol: "grpc" },
          ],
        },
      },
      { parent: this },
    );

    this.zipkinHost = namespace.apply(zipkinHost);
    this.queryUrl = namespace.apply((ns) => `http://${serviceHost(NAMES.query, ns)}:${PORTS.query}`);
    this.registerOutputs({ zipkinHost: this.zipkinHost, queryUrl: this.queryUrl });
  }

  private disruptionBudget(resourceName: string, namespace: pulumi.Output<string>, component: string): k8s.policy.v1.PodDisruptionBudget {
    return new k8s.policy.v1.PodDisruptionBudget(
      resourceName,
      { metadata: { name: component, namespace, labels: labelsOf(component) }, spec: { maxUnavailable: 1, selector: { matchLabels: selectorOf(component) } } },
      { parent: this },
    );
  }

  private jaeger(name: string, namespace: pulumi.Output<string>, r: JaegerRoleSpec): k8s.apps.v1.Deployment {
    const labels = labelsOf(r.role);
    const configMap = new k8s.core.v1.ConfigMap(
      `${name}-${r.role}-config`,
      // Auto-named: a config change gives a new name, which rolls the Deployment.
      { metadata: { namespace, labels }, data: { "config.yaml": r.otelcol.apply((c) => stringify(c)) } },
      { parent: this },
    );
    const ports = [...Object.entries(r.ports).map(([portName, containerPort]) => ({ name: portName, containerPort })), { name: "health", containerPort: PORTS.health }, { name: "metrics", containerPort: PORTS.metrics }];
    const health = { httpGet: { path: HEALTH_PATH, port: "health" } };
    return new k8s.apps.v1.Deployment(
      `${name}-${r.role}`,
      {
        metadata: { name: r.role, namespace, labels },
        spec: {
          replicas: r.replicas,
          selector: { matchLabels: selectorOf(r.role) },
          template: {
            metadata: { labels, annotations: { ...noSidecar, ...scrapeAnnotations(PORTS.metrics) } },
            spec: {
              affinity: spreadOver(r.role),
              initContainers: r.initContainers,
              containers: [
                {
                  name: "jaeger",
                  image: IMAGES.jaeger,
                  args: [`--config=${JAEGER_CONFIG_DIR}/config.yaml`],
                  ports,
                  readinessProbe: { ...health, periodSeconds: 10 },
                  livenessProbe: { ...health, initialDelaySeconds: 15, periodSeconds: 20, failureThreshold: 5 },
                  resources: r.resources,
                  securityContext: { runAsNonRoot: true, runAsUser: 10001, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false },
                  volumeMounts: [
                    { name: "config", mountPath: JAEGER_CONFIG_DIR, readOnly: true },
                    { name: "tmp", mountPath: "/tmp" },
                  ],
                },
              ],
              volumes: [
                { name: "config", configMap: { name: configMap.metadata.name } },
                { name: "tmp", emptyDir: {} },
              ],
            },
          },
        },
      },
      { parent: this, dependsOn: r.dependsOn },
    );
  }
}

const JAEGER_CONFIG_DIR = "/etc/jaeger";

interface JaegerRoleSpec {
  readonly role: string;
  readonly otelcol: pulumi.Output<OtelcolConfig>;
  readonly replicas: number;
  readonly resources: ResourcesConfig;
  /** Container ports besides health and metrics, by name. */
  readonly ports: Record<string, number>;
  readonly initContainers: k8s.types.input.core.v1.Container[];
  readonly dependsOn: pulumi.Resource[];
}
