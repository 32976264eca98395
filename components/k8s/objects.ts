// Registers plain Kubernetes objects (shaped in code) as Pulumi resources, one per object,
// so every object shows in a preview under its real type token.
import * as pulumi from "@pulumi/pulumi";
import { contentHash } from "./hash.js";

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

/** Options that depend on the object itself (ignoreChanges for fields a controller owns, retention). */
export type PerObjectOptions = (o: KubeObject) => pulumi.CustomResourceOptions | undefined;

export function objectKey(o: Pick<KubeObject, "apiVersion" | "kind" | "metadata">): string {
  return `${o.apiVersion}/${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
}

/** Pulumi resource name of an object: unique within a group. */
export function resourceName(prefix: string, o: KubeObject): string {
  const ns = o.metadata.namespace ? `${o.metadata.namespace}-` : "";
  return `${prefix}-${o.kind.toLowerCase()}-${ns}${o.metadata.name}`;
}

/** The provider's type token of an object: core objects live under `core/v1`. */
export function typeToken(o: Pick<KubeObject, "apiVersion" | "kind">): string {
  return `kubernetes:${o.apiVersion.includes("/") ? o.apiVersion : `core/${o.apiVersion}`}:${o.kind}`;
}

/** Any Kubernetes object as a Pulumi resource of its real type (what the typed SDK classes do). */
export class KubeObjectResource extends pulumi.CustomResource {
  declare readonly metadata: pulumi.Output<KubeObject["metadata"]>;
  constructor(name: string, obj: KubeObject, opts?: pulumi.CustomResourceOptions) {
    super(typeToken(obj), name, { ...obj, metadata: obj.metadata }, opts);
  }
}

export function registerObjects(prefix: string, objects: readonly KubeObject[], opts: pulumi.CustomResourceOptions, perObject?: PerObjectOptions): KubeObjectResource[] {
  return objects.map((o) => {
    const extra = perObject?.(o) ?? {};
    return new KubeObjectResource(resourceName(prefix, o), o, { ...opts, ...extra, dependsOn: mergeDeps(opts.dependsOn, extra.dependsOn), ignoreChanges: [...(opts.ignoreChanges ?? []), ...(extra.ignoreChanges ?? [])] });
  });
}

function mergeDeps(a: pulumi.CustomResourceOptions["dependsOn"], b: pulumi.CustomResourceOptions["dependsOn"]): pulumi.Input<pulumi.Input<pulumi.Resource>[]> {
  const list = (x: typeof a): pulumi.Input<pulumi.Resource>[] => (x === undefined ? [] : Array.isArray(x) ? x : [x as pulumi.Input<pulumi.Resource>]);
  return [...list(a), ...list(b)];
}

/**
 * The server-side-apply field manager of every object the stack applies. The provider otherwise
 * picks a random `pulumi-kubernetes-<id>` per create and keeps it in the state, so an object
 * created by a run killed before it saved its state belongs to a manager no later run uses, and
 * every later apply of it fails on a field conflict. With one fixed manager the next run takes
 * such an object over (the provider's create is an apply), and a stack-wide listing of what the
 * stack owns is `managedFields[].manager == FIELD_MANAGER`.
 */
export const FIELD_MANAGER = "observability-stack";
/** The provider's per-object field manager annotation (pulumi-kubernetes pkg/metadata/annotations.go). */
export const FIELD_MANAGER_ANNOTATION = "pulumi.com/patchFieldManager";
/** The provider's annotation that makes a Patch resource take fields other managers own (force). */
export const PATCH_FORCE_ANNOTATION = "pulumi.com/patchForce";

type Metadata = pulumi.Input<Record<string, unknown>> | undefined;

/**
 * `metadata` with `defaults` among its annotations where it has none of that key (an object's own
 * value wins); only what is an Output is lifted (a name unknown at preview stays a separate unknown).
 */
export function withDefaultAnnotations(metadata: Metadata, defaults: Record<string, string>): pulumi.Input<Record<string, unknown>> {
  const add = (annotations: Record<string, unknown> | undefined) => ({ ...defaults, ...(annotations ?? {}) });
  if (pulumi.Output.isInstance(metadata) || metadata instanceof Promise) return pulumi.output(metadata).apply((m) => ({ ...m, annotations: add(m?.annotations as Record<string, unknown> | undefined) }));
  const m = (metadata ?? {}) as Record<string, unknown>;
  const annotations = m.annotations as pulumi.Input<Record<string, unknown>> | undefined;
  return { ...m, annotations: pulumi.Output.isInstance(annotations) || annotations instanceof Promise ? pulumi.output(annotations).apply(add) : add(annotations as Record<string, unknown> | undefined) };
}

/**
 * Stack transformation: every Kubernetes object of the stack is applied with FIELD_MANAGER,
 * unless it names its own (a Patch that must own only what it sets, e.g. the canary migration's).
 * Registered by the program for a live cluster (a rendered manifest has no field manager).
 */
export const fixedFieldManager: pulumi.ResourceTransformation = (args) => {
  if (!args.type.startsWith("kubernetes:") || !(args.resource instanceof pulumi.CustomResource)) return undefined;
  // a Patch resource (e.g. istio/migration.ts) names its own manager: sharing the one of the object
  // it patches would make each apply drop the fields the other one set
  if (args.type.endsWith("Patch")) return undefined;
  const props = args.props as { metadata?: Metadata };
  return { props: { ...args.props, metadata: withDefaultAnnotations(props.metadata, { [FIELD_MANAGER_ANNOTATION]: FIELD_MANAGER }) }, opts: args.opts };
};

/**
 * A fixed name that changes with `content` (`base-` and 8 hex characters of its sha256), for an
 * object a change must replace: a Job runs again, a ConfigMap rolls the Deployment that names it.
 * Fixed, not auto-named: a run interrupted after creating it is taken over by the next run
 * instead of leaving a second copy behind.
 */
export function hashedName(base: string, content: pulumi.Input<unknown>): pulumi.Output<string> {
  return (pulumi.output(content) as pulumi.Output<unknown>).apply((c) => `${base}-${contentHash(JSON.stringify(c)).slice(0, 8)}`);
}

/**
 * The name of a cluster-scoped object of a component: prefixed with the stack's namespace, so
 * stacks sharing a cluster (each in its own namespace) do not collide, and fixed, so a run
 * interrupted after creating it is taken over by the next run.
 */
export function clusterScopedName(namespace: pulumi.Input<string>, name: string): pulumi.Output<string> {
  return pulumi.interpolate`${namespace}-${name}`;
}
