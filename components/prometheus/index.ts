// The Prometheus server: RBAC for discovery, its config and rules in a ConfigMap, the
// remote-write credentials in a Secret, a StatefulSet with a data volume per replica, and the
// headless Service it names. The shapes come from pure functions. Operator mode: operator.ts.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { PrometheusConfig } from "./config.js";
import { type MeshMtls, usesMtlsScraping } from "./scrape.js";
import { clusterRoleRules, configHash, disruptionBudgetSpec, PROMETHEUS_PORT, prometheusFiles, statefulSetSpec } from "./workload.js";
import { labels as recipeLabels, selectorLabels } from "../k8s/labels.js";
import { serviceHostOf } from "../k8s/hosts.js";
import type { AlertmanagerTarget } from "./alerting/discovery.js";
import { clusterScopedName } from "../k8s/objects.js";

export { checkPrometheus, parsePrometheusConfig, type PrometheusConfig, prometheusSchema, type PrometheusSecrets, takePrometheusSecrets } from "./config.js";
export { PrometheusMonitors, type PrometheusMonitorsArgs } from "./operator.js";
export { ALERTS, WORKLOAD_LABELS } from "./rules.js";
export { buildPrometheusConfig, type MeshMtls, renderPrometheusYaml } from "./scrape.js";

export interface PrometheusArgs {
  /** The cluster's DNS domain (`obs:clusterDomain`): every in-cluster host is formed with it. */
  readonly clusterDomain: string;
  /** Namespace of the server's objects (must exist). */
  readonly namespace: pulumi.Input<string>;
  /** The parsed `obs:prometheus` section. */
  readonly config: PrometheusConfig;
  /** `cluster` external label. */
  readonly clusterName: string;
  /** `environment` external label. */
  readonly environment: string;
  /** Keep the data volumes when the StatefulSet goes (PVC retention policy). */
  readonly retainOnDelete: boolean;
  /** Mesh-wide mTLS mode; STRICT with config.mtlsScraping gives Prometheus the workload certificate. */
  readonly meshMtls: MeshMtls;
  /** Remote-write credentials, file name (remoteWriteFile) to value: a Secret, never the ConfigMap. */
  readonly remoteWriteSecrets?: Readonly<Record<string, pulumi.Input<string>>>;
  /** Revision or tag that injects the cert sidecar under mTLS scraping; default: the namespace's label or the default tag. */
  readonly istioRevision?: string;
  /** The Alertmanager pods to send alerts to (Alertmanager's `target`); none: alerts stay in Prometheus. */
  readonly alertmanagers?: AlertmanagerTarget;
  /** Base of every alert's runbook_url (obs:alerting.runbookUrl). */
  readonly runbookUrl?: string;
}

export class Prometheus extends pulumi.ComponentResource {
  /** Name of the headless Service (port 9090) that the StatefulSet names and clients query. */
  readonly serviceName: pulumi.Output<string>;
  /** In-cluster URL of the server, e.g. for a Grafana datasource. */
  readonly url: pulumi.Output<string>;
  /** sha256 of prometheus.yml and the rules; a change rolls the pod. */
  readonly configHash: string;
  readonly serviceAccount: k8s.core.v1.ServiceAccount;
  readonly clusterRole: k8s.rbac.v1.ClusterRole;
  readonly clusterRoleBinding: k8s.rbac.v1.ClusterRoleBinding;
  readonly configMap: k8s.core.v1.ConfigMap;
  /** The remote-write credentials, when an endpoint has one. */
  readonly secret?: k8s.core.v1.Secret;
  readonly service: k8s.core.v1.Service;
  /** Dependents that need a serving Prometheus (e.g. Grafana) can dependsOn this. */
  readonly statefulSet: k8s.apps.v1.StatefulSet;
  /** With replicas > 1: one replica at a time may go voluntarily. */
  readonly disruptionBudget?: k8s.policy.v1.PodDisruptionBudget;

  constructor(name: string, args: PrometheusArgs, opts?: pulumi.ComponentResourceOptions) {
    super("obs:prometheus:Prometheus", name, {}, opts);
    const mtls = usesMtlsScraping(args.config, args.meshMtls);
    const secretFiles = Object.keys(args.remoteWriteSecrets ?? {}).sort();
    const files = prometheusFiles({ config: args.config, clusterName: args.clusterName, environment: args.environment, meshMtls: args.meshMtls, remoteWriteSecrets: secretFiles, alertmanagers: args.alertmanagers, runbookUrl: args.runbookUrl });
    this.configHash = configHash(files);

    const selector = selectorLabels("prometheus", name);
    const labels = recipeLabels("prometheus", name, "metrics");
    const meta = (objectName: string) => ({ name: objectName, namespace: args.namespace, labels });

    this.serviceAccount = new k8s.core.v1.ServiceAccount(`${name}-serviceaccount`, { metadata: meta(name) }, { parent: this });
    // Cluster-scoped: named after the stack's namespace, so two stacks sharing a cluster do not collide.
    const clusterName = clusterScopedName(args.namespace, name);
    this.clusterRole = new k8s.rbac.v1.ClusterRole(`${name}-clusterrole`, { metadata: { name: clusterName, labels }, rules: clusterRoleRules() }, { parent: this });
    this.clusterRoleBinding = new k8s.rbac.v1.ClusterRoleBinding(
      `${name}-clusterrolebinding`,
      {
        metadata: { name: clusterName, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: this.clusterRole.metadata.name },
        subjects: [{ kind: "ServiceAccount", name: this.serviceAccount.metadata.name, namespace: args.namespace }],
      },
      { parent: this },
    );

    this.configMap = new k8s.core.v1.ConfigMap(`${name}-config`, { metadata: meta(`${name}-config`), data: files }, { parent: this });

    if (secretFiles.length) {
      const data = Object.fromEntries(secretFiles.map((f) => [f, pulumi.secret(args.remoteWriteSecrets![f]!)]));
      this.secret = new k8s.core.v1.Secret(`${name}-remote-write`, { metadata: meta(`${name}-remote-write`), type: "Opaque", stringData: data }, { parent: this });
    }

    // Headless: the StatefulSet's governing Service (stable per-pod names), and what clients
    // query (DNS answers with the ready replicas). Was a ClusterIP Service of the same name: the
    // change replaces the Service only, never the StatefulSet (serviceName is immutable).
    this.service = new k8s.core.v1.Service(
      `${name}-service`,
      { metadata: meta(name), spec: { clusterIP: "None", selector, ports: [{ name: "http-web", port: PROMETHEUS_PORT, targetPort: "http-web" }] } },
      { parent: this, deleteBeforeReplace: true },
    );

    this.statefulSet = new k8s.apps.v1.StatefulSet(
      `${name}-statefulset`,
      {
        metadata: meta(name),
        spec: statefulSetSpec({
          config: args.config,
          selector,
          labels,
          serviceName: name,
          serviceAccountName: name,
          configMapName: `${name}-config`,
          configHash: this.configHash,
          mtls,
          istioRevision: args.istioRevision,
          retainOnDelete: args.retainOnDelete,
          ...(this.secret ? { secretName: `${name}-remote-write` } : {}),
        }),
      },
      // volumeClaimTemplates are immutable: a change replaces the StatefulSet, and with a fixed
      // name the old one must go first. The PVCs (data-<name>-0) are reused unless
      // retainOnDelete is off. Not retainOnDelete itself: a kept StatefulSet would keep
      // scraping after destroy; the data's fate is the PVC retention policy.
      { parent: this, dependsOn: [this.configMap, this.serviceAccount, this.service, ...(this.secret ? [this.secret] : [])], deleteBeforeReplace: true },
    );

    if (args.config.replicas > 1) {
      this.disruptionBudget = new k8s.policy.v1.PodDisruptionBudget(`${name}-pdb`, { metadata: meta(name), spec: disruptionBudgetSpec(selector) }, { parent: this });
    }

    this.serviceName = this.service.metadata.name;
    this.url = pulumi.interpolate`http://${serviceHostOf(this.service.metadata.name, this.service.metadata.namespace, args.clusterDomain)}:${PROMETHEUS_PORT}`;
    this.registerOutputs({ serviceName: this.serviceName, url: this.url, configHash: this.configHash });
  }
}
