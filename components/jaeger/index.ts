// The tracing backend: Kafka (KRaft) buffers spans between the Jaeger collectors and
// ingesters, Cassandra stores them, jaeger-query serves the UI. Each role starts only when
// what it needs is ready: Pulumi orders it (dependsOn the StatefulSets and Jobs) and the pod
// checks it again on every start (bounded init containers). kafka-exporter reports the brokers
// and the ingesters' consumer lag to Prometheus. The shapes come from pure functions.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import { secretHash } from "../k8s/hash.js";
import { serviceHost } from "../k8s/hosts.js";
import { AUTH_SECRETS, cassandraAuthData, kafkaAuthData } from "./auth.js";
import { hashedName } from "../k8s/objects.js";
import { cassandraEnv, SCHEMA_FILE, schemaCql, schemaJobScript, schemaWaitScript } from "./cassandra.js";
import type { JaegerConfig, JaegerSecrets } from "./config.js";
import { JAEGER_ROLES, type JaegerRole } from "./jaeger-config.js";
import { kafkaEnv, topicJobScript, topicWaitScript } from "./kafka.js";
import { kafkaExporterDeploymentSpec } from "./kafka-exporter.js";
import { NAMES, PORTS } from "./topology.js";
import {
  backendLabels,
  backendSelector,
  cassandraSet,
  collectorServiceSpec,
  type Dependency,
  DEPENDENCY_WAIT_SECONDS,
  disruptionBudgetSpec,
  JAEGER_CONFIG_FILE,
  kafkaSet,
  queryServiceSpec,
  ROLE_NEEDS,
  roleDeploymentSpec,
  schemaJobSpec,
  topicJobSpec,
  waitContainer,
} from "./workloads.js";

export { checkJaeger, type JaegerConfig, jaegerSchema, JAEGER_SECRET_KEYS, type JaegerSecrets, parseJaegerConfig, takeJaegerSecrets } from "./config.js";
export { collectorConfig, ingesterConfig, queryConfig } from "./jaeger-config.js";
export { IMAGES, INGESTER_GROUP, KEYSPACE, NAMES, PORTS, SPANS_TOPIC } from "./topology.js";

/** Name of the Service that receives Zipkin spans from the mesh (port 9411). */
export const ZIPKIN_SERVICE_NAME = NAMES.collector;

/** Host the mesh's Zipkin tracer sends to: `jaeger-collector.<ns>.svc.<clusterDomain>`. */
export function zipkinHost(namespace: string, clusterDomain: string): string {
  return serviceHost(ZIPKIN_SERVICE_NAME, namespace, clusterDomain);
}

export interface JaegerArgs {
  /** Namespace of every object; it must exist. */
  readonly namespace: pulumi.Input<string>;
  /** The cluster's DNS domain (`obs:clusterDomain`), in every host the backend writes. */
  readonly clusterDomain: string;
  /** The parsed `obs:jaeger` section. */
  readonly config: JaegerConfig;
  /**
   * `obs:jaeger.kafkaPassword` and `.cassandraPassword` as decrypted from the stack config: they
   * go into the Secrets as Pulumi secrets; only their salted hash (pod annotations) is in the clear.
   */
  readonly secrets: JaegerSecrets;
  /**
   * Whether the stack keeps its data on destroy. The StatefulSets' data volumes outlive them anyway
   * (retention policy Retain); what keeps them is the namespace, retained by the stack.
   */
  readonly retainOnDelete: boolean;
  /** Kafka brokers and Cassandra nodes (3 or more) on distinct nodes as a hard rule (staging, prod). */
  readonly requireSpread?: boolean;
}

/** The component's type token before it was named after Jaeger; the alias keeps existing stacks' URNs. */
export const FORMER_TYPE = "obs:tracing:Jaeger";

export class Jaeger extends pulumi.ComponentResource {
  /** `jaeger-collector.<ns>.svc.<clusterDomain>`, the mesh's Zipkin target. */
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

  constructor(name: string, args: JaegerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("obs:jaeger:Jaeger", name, {}, { ...opts, aliases: [...(opts?.aliases ?? []), { type: FORMER_TYPE }] });
    const cfg = args.config;
    const clusterDomain = args.clusterDomain;
    const namespace = pulumi.output(args.namespace);
    // Host names need the namespace as text; apply only shapes data, never resources.
    const build = <T>(f: (ns: string) => T): pulumi.Output<T> => namespace.apply(f);
    const meta = (app: string, objectName: pulumi.Input<string>) => ({ name: objectName, namespace, labels: backendLabels(app, name) });
    // Not retained on destroy: a kept StatefulSet would run on without what it reads. The data
    // volumes stay (the claims' retention policy is Retain) in the namespace the stack keeps.
    const stateful: pulumi.CustomResourceOptions = { parent: this };
    // ---- credentials: one Secret per store, read by the store and its clients ----
    const authSecret = (store: keyof typeof AUTH_SECRETS, data: Record<string, string>) =>
      new k8s.core.v1.Secret(`${name}-${store}-auth`, { metadata: meta(NAMES[store], AUTH_SECRETS[store]), type: "Opaque", stringData: pulumi.secret(data) }, { parent: this });
    const kafkaAuth = authSecret("kafka", kafkaAuthData(args.secrets.kafkaPassword));
    const cassandraAuth = authSecret("cassandra", cassandraAuthData(args.secrets.cassandraPassword));
    const hashes = { kafka: secretHash(args.secrets.kafkaPassword), cassandra: secretHash(args.secrets.cassandraPassword) };
    const disruptionBudget = (app: string) => new k8s.policy.v1.PodDisruptionBudget(`${name}-${app}`, { metadata: meta(app, app), spec: disruptionBudgetSpec(app) }, { parent: this });

    // ---- Kafka ----
    const kafka = kafkaSet({ instance: name, config: cfg, requireSpread: args.requireSpread, secretsHash: hashes.kafka, env: build((ns) => kafkaEnv({ namespace: ns, clusterDomain, config: cfg.kafka })) });
    new k8s.core.v1.Service(`${name}-kafka`, { metadata: meta(NAMES.kafka, NAMES.kafka), spec: kafka.service }, stateful);
    this.kafka = new k8s.apps.v1.StatefulSet(`${name}-kafka`, { metadata: meta(NAMES.kafka, NAMES.kafka), spec: kafka.statefulSet }, { ...stateful, dependsOn: [kafkaAuth] });
    if (cfg.kafka.brokers > 1) disruptionBudget(NAMES.kafka);

    // Jobs and the ConfigMaps Deployments read are named after their content: a change is a new
    // object (the Job runs again, the Deployment rolls), and the names stay fixed across runs.
    const topicSpec = topicJobSpec(backendLabels("kafka-topic", name), build((ns) => topicJobScript({ namespace: ns, clusterDomain, config: cfg.kafka })), hashes.kafka);
    this.topicJob = new k8s.batch.v1.Job(
      `${name}-kafka-topic`,
      { metadata: meta("kafka-topic", hashedName("kafka-topic", topicSpec)), spec: topicSpec },
      { parent: this, dependsOn: [this.kafka] },
    );

    this.kafkaExporter = new k8s.apps.v1.Deployment(
      `${name}-kafka-exporter`,
      {
        metadata: meta(NAMES.kafkaExporter, NAMES.kafkaExporter),
        spec: build((ns) => kafkaExporterDeploymentSpec({ namespace: ns, clusterDomain, config: cfg.kafka, labels: backendLabels(NAMES.kafkaExporter, name), selector: backendSelector(NAMES.kafkaExporter), secretsHash: hashes.kafka })),
      },
      // It exits when no broker answers at start.
      { parent: this, dependsOn: [this.kafka] },
    );

    // ---- Cassandra ----
    const cassandra = cassandraSet({ instance: name, config: cfg, requireSpread: args.requireSpread, env: build((ns) => cassandraEnv({ namespace: ns, clusterDomain, config: cfg.cassandra })) });
    new k8s.core.v1.Service(`${name}-cassandra`, { metadata: meta(NAMES.cassandra, NAMES.cassandra), spec: cassandra.service }, stateful);
    this.cassandra = new k8s.apps.v1.StatefulSet(`${name}-cassandra`, { metadata: meta(NAMES.cassandra, NAMES.cassandra), spec: cassandra.statefulSet }, stateful);
    if (cfg.cassandra.nodes > 1) disruptionBudget(NAMES.cassandra);

    const schemaData = { [SCHEMA_FILE]: schemaCql(cfg.cassandra) };
    const schema = new k8s.core.v1.ConfigMap(`${name}-cassandra-schema`, { metadata: meta("cassandra-schema", hashedName("cassandra-schema", schemaData)), data: schemaData }, { parent: this });
    const schemaSpec = schemaJobSpec(backendLabels("cassandra-schema", name), build((ns) => schemaJobScript({ namespace: ns, clusterDomain, config: cfg.cassandra })), schema.metadata.name, hashes.cassandra);
    this.schemaJob = new k8s.batch.v1.Job(
      `${name}-cassandra-schema`,
      { metadata: meta("cassandra-schema", hashedName("cassandra-schema", schemaSpec)), spec: schemaSpec },
      { parent: this, dependsOn: [this.cassandra, cassandraAuth] },
    );

    // ---- Jaeger ----
    const waitScripts: Record<Dependency, pulumi.Output<string>> = {
      kafka: build((ns) => topicWaitScript({ namespace: ns, clusterDomain, config: cfg.kafka }, DEPENDENCY_WAIT_SECONDS)),
      cassandra: build((ns) => schemaWaitScript({ namespace: ns, clusterDomain, config: cfg.cassandra }, DEPENDENCY_WAIT_SECONDS)),
    };
    const readyAfter: Record<Dependency, pulumi.Resource> = { kafka: this.topicJob, cassandra: this.schemaJob };
    const role = (r: JaegerRole): k8s.apps.v1.Deployment => {
      const app = NAMES[r];
      const data = { [JAEGER_CONFIG_FILE]: build((ns) => stringify(JAEGER_ROLES[r]({ namespace: ns, clusterDomain, config: cfg }))) };
      const configMap = new k8s.core.v1.ConfigMap(
        `${name}-${app}-config`,
        // Named after its content: a config change gives a new name, which rolls the Deployment.
        { metadata: meta(app, hashedName(`${app}-config`, data)), data },
        { parent: this },
      );
      const needs = ROLE_NEEDS[r];
      return new k8s.apps.v1.Deployment(
        `${name}-${app}`,
        {
          metadata: meta(app, app),
          spec: roleDeploymentSpec({ role: r, instance: name, config: cfg, configMap: configMap.metadata.name, initContainers: needs.map((d) => waitContainer(d, waitScripts[d])), secretsHash: needs.length ? secretHash(...needs.map((d) => (d === "kafka" ? args.secrets.kafkaPassword : args.secrets.cassandraPassword))) : undefined }),
        },
        { parent: this, dependsOn: needs.map((d) => readyAfter[d]) },
      );
    };
    this.collector = role("collector");
    this.ingester = role("ingester");
    this.query = role("query");

    this.collectorService = new k8s.core.v1.Service(`${name}-collector`, { metadata: meta(NAMES.collector, NAMES.collector), spec: collectorServiceSpec() }, { parent: this });
    this.queryService = new k8s.core.v1.Service(`${name}-query`, { metadata: meta(NAMES.query, NAMES.query), spec: queryServiceSpec(cfg.query.expose) }, { parent: this });

    this.zipkinHost = namespace.apply((ns) => zipkinHost(ns, clusterDomain));
    this.queryUrl = namespace.apply((ns) => `http://${serviceHost(NAMES.query, ns, clusterDomain)}:${PORTS.query}`);
    this.registerOutputs({ zipkinHost: this.zipkinHost, queryUrl: this.queryUrl });
  }
}
