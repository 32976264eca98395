// Where replicas land: apart on nodes (a node's loss takes one member) and over zones. Shared by
// every component that runs more than one member (the stores, Prometheus, Alertmanager).
import type * as k8s from "@pulumi/kubernetes";

/** Anti-affinity on the node name: a hard rule where losing a node must not lose two members, else preferred. */
export function apartOnNodes(selector: Record<string, string>, required = false): k8s.types.input.core.v1.Affinity {
  const term = { topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: selector } };
  return { podAntiAffinity: required ? { requiredDuringSchedulingIgnoredDuringExecution: [term] } : { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: term }] } };
}

/** An even spread over zones where the scheduler can, never blocking a pod (ScheduleAnyway). */
export function overZones(selector: Record<string, string>): k8s.types.input.core.v1.TopologySpreadConstraint[] {
  return [{ maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: selector } }];
}
