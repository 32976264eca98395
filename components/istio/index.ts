// The Istio control plane: CRDs and shared base objects once, one group per revision,
// revision tags, injected namespaces and mesh-wide custom resources.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { IstioConfig } from "./config.js";
import { FIELD_MANAGER, FIELD_MANAGER_ANNOTATION, type KubeObject, PATCH_FORCE_ANNOTATION, registerObjects } from "../k8s/objects.js";
import { ADOPTED_ANNOTATION, LEGACY_INJECTION_LABEL } from "./guard.js";
import { ISTIO_NAMESPACE, MANAGED_BY_LABELS, podSecurityLabels } from "../k8s/labels.js";
import { buildOverlay, gatewayDisruptionBudgets, TRACING_PROVIDER } from "./overlay.js";
import { externalServiceObjects, sidecarScopes } from "./egress.js";
import { renderManifest } from "./render.js";
import { defaultValidator, ISTIOD_OWNED_FIELDS, initialFailurePolicy, shapeInstall, tagWebhook, withInitialFailurePolicy, withoutFailurePolicy } from "./shape.js";
import { defaultRevision, revisionTags } from "./config.js";

export { buildOverlay, TRACING_PROVIDER, ZIPKIN_PORT } from "./overlay.js";
export { shapeInstall, tagWebhook, compareVersions, defaultValidator, DEFAULT_VALIDATOR } from "./shape.js";
export { renderManifest } from "./render.js";

export interface IstioControlPlaneArgs {
  /** Istio settings from the stack config. */
  readonly istio: IstioConfig;
  /** Host of the Jaeger collector's Zipkin service. */
  readonly zipkinHost: string;
  /** Namespace of the observability components (the Jaeger collector a Sidecar scope keeps visible). */
  readonly observabilityNamespace: string;
  /** `obs:clusterDomain`, for the in-cluster hosts the egress routes name. */
  readonly clusterDomain: string;
  /** Keep CRDs and namespaces in the cluster when they leave the stack. */
  readonly retainOnDelete: boolean;
  /**
   * Namespaces of the cluster as they are (observe.ts): the value of a legacy `istio-injection`
   * label, and of the adoption marker a namespace got when the stack removed that label.
   */
  readonly liveNamespaces?: { readonly legacy: Readonly<Record<string, string>>; readonly adopted: Readonly<Record<string, string>> };
  /**
   * False when the stack renders YAML (obs:kubernetes.renderDir) instead of deploying: a Patch
   * resource renders into the same file as the object it patches, so each validator is written
   * whole, with its initial failurePolicy, and no Patch is registered. Default: true.
   */
  readonly liveCluster?: boolean;
}

/** Objects rendered per revision, before they are handed to Pulumi (also used by render checks). */
export function renderRevisions(args: Pick<IstioControlPlaneArgs, "istio" | "zipkinHost">) {
  const { istio } = args;
  const gatewayRevision = istio.gateways.revision || istio.revisions[0]?.name;
  return istio.revisions.map((revision) => {
    const overlay = buildOverlay({ istio, revision, withGateways: revision.name === gatewayRevision, zipkinHost: args.zipkinHost });
    const result = renderManifest(revision.version, overlay);
    return { revision: revision.name, version: revision.version, objects: [...result.objects, ...gatewayDisruptionBudgets(result.objects)], cacheHit: result.cacheHit };
  });
}

export class IstioControlPlane extends pulumi.ComponentResource {
  /** Name of the namespace holding the control plane. */
  public readonly namespace: pulumi.Output<string>;
  /** Revision names deployed. */
  public readonly revisions: string[];
  /** Revision each tag points at. */
  public readonly tags: Record<string, string>;
  /** The istiod Deployments, one per revision (for dependents that need a ready control plane). */
  public readonly istiods: pulumi.Resource[];
  /** The revision the default tag points at (it validates config without a revision label). */
  public readonly defaultRevision: string | undefined;

  constructor(name: string, args: IstioControlPlaneArgs, opts?: pulumi.ComponentResourceOptions) {
    super("obs:istio:ControlPlane", name, {}, opts);
    const { istio } = args;
    const retain = args.retainOnDelete;

    const ns = new k8s.core.v1.Namespace(`${name}-namespace`, { metadata: { name: ISTIO_NAMESPACE, labels: { ...MANAGED_BY_LABELS, ...podSecurityLabels("restricted") } } }, { parent: this, retainOnDelete: retain });

    const rendered = renderRevisions(args);
    const shaped = shapeInstall(rendered);
    const istiodOwned = (o: KubeObject) => (ISTIOD_OWNED_FIELDS[o.kind] ? { ignoreChanges: ISTIOD_OWNED_FIELDS[o.kind] } : undefined);

    // Deleting a CRD deletes every custom resource of its kind, users' included.
    const crds = registerObjects(`${name}-crd`, shaped.crds, { parent: this, retainOnDelete: retain });
    // nothing in the shared base is a custom resource: it need not wait for the CRDs
    const base = registerObjects(`${name}-base`, shaped.shared, { parent: this, dependsOn: [ns] }, istiodOwned);

    this.istiods = [];
    // each validator starts fail-open, once; later applies leave failurePolicy to istiod
    const validatorInits: pulumi.Resource[] = [];
    const live = args.liveCluster ?? true;
    // live: the validator without failurePolicy, and a Patch that sets the initial one once;
    // rendered: the validator whole, with the policy it starts with
    const validatorShape = live ? withoutFailurePolicy : withInitialFailurePolicy;
    const initialPolicy = (prefix: string, objs: readonly KubeObject[], created: readonly pulumi.Resource[], parent: pulumi.Resource) =>
      objs.forEach((o, i) => {
        if (o.kind !== "ValidatingWebhookConfiguration" || !live) return;
        const { name: vName, webhooks } = initialFailurePolicy(o);
        validatorInits.push(
          new k8s.admissionregistration.v1.ValidatingWebhookConfigurationPatch(`${prefix}-${vName}-initial-failure-policy`, { metadata: { name: vName, annotations: { [PATCH_FORCE_ANNOTATION]: "true" } }, webhooks }, { parent, dependsOn: [created[i]!], retainOnDelete: true, ignoreChanges: ["webhooks[*].failurePolicy"] }),
        );
      });
    const revisionGroups: Record<string, pulumi.Resource[]> = {};
    for (const r of istio.revisions) {
      const group = new pulumi.ComponentResource("obs:istio:Revision", `${name}-${r.name}`, {}, { parent: this });
      const objs = shaped.revisions[r.name] ?? [];
      // istiod watches the CRDs from its start, so its Deployment waits for them; the revision's
      // RBAC, config maps, Service and webhooks are created meanwhile (gateways and tags still wait for istiod)
      const revisionObjectOptions = (o: KubeObject) => ({ ...istiodOwned(o), ...(o.kind === "Deployment" ? { dependsOn: crds } : {}) });
      const created = registerObjects(`${name}-${r.name}`, objs.map(validatorShape), { parent: group, dependsOn: [ns, ...base] }, revisionObjectOptions);
      initialPolicy(`${name}-${r.name}`, objs, created, group);
      revisionGroups[r.name] = created;
      objs.forEach((o, i) => {
        if (o.kind === "Deployment" && o.metadata.name === `istiod-${r.name}`) this.istiods.push(created[i]!);
      });
    }

    // one group whatever revision renders them: moving gateways.revision updates them in place, rolling
    registerObjects(`${name}-gateway`, shaped.gateways, { parent: this, dependsOn: Object.values(revisionGroups).flat() });

    // the tags' injector webhooks, the default tag's among them (istioctl's commands find their revision by it)
    const tagObjects = Object.entries(revisionTags(istio)).map(([tag, rev]) => tagWebhook(tag, rev, shaped.revisions[rev] ?? []));
    registerObjects(`${name}-tag`, tagObjects, { parent: this, dependsOn: Object.values(revisionGroups).flat() }, istiodOwned);

    // the default tag's validator (`istioctl tag set default`): one object, moving with obs:istio.defaultRevision
    this.defaultRevision = defaultRevision(istio);
    if (this.defaultRevision) {
      const validator = [defaultValidator(this.defaultRevision, shaped.revisions[this.defaultRevision] ?? [], istio.revisions.map((r) => r.name))];
      const created = registerObjects(`${name}-default-tag`, validator.map(validatorShape), { parent: this, dependsOn: Object.values(revisionGroups).flat() }, istiodOwned);
      initialPolicy(`${name}-default-tag`, validator, created, this);
    }

    const appNamespaces: Record<string, k8s.core.v1.Namespace> = {};
    for (const [nsName, target] of Object.entries(istio.namespaces)) {
      const labels = { "istio.io/rev": target };
      const legacy = args.liveNamespaces?.legacy[nsName];
      const adopted = legacy !== undefined ? legacy : args.liveNamespaces?.adopted[nsName];
      // A legacy istio-injection label overrides istio.io/rev in every injector webhook, and server-side
      // apply cannot drop a field another manager owns: a Patch under the Namespace's own field manager
      // takes the label over (force; for that instant a value that injects nothing), then the Namespace,
      // applied after it without the label, drops it. The marker annotation keeps the old value, so the
      // Namespace plans no change later. The Patch is retained: deleting it would relinquish every field
      // of that manager.
      const take = legacy === undefined ? undefined : new k8s.core.v1.NamespacePatch(`${name}-ns-${nsName}-legacy-label`, { metadata: { name: nsName, labels: { ...labels, [LEGACY_INJECTION_LABEL]: "removed-by-observability-stack" }, annotations: { [FIELD_MANAGER_ANNOTATION]: FIELD_MANAGER, [PATCH_FORCE_ANNOTATION]: "true" } } }, { parent: this, retainOnDelete: true });
      if (take) pulumi.log.info(`namespace ${nsName}: its legacy ${LEGACY_INJECTION_LABEL}=${legacy} label is removed, so that istio.io/rev=${target} decides its injection`, this);
      const annotations = adopted !== undefined ? { [ADOPTED_ANNOTATION]: adopted } : undefined;
      appNamespaces[nsName] = new k8s.core.v1.Namespace(`${name}-ns-${nsName}`, { metadata: { name: nsName, labels, ...(annotations ? { annotations } : {}) } }, { parent: this, retainOnDelete: retain, ...(take ? { dependsOn: [take] } : {}) });
    }

    const meshResources: KubeObject[] = [
      {
        apiVersion: "telemetry.istio.io/v1",
        kind: "Telemetry",
        metadata: { name: "mesh-default", namespace: ISTIO_NAMESPACE },
        spec: {
          tracing: [{ providers: [{ name: TRACING_PROVIDER }], randomSamplingPercentage: args.istio.samplingPercent }],
          ...(istio.accessLog ? { accessLogging: [{ providers: [{ name: "envoy" }] }] } : {}),
        },
      },
      { apiVersion: "security.istio.io/v1", kind: "PeerAuthentication", metadata: { name: "default", namespace: ISTIO_NAMESPACE }, spec: { mtls: { mode: istio.mtls } } },
    ];
    if (istio.revisions.length) registerObjects(`${name}-mesh`, meshResources, { parent: this, dependsOn: [...crds, ...this.istiods, ...validatorInits] });

    // istiod validates these on admission, so they wait for it like the mesh resources, and for their namespace
    const inNamespace = (o: KubeObject) => (o.metadata.namespace && appNamespaces[o.metadata.namespace] ? { dependsOn: [appNamespaces[o.metadata.namespace]!] } : undefined);
    const outbound = [...externalServiceObjects({ istio, instance: name, clusterDomain: args.clusterDomain }), ...sidecarScopes({ istio, instance: name, observabilityNamespace: args.observabilityNamespace, zipkinHost: args.zipkinHost })];
    if (istio.revisions.length && outbound.length) registerObjects(`${name}-outbound`, outbound, { parent: this, dependsOn: [ns, ...crds, ...this.istiods, ...validatorInits] }, inNamespace);

    this.namespace = ns.metadata.name;
    this.revisions = istio.revisions.map((r) => r.name);
    this.tags = revisionTags(istio);
    this.registerOutputs({ namespace: this.namespace, revisions: this.revisions, tags: this.tags });
  }
}
