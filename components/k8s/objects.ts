// Registers plain Kubernetes objects (shaped in code) as Pulumi resources, one per object,
// so every object shows in a preview under its real type token.
import * as k8s from "@pulumi/kubernetes";
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

export function registerObjects(prefix: string, objects: readonly KubeObject[], opts: pulumi.CustomResourceOptions, perObject?: PerObjectOptions): k8s.apiextensions.CustomResource[] {
  return objects.map((o) => {
    const { apiVersion, kind, metadata, ...rest } = o;
    const extra = perObject?.(o) ?? {};
    return new k8s.apiextensions.CustomResource(resourceName(prefix, o), { apiVersion, kind, metadata, ...rest }, { ...opts, ...extra, dependsOn: mergeDeps(opts.dependsOn, extra.dependsOn), ignoreChanges: [...(opts.ignoreChanges ?? []), ...(extra.ignoreChanges ?? [])] });
  });
}

function mergeDeps(a: pulumi.CustomResourceOptions["dependsOn"], b: pulumi.CustomResourceOptions["dependsOn"]): pulumi.Input<pulumi.Input<pulumi.Resource>[]> {
  const list = (x: typeof a): pulumi.Input<pulumi.Resource>[] => (x === undefined ? [] : Array.isArray(x) ? x : [x as pulumi.Input<pulumi.Resource>]);
  return [...list(a), ...list(b)];
}
