// Guard rails of the canary upgrade (pure): a revision leaves the stack only when nothing uses it.
import { effectiveRevision, type IstioConfig } from "./config.js";

export interface ObservedMesh {
  /** Revisions whose istiod runs in the cluster now. */
  readonly revisions: readonly string[];
  /** Pods outside istio-system per revision label (`istio.io/rev` set by the injector), as ns/name. */
  readonly podsByRevision: Readonly<Record<string, readonly string[]>>;
  /** Namespaces per `istio.io/rev` label value, as the cluster has them now. */
  readonly namespacesByLabel: Readonly<Record<string, readonly string[]>>;
}

/** Namespace -> the revision its label resolves to, from config. */
export function namespaceRevisions(istio: IstioConfig): Record<string, string> {
  return Object.fromEntries(Object.entries(istio.namespaces).map(([ns, target]) => [ns, effectiveRevision(istio, target) ?? target]));
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
