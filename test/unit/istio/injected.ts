// Pods as the real injector shapes them: the pod templates of the pinned 1.30 and 1.31 istioctl's
// `kube-inject` output (generated when asked, test/builders/istio-shapes.ts), turned into the pods
// their controllers would create (names, uids and owner references are the controllers' part;
// every annotation, label and container is the injector's).
import { parseAllDocuments } from "yaml";
import type { PodLike } from "../../../components/istio/guard.js";
import { kubeInjected } from "../../builders/istio-shapes.js";

interface Workload {
  kind: "Deployment" | "StatefulSet" | "DaemonSet";
  metadata: { name: string; namespace: string };
  spec: { template: { metadata: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: PodLike["spec"] } };
}

/** The workloads kube-inject wrote for an Istio version ("1.30", "1.31"). */
export function injectedWorkloads(version: string): Workload[] {
  return parseAllDocuments(kubeInjected(version))
    .map((d) => d.toJS() as Workload | null)
    .filter((w): w is Workload => !!w?.kind);
}

let uid = 0;
/** `n` pods of a workload of that version, in `namespace` (default: the fixture's), as its controller creates them. */
export function podsOf(version: string, name: string, n = 1, namespace?: string): PodLike[] {
  const w = injectedWorkloads(version).find((x) => x.metadata.name === name);
  if (!w) throw new Error(`no workload ${name} in istioctl ${version}'s kube-inject output`);
  const ns = namespace ?? w.metadata.namespace;
  const hash = `h${version.replace(".", "")}x`;
  return Array.from({ length: n }, (_, i) => {
    const owner = w.kind === "Deployment" ? { kind: "ReplicaSet", name: `${name}-${hash}`, controller: true } : { kind: w.kind, name, controller: true };
    const labels = { ...(w.spec.template.metadata.labels ?? {}), ...(w.kind === "Deployment" ? { "pod-template-hash": hash } : {}) };
    return {
      metadata: { name: `${name}-${version.replace(".", "")}-${i}`, namespace: ns, uid: `uid-${++uid}`, labels, annotations: { ...(w.spec.template.metadata.annotations ?? {}) }, ownerReferences: [owner] },
      spec: structuredClone(w.spec.template.spec),
    };
  });
}

/** The workload objects as the API lists them (kind set, as observe.ts sets it), moved to `namespace`. */
export function workloadObjects(version: string, namespace?: string): { kind: string; metadata: { name: string; namespace: string }; spec: Workload["spec"] }[] {
  return injectedWorkloads(version).map((w) => ({ ...w, metadata: { ...w.metadata, namespace: namespace ?? w.metadata.namespace } }));
}
