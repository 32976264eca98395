// Registers plain Kubernetes objects (shaped in code) as Pulumi resources, one per object,
// so every object shows in a preview under its real type token.
import * as pulumi from "@pulumi/pulumi";

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
