// Kiali: the mesh's topology and health, read from the stack's Prometheus, Jaeger query and
// Grafana. A ServiceAccount with a cluster-wide (read-only by default) role, config.yaml in a
// ConfigMap, a Deployment and a Service; an Istio Gateway + VirtualService when exposed.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { publishThroughGateway } from "../mesh/gateway.js";
import type { KialiConfig } from "./config.js";
import { kialiClusterRoleRules } from "./rbac.js";
import { CONFIG_FILE, type GrafanaDashboardLink, KIALI_PORT, OIDC_SECRET_FILE, renderKialiSettings, SIGNING_KEY_FILE, WEB_ROOT } from "./settings.js";
import { configHash, kialiDeploymentSpec, kialiServiceSpec, kialiVirtualServiceSpec, sessionKey } from "./workload.js";
import { labels } from "../k8s/labels.js";
import { serviceHostOf } from "../k8s/hosts.js";
import { clusterScopedName } from "../k8s/objects.js";
import { secretHash } from "../k8s/hash.js";

export { AUTH_STRATEGIES, type AuthStrategy, checkKiali, KIALI_SECRET_KEYS, type KialiConfig, type KialiContext, kialiSchema, type KialiSecrets, takeKialiSecrets } from "./config.js";
export { kialiClusterRoleRules } from "./rbac.js";
export { buildKialiSettings, type GrafanaDashboardLink, type GrafanaVariables, kialiMetricQueries, type KialiMetricQuery, renderKialiSettings } from "./settings.js";
export { KIALI_IMAGE } from "./workload.js";

export interface KialiArgs {
  /** The cluster's DNS domain (`obs:clusterDomain`): every in-cluster host is formed with it. */
  readonly clusterDomain: string;
  /** Namespace of Kiali's objects (must exist). */
  readonly namespace: pulumi.Input<string>;
  /** The parsed `obs:kiali` section. */
  readonly config: KialiConfig;
  /** In-cluster URL of the stack's Prometheus (Prometheus.url). */
  readonly prometheusUrl: pulumi.Input<string>;
  /** In-cluster URL of Jaeger query's HTTP API (Tracing.queryUrl). */
  readonly tracingUrl: pulumi.Input<string>;
  /** Jaeger UI as browsers reach it, for Kiali's links (none when absent). */
  readonly tracingExternalUrl?: pulumi.Input<string>;
  /** In-cluster URL of Grafana; absent: no Grafana links. */
  readonly grafanaUrl?: pulumi.Input<string>;
  /** Grafana as browsers reach it, for Kiali's links. */
  readonly grafanaExternalUrl?: pulumi.Input<string>;
  /** Grafana dashboards (by title) Kiali links to from its metrics pages. */
  readonly grafanaDashboards?: readonly GrafanaDashboardLink[];
  /** Namespace of the Istio control planes (every revision); the mesh's root namespace. */
  readonly istioNamespace: string;
  /** Session signing key (at least 16 characters, a Pulumi secret; Kiali gets a 32-byte key derived from it); required unless auth.strategy is anonymous. */
  readonly signingKey?: pulumi.Input<string>;
  /** OpenID client secret (auth.strategy openid), a Pulumi secret. */
  readonly oidcClientSecret?: pulumi.Input<string>;
  /** `app` labels of the gateways whose health Kiali shows (default istio-ingressgateway). */
  readonly gatewayApps?: readonly string[];
  /** Labels of the Istio ingress gateway pods Kiali is exposed on (default `istio: ingressgateway`). */
  readonly gatewaySelector?: Record<string, string>;
  /** What the Istio Gateway and VirtualService wait for: the Istio CRDs. */
  readonly meshDependsOn?: pulumi.Input<pulumi.Resource>[];
}

export class Kiali extends pulumi.ComponentResource {
  /** In-cluster URL of the UI, e.g. http://kiali.observability.svc:20001/kiali. */
  readonly url: pulumi.Output<string>;
  /** Public URL when exposed, else empty. */
  readonly publicUrl: pulumi.Output<string>;
  readonly serviceAccount: k8s.core.v1.ServiceAccount;
  readonly clusterRole: k8s.rbac.v1.ClusterRole;
  readonly clusterRoleBinding: k8s.rbac.v1.ClusterRoleBinding;
  readonly configMap: k8s.core.v1.ConfigMap;
  readonly deployment: k8s.apps.v1.Deployment;
  readonly service: k8s.core.v1.Service;
  /** The Istio Gateway and VirtualService, when exposed. */
  readonly gateway?: k8s.apiextensions.CustomResource;
  readonly virtualService?: k8s.apiextensions.CustomResource;

  constructor(name: string, args: KialiArgs, opts?: pulumi.ComponentResourceOptions) {
    super("obs:kiali:Kiali", name, {}, opts);
    const cfg = args.config;
    const strategy = cfg.auth.strategy;
    if (strategy !== "anonymous" && args.signingKey === undefined) throw new Error(`Kiali ${name}: auth.strategy ${strategy} needs a signingKey (obs:kiali.signingKey)`);
    const namespace = pulumi.output(args.namespace);
    const meta = (objName: string) => ({ name: objName, namespace, labels: labels("kiali", name, "mesh-console") });
    const parent = { parent: this };

    this.serviceAccount = new k8s.core.v1.ServiceAccount(`${name}-serviceaccount`, { metadata: meta(name) }, parent);
    // Cluster-scoped: named after the stack's namespace, so two stacks sharing a cluster do not collide.
    const clusterName = clusterScopedName(namespace, name);
    this.clusterRole = new k8s.rbac.v1.ClusterRole(`${name}-clusterrole`, { metadata: { name: clusterName, labels: labels("kiali", name, "mesh-console") }, rules: kialiClusterRoleRules(cfg.viewOnly) }, parent);
    this.clusterRoleBinding = new k8s.rbac.v1.ClusterRoleBinding(
      `${name}-clusterrolebinding`,
      {
        metadata: { name: clusterName, labels: labels("kiali", name, "mesh-console") },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: this.clusterRole.metadata.name },
        subjects: [{ kind: "ServiceAccount", name: this.serviceAccount.metadata.name, namespace }],
      },
      parent,
    );

    const settings = pulumi
      .all([namespace, args.prometheusUrl, args.tracingUrl, args.tracingExternalUrl, args.grafanaUrl, args.grafanaExternalUrl])
      .apply(([ns, prometheusUrl, tracingUrl, tracingExternalUrl, grafanaUrl, grafanaExternalUrl]) =>
        renderKialiSettings({ config: cfg, namespace: ns, istioNamespace: args.istioNamespace, prometheusUrl, tracingUrl, tracingExternalUrl, grafanaUrl, grafanaExternalUrl, grafanaDashboards: args.grafanaDashboards, gatewayApps: args.gatewayApps }),
      );
    this.configMap = new k8s.core.v1.ConfigMap(`${name}-config`, { metadata: meta(name), data: { [CONFIG_FILE]: settings } }, parent);

    // Secrets reach Kiali as files it reads at start, never through the ConfigMap.
    const secretFile = (suffix: string, file: string, value: pulumi.Input<string>) =>
      new k8s.core.v1.Secret(`${name}-${suffix}`, { metadata: meta(`${name}-${suffix}`), type: "Opaque", stringData: { [file]: pulumi.secret(value) } }, parent);
    const signingKey = strategy !== "anonymous" && args.signingKey !== undefined ? secretFile("signing-key", SIGNING_KEY_FILE, pulumi.output(args.signingKey).apply(sessionKey)) : undefined;
    const oidc = strategy === "openid" && args.oidcClientSecret !== undefined ? secretFile("oidc", OIDC_SECRET_FILE, args.oidcClientSecret) : undefined;

    // what Kiali reads from Secrets, hashed (never the values): a rotation rolls it
    const secretValues = [...(signingKey ? [pulumi.secret(args.signingKey!)] : []), ...(oidc ? [pulumi.secret(args.oidcClientSecret!)] : [])];
    const secretsHash = pulumi.unsecret(pulumi.all(secretValues).apply((v) => (v.length ? secretHash(...v) : "")));
    this.deployment = new k8s.apps.v1.Deployment(
      `${name}-deployment`,
      {
        metadata: meta(name),
        spec: pulumi.all([settings, secretsHash]).apply(([yaml, secrets]) =>
          kialiDeploymentSpec({ instance: name, config: cfg, serviceAccountName: name, configMapName: name, configHash: configHash(yaml), signingKeySecret: signingKey ? `${name}-signing-key` : undefined, oidcSecret: oidc ? `${name}-oidc` : undefined, secretsHash: secrets || undefined }),
        ),
      },
      { parent: this, dependsOn: [this.configMap, this.clusterRoleBinding, ...(signingKey ? [signingKey] : []), ...(oidc ? [oidc] : [])] },
    );
    this.service = new k8s.core.v1.Service(`${name}-service`, { metadata: meta(name), spec: kialiServiceSpec(name) }, parent);

    const published = publishThroughGateway({ name, namespace, clusterDomain: args.clusterDomain, labels: labels("kiali", name, "mesh-console"), config: cfg, servicePort: KIALI_PORT, service: this.service, gatewaySelector: args.gatewaySelector, meshDependsOn: args.meshDependsOn, routes: kialiVirtualServiceSpec, parent: this });
    this.gateway = published?.gateway;
    this.virtualService = published?.virtualService;

    this.url = pulumi.interpolate`http://${serviceHostOf(this.service.metadata.name, namespace, args.clusterDomain)}:${KIALI_PORT}${WEB_ROOT}`;
    this.publicUrl = pulumi.output(cfg.expose ? `https://${cfg.host}${WEB_ROOT}` : "");
    this.registerOutputs({ url: this.url, publicUrl: this.publicUrl });
  }
}
