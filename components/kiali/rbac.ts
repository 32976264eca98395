// Kiali's ClusterRole rules: what its server reads, and with viewOnly false the writes its
// UI actions make. Least privilege: no Secrets (one cluster, no remote-cluster secrets),
// no nodes, no validating webhooks (Kiali reads only the injector webhooks, to map revision
// tags). Pure: no Pulumi resources.
import type * as k8s from "@pulumi/kubernetes";

type Rule = k8s.types.input.rbac.v1.PolicyRule;

export const READ = ["get", "list", "watch"] as const;
/** The verbs Kiali's write actions use on Istio config (create, edit as patch, delete). */
export const ISTIO_WRITE = ["create", "delete", "patch"] as const;

/** Istio's config APIs and the Gateway API, whose objects Kiali lists, validates and (writable) edits. */
export const ISTIO_GROUPS = ["networking.istio.io", "security.istio.io", "telemetry.istio.io", "extensions.istio.io", "gateway.networking.k8s.io"] as const;

const CORE_READ = ["configmaps", "endpoints", "namespaces", "pods", "pods/log", "replicationcontrollers", "services"];
/** Objects whose labels and annotations Kiali's actions change (injection labels, restarts, sidecar annotations). */
const CORE_PATCH = ["namespaces", "pods", "replicationcontrollers", "services"];
const APPS = ["daemonsets", "deployments", "replicasets", "statefulsets"];
const BATCH = ["cronjobs", "jobs"];

export function kialiClusterRoleRules(viewOnly: boolean): Rule[] {
  const readOrPatch = (extra: boolean) => (extra ? [...READ, "patch"] : [...READ]);
  const rules: Rule[] = viewOnly
    ? [
        { apiGroups: [""], resources: CORE_READ, verbs: [...READ] },
        { apiGroups: ["apps"], resources: APPS, verbs: [...READ] },
        { apiGroups: ["batch"], resources: BATCH, verbs: [...READ] },
        { apiGroups: [...ISTIO_GROUPS], resources: ["*"], verbs: [...READ] },
      ]
    : [
        { apiGroups: [""], resources: CORE_READ.filter((r) => !CORE_PATCH.includes(r)), verbs: [...READ] },
        { apiGroups: [""], resources: CORE_PATCH, verbs: readOrPatch(true) },
        { apiGroups: ["apps"], resources: APPS, verbs: readOrPatch(true) },
        { apiGroups: ["batch"], resources: BATCH, verbs: readOrPatch(true) },
        { apiGroups: [...ISTIO_GROUPS], resources: ["*"], verbs: [...READ, ...ISTIO_WRITE] },
      ];
  return [
    ...rules,
    // Envoy's admin API (a workload's Envoy tab) and istiod's debug endpoints (proxy status,
    // per revision) are reached by port-forward; Kiali's own documented viewer role has it.
    { apiGroups: [""], resources: ["pods/portforward"], verbs: ["create"] },
    // revision tags: the tag webhooks (istio-revision-tag-<tag>) say which istiod a tag points at
    { apiGroups: ["admissionregistration.k8s.io"], resources: ["mutatingwebhookconfigurations"], verbs: [...READ] },
    // token login: Kiali validates the token a user pastes
    { apiGroups: ["authentication.k8s.io"], resources: ["tokenreviews"], verbs: ["create"] },
  ];
}
