// Alertmanager: its config in a ConfigMap (no secrets in it), the receivers' URLs, keys and
// passwords in a Secret it reads through `*_file` fields, a StatefulSet with a volume per pod
// for silences and the notification log, and a PodDisruptionBudget when clustered.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { AlertingConfig } from "./config.js";
import { receiverSecretFiles, renderAlertmanagerYaml } from "./alertmanager.js";
import { type AlertmanagerTarget } from "./discovery.js";
import { alertmanagerWorkload, CONFIG_FILE, disruptionBudgetSpec, WEB_PORT, WEB_PORT_NAME } from "./workload.js";
import { contentHash } from "../../k8s/hash.js";
import { labels as recipeLabels, selectorLabels } from "../../k8s/labels.js";
import { serviceHost } from "../../k8s/hosts.js";

export { type AlertingConfig, type AlertingSecrets, alertingSchema, checkAlerting, parseAlertingConfig, receiverSecretPaths, takeAlertingSecrets } from "./config.js";
export { alertingSection, type AlertmanagerTarget } from "./discovery.js";

export interface AlertmanagerArgs {
  /** The cluster's DNS domain (`obs:clusterDomain`): the gossip peers' hosts are formed with it. */
  readonly clusterDomain: string;
  /** Namespace of the objects (must exist; a plain name, the peers' hosts need it up front). */
  readonly namespace: string;
  /** The parsed `obs:alerting` section. */
  readonly config: AlertingConfig;
  /** Receiver name -> its secret (URL, routing key or password). */
  readonly secrets: pulumi.Input<Readonly<Record<string, string>>>;
  /** Objects to create after, e.g. the namespace. */
  readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
}

export class Alertmanager extends pulumi.ComponentResource {
  /** Where Prometheus finds the pods (its `alerting:` section). */
  readonly target: AlertmanagerTarget;
  /** In-cluster URL of the API and UI. */
  readonly url: string;
  readonly configHash: string;
  readonly configMap: k8s.core.v1.ConfigMap;
  readonly secret: k8s.core.v1.Secret;
  readonly service: k8s.core.v1.Service;
  readonly statefulSet: k8s.apps.v1.StatefulSet;
  readonly disruptionBudget?: k8s.policy.v1.PodDisruptionBudget;

  constructor(name: string, args: AlertmanagerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("obs:prometheus:Alertmanager", name, {}, opts);
    const yml = renderAlertmanagerYaml({ config: args.config });
    this.configHash = contentHash(CONFIG_FILE, yml);
    const selector = selectorLabels("alertmanager", name);
    const labels = recipeLabels("alertmanager", name, "alerting");
    const meta = (objectName: string) => ({ name: objectName, namespace: args.namespace, labels });
    const after = args.dependsOn ?? [];

    this.configMap = new k8s.core.v1.ConfigMap(`${name}-config`, { metadata: meta(`${name}-config`), data: { [CONFIG_FILE]: yml } }, { parent: this, dependsOn: after });
    this.secret = new k8s.core.v1.Secret(
      `${name}-receivers`,
      { metadata: meta(`${name}-receivers`), type: "Opaque", stringData: pulumi.secret(pulumi.output(args.secrets).apply((s) => receiverSecretFiles(args.config, s))) },
      { parent: this, dependsOn: after },
    );
    const w = alertmanagerWorkload({ name, namespace: args.namespace, clusterDomain: args.clusterDomain, config: args.config, selector, labels, configMapName: `${name}-config`, secretName: `${name}-receivers`, configHash: this.configHash });
    this.service = new k8s.core.v1.Service(`${name}-service`, { metadata: meta(name), spec: w.service }, { parent: this, dependsOn: after });
    this.statefulSet = new k8s.apps.v1.StatefulSet(
      `${name}-statefulset`,
      { metadata: meta(name), spec: w.statefulSet },
      // volumeClaimTemplates are immutable: a change replaces the set; its claims are kept (Retain) and reused.
      { parent: this, dependsOn: [this.configMap, this.secret, this.service], deleteBeforeReplace: true },
    );
    if (args.config.replicas > 1) {
      this.disruptionBudget = new k8s.policy.v1.PodDisruptionBudget(`${name}-pdb`, { metadata: meta(name), spec: disruptionBudgetSpec(selector) }, { parent: this, dependsOn: after });
    }
    this.target = { namespace: args.namespace, service: name, portName: WEB_PORT_NAME };
    this.url = `http://${serviceHost(name, args.namespace, args.clusterDomain)}:${WEB_PORT}`;
    this.registerOutputs({ url: this.url, configHash: this.configHash });
  }
}
