// A StatefulSet behind its headless Service, the shape of every clustered store the stack runs
// (Kafka, Cassandra): pod i resolves as `<name>-<i>.<name>.<namespace>.svc.<clusterDomain>`
// (hosts.ts's podHost), and each pod keeps one data volume across restarts.
import type * as k8s from "@pulumi/kubernetes";

/** Name of the volume claim template; containers mount it by this name. */
export const DATA_VOLUME = "data";

export interface HeadlessStatefulSetInput {
  /** Name of the StatefulSet and of its headless Service (the pods' DNS subdomain). */
  readonly name: string;
  readonly replicas: number;
  /** What the StatefulSet and the Service select on; immutable once the StatefulSet exists. */
  readonly selector: Record<string, string>;
  /** Labels of the pods; they must contain the selector. */
  readonly podLabels: Record<string, string>;
  readonly podAnnotations?: Record<string, string>;
  /** Ports of the headless Service, named with their protocol for Istio (`tcp-...`). */
  readonly ports: readonly { readonly name: string; readonly port: number }[];
  /** The data volume of each pod: size, and StorageClass ("" for the cluster default). */
  readonly volume: { readonly size: string; readonly storageClass: string };
  /** `Parallel` when the members must start together (a quorum); unset is OrderedReady. */
  readonly podManagementPolicy?: "Parallel";
  /** The pod spec (containers, security context, affinity, grace period). */
  readonly pod: k8s.types.input.core.v1.PodSpec;
}

export interface HeadlessStatefulSet {
  readonly service: k8s.types.input.core.v1.ServiceSpec;
  readonly statefulSet: k8s.types.input.apps.v1.StatefulSetSpec;
}

/** The headless Service spec and the StatefulSet spec; metadata stays with the caller. */
export function headlessStatefulSet(i: HeadlessStatefulSetInput): HeadlessStatefulSet {
  const unmatched = Object.entries(i.selector).filter(([k, v]) => i.podLabels[k] !== v);
  if (unmatched.length) throw new Error(`StatefulSet ${i.name}: its pods' labels lack the selector's ${unmatched.map(([k, v]) => `${k}=${v}`).join(", ")}`);
  const claim = {
    metadata: { name: DATA_VOLUME },
    spec: { accessModes: ["ReadWriteOnce"], ...(i.volume.storageClass ? { storageClassName: i.volume.storageClass } : {}), resources: { requests: { storage: i.volume.size } } },
  };
  return {
    service: {
      clusterIP: "None",
      // Members find each other (a quorum, seeds) before any of them is ready.
      publishNotReadyAddresses: true,
      selector: i.selector,
      ports: i.ports.map((p) => ({ name: p.name, port: p.port })),
    },
    statefulSet: {
      serviceName: i.name,
      replicas: i.replicas,
      ...(i.podManagementPolicy ? { podManagementPolicy: i.podManagementPolicy } : {}),
      selector: { matchLabels: i.selector },
      // The data outlives the set: scaling down or deleting it keeps the claims.
      persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
      template: { metadata: { labels: i.podLabels, ...(i.podAnnotations ? { annotations: i.podAnnotations } : {}) }, spec: i.pod },
      volumeClaimTemplates: [claim],
    },
  };
}
