// Pure shaping of istioctl output: which objects are cluster-wide (CRDs, shared base) and
// which belong to one revision; revision-tag webhooks derived from a revision's injector.
import type { KubeObject } from "../k8s/objects.js";
import { objectKey } from "../k8s/objects.js";
import { MANAGED_BY_LABELS } from "../k8s/labels.js";

export interface RenderedRevision {
  readonly revision: string;
  readonly version: string;
  readonly objects: readonly KubeObject[];
}

export interface ShapedInstall {
  /** CRDs, from the newest Istio version rendered (upgraded once, never per revision). */
  readonly crds: KubeObject[];
  /** Cluster-wide objects identical in name across revisions (e.g. the istio-reader account). */
  readonly shared: KubeObject[];
  /** Objects owned by one revision. */
  readonly revisions: Record<string, KubeObject[]>;
  /** Gateway objects: upgraded in place, so their identity does not depend on the revision rendering them. */
  readonly gateways: KubeObject[];
}

export function isGatewayObject(o: KubeObject): boolean {
  return /^istio-(ingress|egress)gateway/.test(o.metadata.name);
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function belongsToRevision(o: KubeObject, revision: string): boolean {
  if (o.metadata.labels?.["istio.io/rev"] === revision) return true;
  return o.metadata.name.endsWith(`-${revision}`) || o.metadata.name.includes(`-${revision}-`);
}

export function shapeInstall(rendered: readonly RenderedRevision[]): ShapedInstall {
  // newest version last, so its copy of a shared object wins
  const ordered = [...rendered].sort((a, b) => compareVersions(a.version, b.version));
  const crds = new Map<string, KubeObject>();
  const shared = new Map<string, KubeObject>();
  const revisions: Record<string, KubeObject[]> = {};
  const gateways: KubeObject[] = [];
  for (const r of ordered) {
    revisions[r.revision] = [];
    for (const o of r.objects) {
      if (o.kind === "CustomResourceDefinition") crds.set(objectKey(o), o);
      else if (isGatewayObject(o)) gateways.push(o);
      else if (belongsToRevision(o, r.revision)) revisions[r.revision]!.push(o);
      else shared.set(objectKey(o), o);
    }
  }
  const byKey = (m: Map<string, KubeObject>) => [...m.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, o]) => o);
  return { crds: byKey(crds), shared: byKey(shared), revisions, gateways };
}

interface WebhookLike {
  name: string;
  namespaceSelector?: { matchExpressions?: { key: string; operator: string; values?: string[] }[]; matchLabels?: Record<string, string> };
  objectSelector?: { matchExpressions?: { key: string; operator: string; values?: string[] }[]; matchLabels?: Record<string, string> };
  [k: string]: unknown;
}

/** The legacy selectors `istioctl tag set default` adds (its shape from the pinned istioctl's `tag generate default`). */
const LEGACY_HOOKS = {
  /** namespaces labelled istio-injection=enabled */
  namespace: { name: "namespace.sidecar-injector.istio.io", namespaceSelector: { matchExpressions: [{ key: "istio-injection", operator: "In", values: ["enabled"] }] } },
  /** pods labelled sidecar.istio.io/inject=true in namespaces and pods that name no revision */
  object: { name: "object.sidecar-injector.istio.io", namespaceSelector: { matchExpressions: [{ key: "istio-injection", operator: "DoesNotExist" }, { key: "istio.io/rev", operator: "DoesNotExist" }] }, objectSelector: { matchExpressions: [{ key: "sidecar.istio.io/inject", operator: "In", values: ["true"] }, { key: "istio.io/rev", operator: "DoesNotExist" }] } },
};

/**
 * The equivalent of `istioctl tag set <tag> --revision <rev>`: a copy of the revision's
 * injector webhook that selects namespaces (and pods) labelled `istio.io/rev=<tag>`. The `default`
 * tag also takes, as istioctl's does, namespaces labelled `istio-injection=enabled` and pods
 * labelled `sidecar.istio.io/inject=true` where no revision is named.
 */
export function tagWebhook(tag: string, revision: string, revisionObjects: readonly KubeObject[]): KubeObject {
  const injector = revisionObjects.find((o) => o.kind === "MutatingWebhookConfiguration" && o.metadata.name === `istio-sidecar-injector-${revision}`);
  if (!injector) throw new Error(`revision ${revision} renders no injector webhook (istio-sidecar-injector-${revision}); its profile cannot back tag '${tag}'`);
  const webhooks = ((injector.webhooks as WebhookLike[] | undefined) ?? [])
    // only the revision-selected hooks: the legacy istio-injection=enabled hooks stay with the default revision
    .filter((w) => hasRevSelector(w, revision))
    .map((w) => ({
      ...structuredClone(w),
      name: w.name.startsWith("rev.") ? `${tag}.${w.name.slice(4)}` : `${tag}.${w.name}`,
      namespaceSelector: retarget(w.namespaceSelector, revision, tag),
      objectSelector: retarget(w.objectSelector, revision, tag),
    }));
  if (tag === "default") {
    const nsHook = webhooks.find((w) => w.namespaceSelector?.matchExpressions?.some((e) => e.key === "istio.io/rev" && e.operator === "In"));
    const objHook = webhooks.find((w) => w.objectSelector?.matchExpressions?.some((e) => e.key === "istio.io/rev" && e.operator === "In"));
    if (!nsHook || !objHook) throw new Error(`revision ${revision}'s injector webhook lacks its namespace or object hook; it cannot back the default tag`);
    webhooks.push({ ...structuredClone(nsHook), ...structuredClone(LEGACY_HOOKS.namespace) }, { ...structuredClone(objHook), ...structuredClone(LEGACY_HOOKS.object) });
  }
  return {
    apiVersion: injector.apiVersion,
    kind: "MutatingWebhookConfiguration",
    metadata: { name: `istio-revision-tag-${tag}`, labels: { ...(injector.metadata.labels ?? {}), "istio.io/rev": revision, "istio.io/tag": tag, ...MANAGED_BY_LABELS } },
    webhooks,
  };
}

function hasRevSelector(w: WebhookLike, revision: string): boolean {
  const sel = [w.namespaceSelector, w.objectSelector];
  return sel.some((s) => s?.matchExpressions?.some((e) => e.key === "istio.io/rev" && e.operator === "In" && e.values?.includes(revision)) || s?.matchLabels?.["istio.io/rev"] === revision);
}

function retarget<T extends WebhookLike["namespaceSelector"]>(sel: T, revision: string, tag: string): T {
  if (!sel) return sel;
  const copy = structuredClone(sel)!;
  for (const e of copy.matchExpressions ?? []) {
    if (e.key === "istio.io/rev" && e.values) e.values = e.values.map((v) => (v === revision ? tag : v));
  }
  if (copy.matchLabels?.["istio.io/rev"] === revision) copy.matchLabels["istio.io/rev"] = tag;
  return copy as T;
}

/**
 * Fields istiod writes after install; Pulumi must not fight it over them. The rendered objects carry
 * no caBundle, so the stack never owns it. A validator's failurePolicy is not in its inputs at all
 * (withoutFailurePolicy): ignoreChanges would send the old input value (Ignore) with every later
 * update, which conflicts with istiod's ownership of the field once istiod switched it to Fail (the
 * provider's SSA ignoreChanges handling does not reach into lists). The initial Ignore is applied
 * once by a separate Patch resource instead (initialFailurePolicy).
 */
export const ISTIOD_OWNED_FIELDS: Record<string, string[]> = {
  MutatingWebhookConfiguration: ["webhooks[*].clientConfig.caBundle"],
  ValidatingWebhookConfiguration: ["webhooks[*].clientConfig.caBundle"],
};

/** The name of the validator `istioctl tag set default` creates. */
export const DEFAULT_VALIDATOR = "istiod-default-validator";

/**
 * The equivalent of the validator of `istioctl tag set default --revision <rev>` (its shape from the
 * pinned istioctl's `tag generate default`: the revision's validator renamed, labelled
 * `istio.io/tag: default`, one webhook `validation.istio.io` calling the revision's istiod). Its object
 * selector is wider than istioctl's (`istio.io/rev` DoesNotExist): NotIn the revisions, so config
 * labelled with a tag, which no revision's validator selects, is validated too.
 */
export function defaultValidator(revision: string, revisionObjects: readonly KubeObject[], revisions: readonly string[]): KubeObject {
  const validator = revisionObjects.find((o) => o.kind === "ValidatingWebhookConfiguration" && o.metadata.labels?.["istio.io/rev"] === revision);
  if (!validator) throw new Error(`revision ${revision} renders no validating webhook; its profile cannot back the default tag (obs:istio.defaultRevision)`);
  const [first] = (validator.webhooks as WebhookLike[] | undefined) ?? [];
  if (!first) throw new Error(`revision ${revision}'s validating webhook ${validator.metadata.name} has no webhook`);
  const { name: _name, objectSelector: _selector, namespaceSelector: _ns, ...rest } = structuredClone(first);
  return {
    apiVersion: validator.apiVersion,
    kind: "ValidatingWebhookConfiguration",
    metadata: { name: DEFAULT_VALIDATOR, labels: { ...(validator.metadata.labels ?? {}), "istio.io/rev": revision, "istio.io/tag": "default", ...MANAGED_BY_LABELS } },
    webhooks: [{ ...rest, name: "validation.istio.io", objectSelector: { matchExpressions: [{ key: "istio.io/rev", operator: "NotIn", values: [...revisions].sort() }] } }],
  };
}

/** A validator without failurePolicy in its webhooks: the field belongs to istiod (see ISTIOD_OWNED_FIELDS). */
export function withoutFailurePolicy(o: KubeObject): KubeObject {
  if (o.kind !== "ValidatingWebhookConfiguration") return o;
  return { ...o, webhooks: ((o.webhooks as WebhookLike[] | undefined) ?? []).map(({ failurePolicy: _f, ...w }) => w) };
}

/** A validator whole, each webhook with the failurePolicy it starts with (what an offline render writes). */
export function withInitialFailurePolicy(o: KubeObject): KubeObject {
  if (o.kind !== "ValidatingWebhookConfiguration") return o;
  const initial = initialFailurePolicy(o).webhooks;
  return { ...o, webhooks: ((o.webhooks as WebhookLike[] | undefined) ?? []).map((w, i) => ({ ...w, failurePolicy: initial[i]!.failurePolicy })) };
}

/**
 * The failurePolicy a validator starts with, as istioctl renders it (Ignore: config is accepted while
 * istiod cannot answer yet), for the Patch resource that applies it once; istiod switches it to Fail
 * when its webhook works.
 */
export function initialFailurePolicy(o: KubeObject, policy = "Ignore"): { name: string; webhooks: { name: string; failurePolicy: string }[] } {
  return { name: o.metadata.name, webhooks: ((o.webhooks as WebhookLike[] | undefined) ?? []).map((w) => ({ name: w.name, failurePolicy: (w.failurePolicy as string | undefined) ?? policy })) };
}

