// The EFK pipeline: Elasticsearch (StatefulSet, TLS, ILM), a Fluentd DaemonSet shipping
// every container log and the Envoy access log, and Kibana. Order, enforced by dependsOn:
// certificates Job -> Elasticsearch -> bootstrap Job (ILM, templates, aliases, users) -> Kibana
// and the metrics exporter; Fluentd starts once the CA exists and buffers until its user does.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { publishThroughGateway } from "../mesh/gateway.js";
import { type AccessLogField } from "../mesh/access-log.js";
import { BOOTSTRAP_USERS, bootstrapEnv, bootstrapFiles, certsEnv, certsFiles } from "./bootstrap.js";
import { type LoggingConfig } from "./config.js";
import { elasticsearchYml } from "./elasticsearch.js";
import { buildFluentdConfig } from "./fluentd.js";
import { esHttpHost, esUrl, GRAFANA_USER, KIBANA_PORT, loggingNames, MONITORING_USER } from "./names.js";
import {
  bootstrapJobSpec,
  CA_KEY,
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
  PASSWORD_KEY,
} from "./workloads.js";
import { labels, selectorLabels } from "../k8s/labels.js";
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
  /** Namespace of every object; it must exist. */
  readonly namespace: pulumi.Input<string>;
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
  /** Secret (same namespace) holding readerUser's password under readerPasswordKey. */
  readonly readerCredentialsSecret: pulumi.Output<string>;
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
    const credentials = (objName: string, password: pulumi.Input<string>) =>
      new k8s.core.v1.Secret(objName, { metadata: meta(objName, "credentials"), type: "Opaque", stringData: { [PASSWORD_KEY]: pulumi.secret(password) } }, { parent: this });
    // the users the bootstrap creates (Fluentd, the exporter, Grafana): passwords derived from elastic's
    const userCredentials = new Map(BOOTSTRAP_USERS.map((u) => [u.user, credentials(n[u.credentials], elasticPassword.apply((pw) => deriveUserPassword(pw, u.user)))]));
    const monitoringCredentials = userCredentials.get(MONITORING_USER)!;
    const grafanaCredentials = userCredentials.get(GRAFANA_USER)!;
    const secrets = [credentials(n.elasticCredentials, elasticPassword), credentials(n.kibanaCredentials, args.kibanaPassword), ...userCredentials.values()];

    // ---- certificates: created once by a Job, kept across runs (see README) ----
    const certsAccount = new k8s.core.v1.ServiceAccount(`${name}-es-certs`, { metadata: meta(`${n.es}-certs`, "es-certs") }, { parent: this });
    const certsRole = new k8s.rbac.v1.Role(
      `${name}-es-certs`,
      {
        metadata: meta(`${n.es}-certs`, "es-certs"),
        // create cannot be limited to names; reading and replacing can.
        rules: [
          { apiGroups: [""], resources: ["secrets"], verbs: ["create"] },
          { apiGroups: [""], resources: ["secrets"], resourceNames: [n.esCerts, n.esCa], verbs: ["get", "update"] },
        ],
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
    const certsEnvironment = build((ns) => certsEnv(n, ns, args.clusterDomain, JOB_DEADLINE_SECONDS));
    const certsSpec = pulumi
      .all([certsEnvironment, certsConfig.metadata.name, certsAccount.metadata.name])
      .apply(([env, configMap, serviceAccount]) => certsJobSpec({ instance: name, names: n, configMap, env, serviceAccount, contentHash: configHash(JSON.stringify(certsFiles()), JSON.stringify(env)), deadlineSeconds: JOB_DEADLINE_SECONDS }));
    this.certsJob = new k8s.batch.v1.Job(
      `${name}-es-certs`,
      // Named after its template: a changed template is a new Job, created before the old one goes.
      { metadata: { name: hashedName(`${n.es}-certs`, certsSpec), namespace, labels: labels("es-certs", name) }, spec: certsSpec },
      { parent: this, dependsOn: [certsBinding] },
    );

    // ---- Elasticsearch ----
    const esYml = build((ns) => elasticsearchYml({ clusterName: args.clusterName ?? name, nodes: cfg.elasticsearch.nodes, names: n, namespace: ns, clusterDomain: args.clusterDomain, allowMmap: cfg.elasticsearch.setMaxMapCount }));
    const esConfig = new k8s.core.v1.ConfigMap(`${name}-es-config`, { metadata: meta(n.esConfig, "elasticsearch"), data: { "elasticsearch.yml": esYml } }, { parent: this });
    const headless = new k8s.core.v1.Service(`${name}-es-headless`, { metadata: meta(n.esHeadless, "elasticsearch"), spec: esHeadlessServiceSpec(name) }, { parent: this });
    const httpService = new k8s.core.v1.Service(`${name}-es-http`, { metadata: meta(n.esHttp, "elasticsearch"), spec: esHttpServiceSpec(name) }, { parent: this });
    this.elasticsearch = new k8s.apps.v1.StatefulSet(
      `${name}-es`,
      { metadata: meta(n.es, "elasticsearch"), spec: esYml.apply((yml) => esStatefulSetSpec({ instance: name, names: n, config: cfg.elasticsearch, configHash: configHash(yml) })) },
      // Not retained on destroy: a kept StatefulSet would run on without the Secrets and ConfigMaps it
      // reads. Its data volumes stay (the claims' retention policy is Retain), and with a kept
      // namespace the next up's StatefulSet mounts them again.
      { parent: this, dependsOn: [this.certsJob, esConfig, headless, ...secrets] },
    );
    if (cfg.elasticsearch.nodes > 1) {
      new k8s.policy.v1.PodDisruptionBudget(`${name}-es`, { metadata: meta(n.es, "elasticsearch"), spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels("elasticsearch", name) } } }, { parent: this });
    }

    // ---- bootstrap: ILM, templates, write aliases, users ----
    const files = bootstrapFiles({ rolloverSize: cfg.rolloverSize, retentionDays: cfg.retentionDays, nodes: cfg.elasticsearch.nodes, fields });
    const bootstrapConfig = new k8s.core.v1.ConfigMap(`${name}-es-bootstrap`, { metadata: meta(n.bootstrap, "es-bootstrap"), data: files }, { parent: this });
    const bootstrapEnvironment = build((ns) => bootstrapEnv(esUrl(n, ns, args.clusterDomain), CLIENT_CA_FILE, JOB_DEADLINE_SECONDS));
    const bootstrapSpec = pulumi
      .all([bootstrapEnvironment, bootstrapConfig.metadata.name])
      .apply(([env, configMap]) => bootstrapJobSpec({ instance: name, names: n, configMap, env, contentHash: configHash(JSON.stringify(files), JSON.stringify(env)), deadlineSeconds: JOB_DEADLINE_SECONDS }));
    this.bootstrapJob = new k8s.batch.v1.Job(
      `${name}-es-bootstrap`,
      { metadata: { name: hashedName(n.bootstrap, bootstrapSpec), namespace, labels: labels("es-bootstrap", name) }, spec: bootstrapSpec },
      { parent: this, dependsOn: [this.elasticsearch, httpService] },
    );

    // ---- Fluentd ----
    const fluentAccount = new k8s.core.v1.ServiceAccount(`${name}-fluentd`, { metadata: meta(n.fluentd, "fluentd") }, { parent: this });
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
        subjects: [{ kind: "ServiceAccount", name: fluentAccount.metadata.name, namespace }],
      },
      { parent: this },
    );
    const fluentConf = build((ns) => buildFluentdConfig({ esHost: esHttpHost(n, ns, args.clusterDomain), caFile: CLIENT_CA_FILE, bufferLimit: cfg.fluentd.bufferLimit, namespace: ns, fields }));
    const fluentConfig = new k8s.core.v1.ConfigMap(`${name}-fluentd`, { metadata: meta(n.fluentd, "fluentd"), data: { "fluent.conf": fluentConf } }, { parent: this });
    this.fluentd = new k8s.apps.v1.DaemonSet(
      `${name}-fluentd`,
      {
        metadata: meta(n.fluentd, "fluentd"),
        spec: pulumi
          .all([fluentConf, fluentAccount.metadata.name])
          .apply(([conf, serviceAccount]) => fluentdDaemonSetSpec({ instance: name, names: n, resources: cfg.fluentd.resources, serviceAccount, configHash: configHash(conf) })),
      },
      { parent: this, dependsOn: [this.certsJob, fluentConfig, fluentBinding, ...secrets] },
    );

    // ---- Kibana ----
    const exposed = cfg.kibana.expose;
    this.kibana = new k8s.apps.v1.Deployment(
      `${name}-kibana`,
      { metadata: meta(n.kibana, "kibana"), spec: build((ns) => kibanaDeploymentSpec({ instance: name, names: n, esUrl: esUrl(n, ns, args.clusterDomain), resources: cfg.kibana.resources, publicHost: exposed ? cfg.kibana.host : undefined })) },
      // Its kibana_system password is set by the bootstrap; Fluentd, in contrast, starts at
      // once and buffers on the node until its user exists.
      { parent: this, dependsOn: [this.bootstrapJob, ...secrets] },
    );
    // ---- metrics: elasticsearch-exporter, once its user exists ----
    this.esExporter = new k8s.apps.v1.Deployment(
      `${name}-es-exporter`,
      { metadata: meta(n.esExporter, "es-exporter"), spec: build((ns) => esExporterDeploymentSpec({ instance: name, names: n, esUrl: esUrl(n, ns, args.clusterDomain) })) },
      { parent: this, dependsOn: [this.bootstrapJob, monitoringCredentials] },
    );

    const kibanaService = new k8s.core.v1.Service(`${name}-kibana`, { metadata: meta(n.kibana, "kibana"), spec: kibanaServiceSpec(name) }, { parent: this });
    publishThroughGateway({ name: n.kibana, namespace, clusterDomain: args.clusterDomain, labels: labels("kibana", name), config: cfg.kibana, servicePort: KIBANA_PORT, service: kibanaService, gatewaySelector: args.gatewaySelector, meshDependsOn: args.meshDependsOn, parent: this, resourcePrefix: `${name}-kibana`, portName: "kibana" });

    this.elasticsearchUrl = build((ns) => esUrl(n, ns, args.clusterDomain));
    this.kibanaUrl = build((ns) => `http://${serviceHost(n.kibana, ns, args.clusterDomain)}:${KIBANA_PORT}`);
    this.kibanaPublicUrl = pulumi.output(exposed ? `https://${cfg.kibana.host}` : "");
    // Grafana (same namespace) mounts these; the outputs carry the dependency on what creates them.
    this.readerUser = GRAFANA_USER;
    this.readerCredentialsSecret = grafanaCredentials.metadata.name;
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
