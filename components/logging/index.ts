// The EFK pipeline: Elasticsearch (StatefulSet, TLS, ILM), a Fluentd DaemonSet shipping
// every container log and the Envoy access log, and Kibana. Order, enforced by dependsOn:
// certificates Job -> Elasticsearch -> bootstrap Job (ILM, templates, aliases, users) -> Kibana,
// the metrics exporter and Fluentd, so a rotated password reaches Elasticsearch before the pods
// that use it roll (each pod template carries a hash of the Secrets it reads). Fluentd and the
// vm.max_map_count DaemonSet run in their own namespace, labelled Pod Security `privileged`.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { publishThroughGateway } from "../mesh/gateway.js";
import { type AccessLogField } from "../mesh/access-log.js";
import { BOOTSTRAP_USERS, bootstrapEnv, bootstrapFiles, certsEnv, certsFiles, renewalPeriod } from "./bootstrap.js";
import { type LoggingConfig } from "./config.js";
import { elasticsearchYml } from "./elasticsearch.js";
import { buildFluentdConfig } from "./fluentd.js";
import { esHttpHost, esUrl, FLUENTD_USER, GRAFANA_USER, KIBANA_PORT, loggingNames, MONITORING_USER } from "./names.js";
import {
  bootstrapJobSpec,
  CA_KEY,
  certExporterDeploymentSpec,
  certsJobSpec,
  CLIENT_CA_FILE,
  configHash,
  deriveUserPassword,
  esExporterDeploymentSpec,
  esHeadlessServiceSpec,
  esHttpServiceSpec,
  esStatefulSetSpec,
  fluentdDaemonSetSpec,
  kibanaDeploymentSpec,
  kibanaServiceSpec,
  maxMapCountDaemonSetSpec,
  PASSWORD_KEY,
} from "./workloads.js";
import { secretHash } from "../k8s/hash.js";
import { labels, MANAGED_BY_LABELS, selectorLabels } from "../k8s/labels.js";
import { clusterScopedName, hashedName } from "../k8s/objects.js";
import { serviceHost } from "../k8s/hosts.js";

export { checkLogging, checkPassword, LOGGING_SECRET_KEYS, type LoggingConfig, loggingSchema, type LoggingSecrets, takeLoggingSecrets } from "./config.js";
export { accessLogMapping, elasticsearchYml, ilmPolicy, indexTemplates } from "./elasticsearch.js";
export { buildFluentdConfig, fluentdTypes } from "./fluentd.js";
export { ACCESS_ALIAS, ES_EXPORTER_PORT, GRAFANA_USER, LOG_INDICES, LOGS_ALIAS, MONITORING_USER } from "./names.js";
export { CA_KEY, PASSWORD_KEY } from "./workloads.js";

export interface LoggingArgs {
  /** The cluster's DNS domain (`obs:clusterDomain`): every in-cluster host is formed with it. */
  readonly clusterDomain: string;
  /** Namespace of every object but Fluentd's; it must exist. */
  readonly namespace: pulumi.Input<string>;
  /**
   * Namespace the component creates for Fluentd and the vm.max_map_count DaemonSet, labelled Pod
   * Security `privileged`: they read the node (hostPath, root) or set a kernel parameter.
   */
  readonly agentNamespace: string;
  /** Quorum members on distinct nodes as a hard scheduling rule (staging, prod). */
  readonly requireSpread?: boolean;
  /** The parsed `obs:logging` section. */
  readonly config: LoggingConfig;
  /** Password of the `elastic` superuser (a Pulumi secret); set when the cluster first forms. */
  readonly elasticPassword: pulumi.Input<string>;
  /** Password Kibana's `kibana_system` user gets from the bootstrap Job (a Pulumi secret). */
  readonly kibanaPassword: pulumi.Input<string>;
  /**
   * Whether the stack keeps its data on destroy. The data volumes outlive the StatefulSet anyway
   * (retention policy Retain); what keeps them is the namespace, retained by the stack.
   */
  readonly retainOnDelete: boolean;
  /** Cluster name Elasticsearch reports (default: the component's name). */
  readonly clusterName?: string;
  /** Labels of the Istio ingress gateway pods Kibana is exposed on (default `istio: ingressgateway`). */
  readonly gatewaySelector?: Record<string, string>;
  /** What the Istio Gateway and VirtualService wait for: the Istio CRDs. */
  readonly meshDependsOn?: pulumi.Input<pulumi.Resource>[];
  /** Access-log fields; the mesh's definition by default (tests pass their own). */
  readonly accessLogFields?: readonly AccessLogField[];
}

/** The scripts' own bound; the Jobs' activeDeadlineSeconds adds a margin, and both end before Pulumi's 10-minute await. */
const JOB_DEADLINE_SECONDS = 240;

export class Logging extends pulumi.ComponentResource {
  /** In-cluster HTTPS URL of Elasticsearch. */
  readonly elasticsearchUrl: pulumi.Output<string>;
  /** In-cluster URL of Kibana. */
  readonly kibanaUrl: pulumi.Output<string>;
  /** Public URL of Kibana when exposed, else empty. */
  readonly kibanaPublicUrl: pulumi.Output<string>;
  readonly elasticsearch: k8s.apps.v1.StatefulSet;
  readonly fluentd: k8s.apps.v1.DaemonSet;
  readonly kibana: k8s.apps.v1.Deployment;
  readonly certsJob: k8s.batch.v1.Job;
  readonly bootstrapJob: k8s.batch.v1.Job;
  /** elasticsearch-exporter (port 9114, scraped through its pod annotations). */
  readonly esExporter: k8s.apps.v1.Deployment;
  /** Read-only Elasticsearch user for Grafana: `read` and `view_index_metadata` on the log indices. */
  readonly readerUser: string;
  /** Secret (same namespace) holding readerUser's password under readerPasswordKey; resolves once the bootstrap Job set that password. */
  readonly readerCredentialsSecret: pulumi.Output<string>;
  /** secretHash of the reader's password, for the pod template of whoever reads it (a rotation rolls it). */
  readonly readerPasswordHash: pulumi.Output<string>;
  /** The namespace of Fluentd and the vm.max_map_count DaemonSet. */
  readonly agentNamespace: pulumi.Output<string>;
  readonly readerPasswordKey: string;
  /** Secret (same namespace) holding the CA certificate that signed Elasticsearch's, under caKey; created by the certs Job. */
  readonly caSecret: pulumi.Output<string>;
  readonly caKey: string;

  constructor(name: string, args: LoggingArgs, opts?: pulumi.ComponentResourceOptions) {
    super("obs:logging:EFK", name, {}, opts);
    const cfg = args.config;
    const n = loggingNames(name);
    const namespace = pulumi.output(args.namespace);
    // Builders need the namespace as text (DNS names); apply only shapes data, never resources.
    const build = <T>(f: (ns: string) => T): pulumi.Output<T> => namespace.apply(f);
    const meta = (objName: string, component: string) => ({ name: objName, namespace, labels: labels(component, name) });
    const fields = args.accessLogFields;

    // ---- credentials: one Secret per consumer, so a node only receives what its pods use ----
    const elasticPassword = pulumi.secret(args.elasticPassword);
    const kibanaPassword = pulumi.secret(args.kibanaPassword);
    const credentials = (objName: string, password: pulumi.Input<string>, opts: pulumi.CustomResourceOptions = {}, inNamespace: pulumi.Input<string> = namespace) =>
      new k8s.core.v1.Secret(`${objName}${inNamespace === namespace ? "" : "-agent"}`, { metadata: { ...meta(objName, "credentials"), namespace: inNamespace }, type: "Opaque", stringData: { [PASSWORD_KEY]: pulumi.secret(password) } }, { parent: this, ...opts });
    // the users the bootstrap creates (Fluentd, the exporter, Grafana): passwords derived from elastic's
    const derived = new Map(BOOTSTRAP_USERS.map((u) => [u.user, elasticPassword.apply((pw) => deriveUserPassword(pw, u.user))]));
    const userCredentials = new Map(BOOTSTRAP_USERS.map((u) => [u.user, credentials(n[u.credentials], derived.get(u.user)!)]));
    const monitoringCredentials = userCredentials.get(MONITORING_USER)!;
    const secrets = [credentials(n.elasticCredentials, elasticPassword), credentials(n.kibanaCredentials, kibanaPassword), ...userCredentials.values()];
    // The hash of what a pod reads goes into its template (never the value): a rotation rolls exactly those pods.
    const hashOf = (...values: pulumi.Input<string>[]) => pulumi.unsecret(pulumi.all(values).apply((v) => secretHash(...v)));

    // ---- Fluentd's namespace: privileged (root, hostPath), so the stack's own can be `restricted` ----
    const agentNs = new k8s.core.v1.Namespace(
      `${name}-agents`,
      {
        metadata: {
          name: args.agentNamespace,
          labels: { ...MANAGED_BY_LABELS, "pod-security.kubernetes.io/enforce": "privileged", "pod-security.kubernetes.io/warn": "privileged", "pod-security.kubernetes.io/audit": "privileged" },
        },
      },
      { parent: this },
    );
    const agentNamespace = agentNs.metadata.name;
    const agentMeta = (objName: string, component: string) => ({ name: objName, namespace: agentNamespace, labels: labels(component, name) });

    // ---- certificates: created once by a Job, kept across runs (see README) ----
    const certsAccount = new k8s.core.v1.ServiceAccount(`${name}-es-certs`, { metadata: meta(`${n.es}-certs`, "es-certs") }, { parent: this });
    const certsRole = new k8s.rbac.v1.Role(
      `${name}-es-certs`,
      {
        metadata: meta(`${n.es}-certs`, "es-certs"),
        // create cannot be limited to names; reading and replacing can.
        rules: [
          { apiGroups: [""], resources: ["secrets"], verbs: ["create"] },
          { apiGroups: [""], resources: ["secrets"], resourceNames: [n.esCerts, n.esCa, n.esCaKey, n.esInternal], verbs: ["get", "update"] },
        ],
      },
      { parent: this },
    );
    // the CA for Fluentd, in its namespace
    const certsCopyRole = new k8s.rbac.v1.Role(
      `${name}-es-certs-agents`,
      {
        metadata: agentMeta(`${n.es}-certs`, "es-certs"),
        rules: [
          { apiGroups: [""], resources: ["secrets"], verbs: ["create"] },
          { apiGroups: [""], resources: ["secrets"], resourceNames: [n.esCa], verbs: ["get", "update"] },
        ],
      },
      { parent: this },
    );
    const certsCopyBinding = new k8s.rbac.v1.RoleBinding(
      `${name}-es-certs-agents`,
      {
        metadata: agentMeta(`${n.es}-certs`, "es-certs"),
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: certsCopyRole.metadata.name },
        subjects: [{ kind: "ServiceAccount", name: certsAccount.metadata.name, namespace }],
      },
      { parent: this },
    );
    const certsBinding = new k8s.rbac.v1.RoleBinding(
      `${name}-es-certs`,
      {
        metadata: meta(`${n.es}-certs`, "es-certs"),
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: certsRole.metadata.name },
        subjects: [{ kind: "ServiceAccount", name: certsAccount.metadata.name, namespace }],
      },
      { parent: this },
    );
    const certsConfig = new k8s.core.v1.ConfigMap(`${name}-es-certs`, { metadata: meta(`${n.es}-certs`, "es-certs"), data: certsFiles() }, { parent: this });
    // The renewal period in the env: the first `up` of a new period runs the Job again (see renewalCheckDays).
    const lifetime = cfg.certificates;
    const certsEnvironment = pulumi.all([namespace, agentNamespace]).apply(([ns, agents]) => ({ ...certsEnv(n, ns, args.clusterDomain, JOB_DEADLINE_SECONDS, lifetime, agents), RENEWAL_PERIOD: String(renewalPeriod(lifetime)) }));
    const certsSpec = pulumi
      .all([certsEnvironment, certsConfig.metadata.name, certsAccount.metadata.name])
      .apply(([env, configMap, serviceAccount]) => certsJobSpec({ instance: name, names: n, configMap, env, serviceAccount, contentHash: configHash(JSON.stringify(certsFiles()), JSON.stringify(env)), deadlineSeconds: JOB_DEADLINE_SECONDS }));
    this.certsJob = new k8s.batch.v1.Job(
      `${name}-es-certs`,
      // Named after its template: a changed template is a new Job, created before the old one goes.
      { metadata: { name: hashedName(`${n.es}-certs`, certsSpec), namespace, labels: labels("es-certs", name) }, spec: certsSpec },
      { parent: this, dependsOn: [certsBinding, certsCopyBinding] },
    );

    // ---- vm.max_map_count on every node, from the privileged namespace ----
    const maxMapCount = cfg.elasticsearch.setMaxMapCount
      ? [new k8s.apps.v1.DaemonSet(`${name}-es-max-map-count`, { metadata: agentMeta(n.maxMapCount, "es-max-map-count"), spec: maxMapCountDaemonSetSpec({ instance: name }) }, { parent: this })]
      : [];

    // ---- Elasticsearch ----
    // Several nodes: each pod reads its node's zone label (shard allocation awareness), nothing else.
    const zoneAccess: pulumi.Resource[] = [];
    if (cfg.elasticsearch.nodes > 1) {
      const account = new k8s.core.v1.ServiceAccount(`${name}-es`, { metadata: meta(n.es, "elasticsearch") }, { parent: this });
      const zoneName = clusterScopedName(namespace, `${n.es}-nodes`);
      const role = new k8s.rbac.v1.ClusterRole(`${name}-es-nodes`, { metadata: { name: zoneName, labels: labels("elasticsearch", name) }, rules: [{ apiGroups: [""], resources: ["nodes"], verbs: ["get"] }] }, { parent: this });
      zoneAccess.push(
        account,
        new k8s.rbac.v1.ClusterRoleBinding(
          `${name}-es-nodes`,
          { metadata: { name: zoneName, labels: labels("elasticsearch", name) }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role.metadata.name }, subjects: [{ kind: "ServiceAccount", name: account.metadata.name, namespace }] },
          { parent: this },
        ),
      );
    }
    const esYml = build((ns) => elasticsearchYml({ clusterName: args.clusterName ?? name, nodes: cfg.elasticsearch.nodes, names: n, namespace: ns, clusterDomain: args.clusterDomain, allowMmap: cfg.elasticsearch.setMaxMapCount }));
    const esConfig = new k8s.core.v1.ConfigMap(`${name}-es-config`, { metadata: meta(n.esConfig, "elasticsearch"), data: { "elasticsearch.yml": esYml } }, { parent: this });
    const headless = new k8s.core.v1.Service(`${name}-es-headless`, { metadata: meta(n.esHeadless, "elasticsearch"), spec: esHeadlessServiceSpec(name) }, { parent: this });
    const httpService = new k8s.core.v1.Service(`${name}-es-http`, { metadata: meta(n.esHttp, "elasticsearch"), spec: esHttpServiceSpec(name) }, { parent: this });
    this.elasticsearch = new k8s.apps.v1.StatefulSet(
      `${name}-es`,
      { metadata: meta(n.es, "elasticsearch"), spec: esYml.apply((yml) => esStatefulSetSpec({ instance: name, names: n, config: cfg.elasticsearch, configHash: configHash(yml), requireSpread: args.requireSpread })) },
      // Not retained on destroy: a kept StatefulSet would run on without the Secrets and ConfigMaps it
      // reads. Its data volumes stay (the claims' retention policy is Retain), and with a kept
      // namespace the next up's StatefulSet mounts them again.
      { parent: this, dependsOn: [this.certsJob, esConfig, headless, ...secrets, ...maxMapCount, ...zoneAccess] },
    );
    if (cfg.elasticsearch.nodes > 1) {
      new k8s.policy.v1.PodDisruptionBudget(`${name}-es`, { metadata: meta(n.es, "elasticsearch"), spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels("elasticsearch", name) } } }, { parent: this });
    }

    // ---- bootstrap: ILM, templates, write aliases, users ----
    const files = bootstrapFiles({ rolloverSize: cfg.rolloverSize, retentionDays: cfg.retentionDays, nodes: cfg.elasticsearch.nodes, fields });
    const bootstrapConfig = new k8s.core.v1.ConfigMap(`${name}-es-bootstrap`, { metadata: meta(n.bootstrap, "es-bootstrap"), data: files }, { parent: this });
    const bootstrapEnvironment = build((ns) => bootstrapEnv(esUrl(n, ns, args.clusterDomain), CLIENT_CA_FILE, JOB_DEADLINE_SECONDS));
    const bootstrapSpec = pulumi
      // the passwords' hash in the template: a rotation is a new Job, which sets the new passwords
      .all([bootstrapEnvironment, bootstrapConfig.metadata.name, hashOf(elasticPassword, kibanaPassword)])
      .apply(([env, configMap, secretsHash]) => bootstrapJobSpec({ instance: name, names: n, configMap, env, contentHash: configHash(JSON.stringify(files), JSON.stringify(env)), deadlineSeconds: JOB_DEADLINE_SECONDS, secretsHash }));
    this.bootstrapJob = new k8s.batch.v1.Job(
      `${name}-es-bootstrap`,
      { metadata: { name: hashedName(n.bootstrap, bootstrapSpec), namespace, labels: labels("es-bootstrap", name) }, spec: bootstrapSpec },
      { parent: this, dependsOn: [this.elasticsearch, httpService] },
    );

    // ---- Fluentd ----
    const fluentAccount = new k8s.core.v1.ServiceAccount(`${name}-fluentd`, { metadata: agentMeta(n.fluentd, "fluentd") }, { parent: this });
    // Fluentd's own copy of its password (a pod reads Secrets of its namespace only); the bootstrap reads the other.
    const fluentdPassword = derived.get(FLUENTD_USER)!;
    const fluentCredentials = credentials(n.fluentdCredentials, fluentdPassword, {}, agentNamespace);
    // Cluster-scoped: named after the stack's namespace, so two stacks in one cluster do not collide.
    const fluentClusterName = clusterScopedName(namespace, n.fluentd);
    const fluentRole = new k8s.rbac.v1.ClusterRole(
      `${name}-fluentd`,
      { metadata: { name: fluentClusterName, labels: labels("fluentd", name) }, rules: [{ apiGroups: [""], resources: ["pods", "namespaces"], verbs: ["get", "list", "watch"] }] },
      { parent: this },
    );
    const fluentBinding = new k8s.rbac.v1.ClusterRoleBinding(
      `${name}-fluentd`,
      {
        metadata: { name: fluentClusterName, labels: labels("fluentd", name) },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: fluentRole.metadata.name },
        subjects: [{ kind: "ServiceAccount", name: fluentAccount.metadata.name, namespace: agentNamespace }],
      },
      { parent: this },
    );
    const fluentConf = pulumi.all([namespace, agentNamespace]).apply(([ns, agents]) => buildFluentdConfig({ esHost: esHttpHost(n, ns, args.clusterDomain), caFile: CLIENT_CA_FILE, bufferLimit: cfg.fluentd.bufferLimit, namespace: agents, fields }));
    const fluentConfig = new k8s.core.v1.ConfigMap(`${name}-fluentd`, { metadata: agentMeta(n.fluentd, "fluentd"), data: { "fluent.conf": fluentConf } }, { parent: this });
    this.fluentd = new k8s.apps.v1.DaemonSet(
      `${name}-fluentd`,
      {
        metadata: agentMeta(n.fluentd, "fluentd"),
        spec: pulumi
          .all([fluentConf, fluentAccount.metadata.name, hashOf(fluentdPassword)])
          .apply(([conf, serviceAccount, secretsHash]) => fluentdDaemonSetSpec({ instance: name, names: n, resources: cfg.fluentd.resources, serviceAccount, configHash: configHash(conf), secretsHash })),
      },
      // After the bootstrap: a rotated password is in Elasticsearch before Fluentd rolls to it. Two
      // Fluentds must never share a node's positions and buffers, so a move deletes the old first.
      { parent: this, deleteBeforeReplace: true, dependsOn: [this.certsJob, this.bootstrapJob, fluentConfig, fluentBinding, fluentCredentials] },
    );

    // ---- Kibana ----
    const exposed = cfg.kibana.expose;
    this.kibana = new k8s.apps.v1.Deployment(
      `${name}-kibana`,
      {
        metadata: meta(n.kibana, "kibana"),
        spec: pulumi
          .all([namespace, hashOf(kibanaPassword)])
          .apply(([ns, secretsHash]) => kibanaDeploymentSpec({ instance: name, names: n, esUrl: esUrl(n, ns, args.clusterDomain), resources: cfg.kibana.resources, publicHost: exposed ? cfg.kibana.host : undefined, secretsHash })),
      },
      // Its kibana_system password is set by the bootstrap.
      { parent: this, dependsOn: [this.bootstrapJob, ...secrets] },
    );
    // ---- metrics: elasticsearch-exporter, once its user exists ----
    this.esExporter = new k8s.apps.v1.Deployment(
      `${name}-es-exporter`,
      {
        metadata: meta(n.esExporter, "es-exporter"),
        spec: pulumi.all([namespace, hashOf(derived.get(MONITORING_USER)!)]).apply(([ns, secretsHash]) => esExporterDeploymentSpec({ instance: name, names: n, esUrl: esUrl(n, ns, args.clusterDomain), secretsHash })),
      },
      { parent: this, dependsOn: [this.bootstrapJob, monitoringCredentials] },
    );
    // ---- certificate expiry: x509_cert_not_after of the node certificate and the CA ----
    new k8s.apps.v1.Deployment(`${name}-es-cert-exporter`, { metadata: meta(n.certExporter, "es-cert-exporter"), spec: certExporterDeploymentSpec({ instance: name, names: n }) }, { parent: this, dependsOn: [this.certsJob] });

    const kibanaService = new k8s.core.v1.Service(`${name}-kibana`, { metadata: meta(n.kibana, "kibana"), spec: kibanaServiceSpec(name) }, { parent: this });
    publishThroughGateway({ name: n.kibana, namespace, clusterDomain: args.clusterDomain, labels: labels("kibana", name), config: cfg.kibana, servicePort: KIBANA_PORT, service: kibanaService, gatewaySelector: args.gatewaySelector, meshDependsOn: args.meshDependsOn, parent: this, resourcePrefix: `${name}-kibana`, portName: "kibana" });

    this.elasticsearchUrl = build((ns) => esUrl(n, ns, args.clusterDomain));
    this.kibanaUrl = build((ns) => `http://${serviceHost(n.kibana, ns, args.clusterDomain)}:${KIBANA_PORT}`);
    this.kibanaPublicUrl = pulumi.output(exposed ? `https://${cfg.kibana.host}` : "");
    // Grafana (same namespace) mounts these; the outputs carry the dependency on what creates them.
    this.readerUser = GRAFANA_USER;
    // resolves after the bootstrap Job: Grafana rolls to a rotated password once Elasticsearch has it
    // Through the Job's URN only (it comes after the Secret): a rotation replaces the Secret (delete
    // first, fixed name), and a property that depended on it would make Grafana's Deployment a
    // dependent replacement instead of an update.
    this.readerCredentialsSecret = this.bootstrapJob.urn.apply(() => n.grafanaCredentials);
    this.readerPasswordHash = hashOf(derived.get(GRAFANA_USER)!);
    this.agentNamespace = agentNamespace;
    this.readerPasswordKey = PASSWORD_KEY;
    this.caSecret = this.certsJob.urn.apply(() => n.esCa);
    this.caKey = CA_KEY;
    this.registerOutputs({
      elasticsearchUrl: this.elasticsearchUrl,
      kibanaUrl: this.kibanaUrl,
      kibanaPublicUrl: this.kibanaPublicUrl,
      readerCredentialsSecret: this.readerCredentialsSecret,
      caSecret: this.caSecret,
    });
  }
}
