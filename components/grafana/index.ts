// Grafana: the stack's datasources and dashboards provisioned from files, its database on a
// volume kept like the stack's other data, the admin password a Pulumi secret.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { contentHash, secretHash } from "../k8s/hash.js";
import { publishThroughGateway } from "../mesh/gateway.js";
import type { GrafanaConfig } from "./config.js";
import { dashboardJson } from "./json.js";
import type { Dashboard } from "./model.js";
import { dashboardFile, type Folder, GRAFANA_PORT, renderDashboardProviderYaml, renderDatasourcesYaml } from "./provisioning.js";
import { ADMIN_PASSWORD_KEY, grafanaDeploymentSpec } from "./workload.js";
import { labels as recipeLabels, selectorLabels } from "../k8s/labels.js";
import { serviceHostOf } from "../k8s/hosts.js";

export { checkGrafana, type GrafanaConfig, grafanaSchema, GRAFANA_SECRET_KEYS, type GrafanaSecrets, takeGrafanaSecrets } from "./config.js";
export { buildDashboards } from "./dashboards.js";
export { checkDatasources } from "./json.js";
export { provisionedUids } from "./provisioning.js";

export interface GrafanaElasticsearch {
  readonly url: pulumi.Input<string>;
  readonly user: string;
  /** Secret (same namespace) and key of the reader's password. */
  readonly passwordSecret: pulumi.Input<string>;
  /** secretHash of the reader's password: a rotation rolls Grafana. */
  readonly passwordHash?: pulumi.Input<string>;
  readonly passwordKey: string;
  /** Secret and key of the CA that signed Elasticsearch's certificate. */
  readonly caSecret: pulumi.Input<string>;
  readonly caKey: string;
  /** Index aliases of the access log and the container logs. */
  readonly accessIndex: string;
  readonly logsIndex: string;
}

export interface GrafanaArgs {
  /** The cluster's DNS domain (`obs:clusterDomain`): every in-cluster host is formed with it. */
  readonly clusterDomain: string;
  readonly namespace: pulumi.Input<string>;
  readonly config: GrafanaConfig;
  readonly adminPassword: pulumi.Input<string>;
  readonly prometheusUrl: pulumi.Input<string>;
  readonly scrapeInterval: string;
  readonly jaegerUrl: pulumi.Input<string>;
  /** Absent when logging is off. */
  readonly elasticsearch?: GrafanaElasticsearch;
  /** The stack's dashboards (buildDashboards). */
  readonly dashboards: readonly Dashboard[];
  /** The user's own dashboard JSON models, already checked, by file name. */
  readonly extraDashboards?: Readonly<Record<string, unknown>>;
  /** Keep the database volume when Grafana leaves the stack or on destroy. */
  readonly retainOnDelete: boolean;
  /** Labels of the ingress gateway pods, when exposed (default `istio: ingressgateway`). */
  readonly gatewaySelector?: Record<string, string>;
  /** What the Gateway and VirtualService wait for: the Istio CRDs. */
  readonly meshDependsOn?: pulumi.Resource[];
}

export class Grafana extends pulumi.ComponentResource {
  /** In-cluster URL, e.g. for Kiali's links. */
  readonly url: pulumi.Output<string>;
  /** https://host when exposed, else empty. */
  readonly publicUrl: pulumi.Output<string>;
  /** Dashboard titles and their variables, for Kiali. */
  readonly dashboards: readonly { readonly title: string; readonly variables: readonly string[] }[];
  readonly deployment: k8s.apps.v1.Deployment;

  constructor(name: string, args: GrafanaArgs, opts?: pulumi.ComponentResourceOptions) {
    super("obs:grafana:Grafana", name, {}, opts);
    const cfg = args.config;
    const selector = selectorLabels("grafana", name);
    const labels = recipeLabels("grafana", name, "dashboards");
    const meta = (objectName: string) => ({ name: objectName, namespace: args.namespace, labels });
    const es = args.elasticsearch;

    const admin = new k8s.core.v1.Secret(`${name}-admin`, { metadata: meta(`${name}-admin`), type: "Opaque", stringData: { [ADMIN_PASSWORD_KEY]: pulumi.secret(args.adminPassword) } }, { parent: this });

    const datasourcesYaml = pulumi
      .all([args.prometheusUrl, args.jaegerUrl, es?.url ?? ""])
      .apply(([prometheusUrl, jaegerUrl, esUrl]) => renderDatasourcesYaml({ prometheusUrl, jaegerUrl, scrapeInterval: args.scrapeInterval, ...(es ? { elasticsearch: { url: esUrl, user: es.user, caFile: es.caKey, accessIndex: es.accessIndex, logsIndex: es.logsIndex } } : {}) }));
    const datasources = new k8s.core.v1.ConfigMap(`${name}-datasources`, { metadata: meta(`${name}-datasources`), data: { "stack.yaml": datasourcesYaml } }, { parent: this });
    const providerYaml = renderDashboardProviderYaml();
    const provider = new k8s.core.v1.ConfigMap(`${name}-dashboard-provider`, { metadata: meta(`${name}-dashboard-provider`), data: { "stack.yaml": providerYaml } }, { parent: this });

    const byFolder: Partial<Record<Folder, Record<string, string>>> = {};
    for (const d of args.dashboards) (byFolder[d.folder] ??= {})[dashboardFile(d)] = JSON.stringify(dashboardJson(d));
    for (const [file, model] of Object.entries(args.extraDashboards ?? {})) (byFolder.Custom ??= {})[file] = JSON.stringify(model);
    const folderMaps: Partial<Record<Folder, string>> = {};
    const folderResources = Object.entries(byFolder).map(([folder, files]) => {
      const cmName = `${name}-dashboards-${folder.toLowerCase()}`;
      folderMaps[folder as Folder] = cmName;
      return new k8s.core.v1.ConfigMap(cmName, { metadata: meta(cmName), data: files }, { parent: this });
    });

    const claim = new k8s.core.v1.PersistentVolumeClaim(
      `${name}-data`,
      { metadata: meta(`${name}-data`), spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: cfg.storageSize } }, ...(cfg.storageClass ? { storageClassName: cfg.storageClass } : {}) } },
      // Users, preferences and annotations live here: kept unless the stack says its data is disposable.
      { parent: this, retainOnDelete: args.retainOnDelete },
    );

    const publicUrl = cfg.expose ? `https://${cfg.host}/` : undefined;
    // what the pod reads from Secrets, hashed (never the values): a rotation rolls Grafana
    const secretsHash = pulumi.unsecret(pulumi.all([pulumi.secret(args.adminPassword), es?.passwordHash ?? ""]).apply(([admin, reader]) => secretHash(admin, reader)));
    const configHash = datasourcesYaml.apply((ds) => contentHash(ds, providerYaml, ...Object.values(byFolder).flatMap((files) => Object.entries(files!).flat())));
    this.deployment = new k8s.apps.v1.Deployment(
      name,
      {
        metadata: meta(name),
        spec: pulumi.all([configHash, es?.passwordSecret ?? "", es?.caSecret ?? "", secretsHash]).apply(([hash, passwordSecret, caSecret, secrets]) =>
          grafanaDeploymentSpec({
            selector,
            labels,
            configHash: hash,
            secretsHash: secrets,
            resources: cfg.resources,
            claimName: `${name}-data`,
            adminSecret: `${name}-admin`,
            datasourcesConfigMap: `${name}-datasources`,
            providerConfigMap: `${name}-dashboard-provider`,
            dashboardConfigMaps: folderMaps,
            ...(es ? { elasticsearch: { passwordSecret, passwordKey: es.passwordKey, caSecret, caKey: es.caKey } } : {}),
            ...(publicUrl ? { publicUrl } : {}),
          }),
        ),
      },
      { parent: this, dependsOn: [admin, datasources, provider, claim, ...folderResources] },
    );
    const service = new k8s.core.v1.Service(
      name,
      { metadata: meta(name), spec: { type: "ClusterIP", selector, ports: [{ name: "http", port: GRAFANA_PORT, targetPort: "http", appProtocol: "http" }] } },
      { parent: this },
    );

    publishThroughGateway({ name, namespace: args.namespace, clusterDomain: args.clusterDomain, labels, config: cfg, servicePort: GRAFANA_PORT, service, gatewaySelector: args.gatewaySelector, meshDependsOn: args.meshDependsOn, parent: this });

    this.dashboards = args.dashboards.map((d) => ({ title: d.title, variables: d.variables.map((v) => v.name) }));
    this.url = pulumi.interpolate`http://${serviceHostOf(service.metadata.name, service.metadata.namespace, args.clusterDomain)}:${GRAFANA_PORT}`;
    this.publicUrl = pulumi.output(publicUrl ?? "");
    this.registerOutputs({ url: this.url, publicUrl: this.publicUrl });
  }
}
