// Guard rails of the canary upgrade (pure): what the injector wrote on pods, read into one view of
// the mesh; a revision leaves the stack only when nothing uses it.
import { effectiveRevision, type IstioConfig, revisionTags } from "./config.js";
import { ISTIO_NAMESPACE } from "../k8s/labels.js";

/** The kinds whose pods a canary step restarts. */
export const WORKLOAD_KINDS = ["Deployment", "StatefulSet", "DaemonSet"] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

/** Pod-template annotation the migration sets to restart a workload (its only change to it). */
export const RESTART_ANNOTATION = "istio.observability-stack/restarted-for";
/** The legacy namespace label, which takes precedence over `istio.io/rev` in every injector webhook. */
export const LEGACY_INJECTION_LABEL = "istio-injection";
/** Namespace annotation recording the legacy label's value when the stack removed it (index.ts). */
export const ADOPTED_ANNOTATION = "istio.observability-stack/adopted-istio-injection";

/** A pod as the canary reads it. `revision` is undefined when the pod has no sidecar. */
export interface MeshPod {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly revision?: string;
  /** The workload that owns it (a Deployment through its ReplicaSet), if any. */
  readonly owner?: { readonly kind: WorkloadKind; readonly name: string };
}

export interface MeshWorkload {
  readonly kind: WorkloadKind;
  readonly namespace: string;
  readonly name: string;
  /** The value of RESTART_ANNOTATION on its pod template (set by an earlier migration), if any. */
  readonly restartedFor?: string;
  /** Its pod template's injection labels, which the injectors' object selectors read where the namespace names no revision. */
  readonly podLabels?: { readonly rev?: string; readonly inject?: string };
}

export interface ObservedMesh {
  /** Revisions whose istiod runs in the cluster now. */
  readonly revisions: readonly string[];
  /** Pods outside istio-system with a sidecar, per the revision that injected them, as ns/name. */
  readonly podsByRevision: Readonly<Record<string, readonly string[]>>;
  /** Namespaces per `istio.io/rev` label value, as the cluster has them now. */
  readonly namespacesByLabel: Readonly<Record<string, readonly string[]>>;
  /** Namespaces carrying the legacy `istio-injection` label, with its value. */
  readonly legacyNamespaces?: Readonly<Record<string, string>>;
  /** Namespaces whose legacy label the stack removed, with the value it had (ADOPTED_ANNOTATION). */
  readonly adoptedNamespaces?: Readonly<Record<string, string>>;
  /** Pods outside istio-system (with or without a sidecar). */
  readonly pods?: readonly MeshPod[];
  /** Deployments, StatefulSets and DaemonSets outside istio-system. */
  readonly workloads?: readonly MeshWorkload[];
  /** Revision tags in the cluster (their injector webhooks' labels): tag -> revision. */
  readonly tags?: Readonly<Record<string, string>>;
  /** Namespaces being deleted: nothing in them is restarted. */
  readonly terminatingNamespaces?: readonly string[];
}

// The subset of the Kubernetes objects read (what @kubernetes/client-node returns, as plain JSON).
interface Meta {
  name?: string;
  namespace?: string;
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { kind: string; name: string; controller?: boolean }[];
  /** Set while the object is being deleted. */
  deletionTimestamp?: unknown;
}
export interface PodLike {
  metadata?: Meta;
  spec?: { containers?: { name: string }[]; initContainers?: { name: string }[] };
}
export interface ObjectLike {
  kind?: string;
  metadata?: Meta;
  spec?: { template?: { metadata?: Meta } };
}

/**
 * The revision whose injector gave this pod its sidecar: the `istio.io/rev` annotation, else the
 * `revision` of the `sidecar.istio.io/status` annotation (both written by the injector). A pod
 * without an istio-proxy container (in containers, or as a native sidecar in initContainers) or
 * without the status annotation has no sidecar: undefined.
 */
export function injectedRevision(pod: PodLike): string | undefined {
  const annotations = pod.metadata?.annotations ?? {};
  const status = annotations["sidecar.istio.io/status"];
  const containers = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
  if (!status || !containers.some((c) => c.name === "istio-proxy")) return undefined;
  const annotated = annotations["istio.io/rev"];
  if (annotated) return annotated;
  try {
    const revision = (JSON.parse(status) as { revision?: unknown }).revision;
    return typeof revision === "string" && revision ? revision : "default";
  } catch {
    return "default";
  }
}

/** The workload owning a pod: its controller, or the Deployment owning its ReplicaSet (by the pod-template-hash suffix). */
export function podOwner(pod: PodLike): MeshPod["owner"] {
  const ref = pod.metadata?.ownerReferences?.find((r) => r.controller) ?? pod.metadata?.ownerReferences?.[0];
  if (!ref) return undefined;
  if (ref.kind === "StatefulSet" || ref.kind === "DaemonSet") return { kind: ref.kind, name: ref.name };
  const hash = pod.metadata?.labels?.["pod-template-hash"];
  if (ref.kind === "ReplicaSet" && hash && ref.name.endsWith(`-${hash}`)) return { kind: "Deployment", name: ref.name.slice(0, -hash.length - 1) };
  return undefined;
}

/** One view of the mesh from the objects read (pure; observe.ts reads them). */
export function meshFromObjects(input: { istiods: readonly ObjectLike[]; pods: readonly PodLike[]; namespaces: readonly ObjectLike[]; workloads?: readonly ObjectLike[]; tagWebhooks?: readonly ObjectLike[] }): ObservedMesh {
  const revisions = [...new Set(input.istiods.map((d) => d.metadata?.labels?.["istio.io/rev"] ?? "default"))].sort();
  const pods: MeshPod[] = [];
  const podsByRevision: Record<string, string[]> = {};
  for (const p of input.pods) {
    const namespace = p.metadata?.namespace ?? "";
    if (namespace === ISTIO_NAMESPACE) continue;
    const revision = injectedRevision(p);
    const owner = podOwner(p);
    const pod: MeshPod = { namespace, name: p.metadata?.name ?? "", uid: p.metadata?.uid ?? "", ...(revision ? { revision } : {}), ...(owner ? { owner } : {}) };
    pods.push(pod);
    if (revision) (podsByRevision[revision] ??= []).push(`${namespace}/${pod.name}`);
  }
  const namespacesByLabel: Record<string, string[]> = {};
  const legacyNamespaces: Record<string, string> = {};
  const adoptedNamespaces: Record<string, string> = {};
  const terminatingNamespaces: string[] = [];
  for (const n of input.namespaces) {
    if (n.metadata?.deletionTimestamp) terminatingNamespaces.push(n.metadata.name!);
    const labels = n.metadata?.labels ?? {};
    const adopted = n.metadata?.annotations?.[ADOPTED_ANNOTATION];
    if (adopted !== undefined) adoptedNamespaces[n.metadata!.name!] = adopted;
    if (labels["istio.io/rev"]) (namespacesByLabel[labels["istio.io/rev"]] ??= []).push(n.metadata!.name!);
    if (labels[LEGACY_INJECTION_LABEL] !== undefined) legacyNamespaces[n.metadata!.name!] = labels[LEGACY_INJECTION_LABEL]!;
  }
  const workloads: MeshWorkload[] = (input.workloads ?? [])
    .filter((w) => WORKLOAD_KINDS.includes(w.kind as WorkloadKind) && w.metadata?.namespace !== ISTIO_NAMESPACE && !w.metadata?.deletionTimestamp)
    .map((w) => {
      const restartedFor = w.spec?.template?.metadata?.annotations?.[RESTART_ANNOTATION];
      const labels = w.spec?.template?.metadata?.labels ?? {};
      const podLabels = { ...(labels["istio.io/rev"] ? { rev: labels["istio.io/rev"] } : {}), ...(labels["sidecar.istio.io/inject"] ? { inject: labels["sidecar.istio.io/inject"] } : {}) };
      return { kind: w.kind as WorkloadKind, namespace: w.metadata!.namespace!, name: w.metadata!.name!, ...(restartedFor ? { restartedFor } : {}), ...(Object.keys(podLabels).length ? { podLabels } : {}) };
    });
  const tags: Record<string, string> = {};
  for (const h of input.tagWebhooks ?? []) {
    const l = h.metadata?.labels ?? {};
    if (l["istio.io/tag"] && l["istio.io/rev"]) tags[l["istio.io/tag"]] = l["istio.io/rev"];
  }
  return { revisions, podsByRevision, namespacesByLabel, legacyNamespaces, adoptedNamespaces, pods, workloads, tags, terminatingNamespaces };
}

/** Namespace -> the revision its label resolves to, from config. */
export function namespaceRevisions(istio: IstioConfig): Record<string, string> {
  return Object.fromEntries(Object.entries(istio.namespaces).map(([ns, target]) => [ns, effectiveRevision(istio, target) ?? target]));
}

/**
 * Namespaces outside config whose injection follows a tag the stack sets: labelled
 * `istio.io/rev=<tag>` (no legacy label, which would take precedence), or `istio-injection=enabled`,
 * which the default tag's injector serves as istioctl's does. Moving the tag moves them, so their
 * workloads restart with the stack's. A namespace labelled with a revision itself, or with another
 * legacy value, is left to whoever labelled it. namespace -> the label and the revision after this update.
 */
export function tagFollowers(istio: IstioConfig, observed: ObservedMesh): Record<string, { readonly label: string; readonly revision: string }> {
  const tags = revisionTags(istio);
  const legacy = observed.legacyNamespaces ?? {};
  const followers: Record<string, { label: string; revision: string }> = {};
  for (const [ns, value] of Object.entries(legacy)) {
    if (!(ns in istio.namespaces) && value === "enabled" && tags.default) followers[ns] = { label: `${LEGACY_INJECTION_LABEL}=enabled`, revision: tags.default };
  }
  for (const [label, names] of Object.entries(observed.namespacesByLabel)) {
    // a tag is never named like a revision (config checks it): a namespace labelled with a revision itself finds no tag
    const revision = tags[label];
    if (!revision) continue;
    for (const ns of names) if (!(ns in istio.namespaces) && legacy[ns] === undefined) followers[ns] = { label: `istio.io/rev=${label}`, revision };
  }
  return followers;
}

/** namespaceRevisions plus the namespaces outside config that follow one of its tags: whose workloads the migration looks at. */
export function meshNamespaceRevisions(istio: IstioConfig, observed: ObservedMesh, followers = tagFollowers(istio, observed)): Record<string, string> {
  // tagFollowers leaves config's namespaces out: config's label wins
  return { ...namespaceRevisions(istio), ...Object.fromEntries(Object.entries(followers).map(([ns, f]) => [ns, f.revision])) };
}

/**
 * The revision a workload's pods are injected by after this update, where the stack decides it,
 * else undefined (also in a namespace being deleted, and for a workload being deleted, which
 * meshFromObjects leaves out): its namespace's (meshNamespaceRevisions); in a namespace that names no revision
 * (no `istio.io/rev`, no `istio-injection` label), what its pod labels select as the injectors'
 * object selectors do: `istio.io/rev=<tag>` the tag's revision, `sidecar.istio.io/inject=true`
 * the default tag's (istioctl's legacy object hook, which the stack renders too).
 */
export function migrationTarget(istio: IstioConfig, observed: ObservedMesh): (w: MeshWorkload) => string | undefined {
  const namespaces = meshNamespaceRevisions(istio, observed);
  const labelled = new Set([...Object.values(observed.namespacesByLabel).flat(), ...Object.keys(observed.legacyNamespaces ?? {})]);
  const tags = revisionTags(istio);
  const terminating = new Set(observed.terminatingNamespaces ?? []);
  return (w) => {
    if (terminating.has(w.namespace)) return undefined;
    if (namespaces[w.namespace] !== undefined) return namespaces[w.namespace];
    if (labelled.has(w.namespace) || !w.podLabels || w.podLabels.inject === "false") return undefined;
    // pods labelled with a revision itself find no tag (tags are never named like revisions): left alone
    if (w.podLabels.rev !== undefined) return tags[w.podLabels.rev];
    return w.podLabels.inject === "true" ? tags.default : undefined;
  };
}

/** One message per revision that config removes while something still uses it. */
export function removalProblems(istio: IstioConfig, observed: ObservedMesh): string[] {
  const kept = new Set(istio.revisions.map((r) => r.name));
  const force = new Set(istio.forceRemoveRevisions);
  const problems: string[] = [];
  for (const rev of observed.revisions) {
    if (kept.has(rev) || force.has(rev)) continue;
    const users: string[] = [];
    const pods = observed.podsByRevision[rev] ?? [];
    if (pods.length) users.push(`${pods.length} running pod(s) injected by it (${pods.slice(0, 5).join(", ")}${pods.length > 5 ? ", ..." : ""}); restart them onto another revision first`);
    // namespaces that keep pointing at it after this update (config moves the others)
    const stillLabelled = (observed.namespacesByLabel[rev] ?? []).filter((ns) => !(ns in istio.namespaces));
    if (stillLabelled.length) users.push(`namespace(s) ${stillLabelled.join(", ")} labelled istio.io/rev=${rev} outside this stack`);
    if (users.length) problems.push(`obs:istio.revisions: removing revision '${rev}' is refused: ${users.join("; ")}. To remove it anyway add it to obs:istio.forceRemoveRevisions.`);
  }
  return problems;
}

/** Namespaces whose effective revision differs between two mappings: their workloads restart. */
export function movedNamespaces(before: Record<string, string>, after: Record<string, string>): { namespace: string; from: string; to: string }[] {
  return Object.entries(after)
    .filter(([ns, rev]) => before[ns] !== undefined && before[ns] !== rev)
    .map(([ns, rev]) => ({ namespace: ns, from: before[ns]!, to: rev }));
}
