// The one label recipe of every object the stack creates (app.kubernetes.io/*), and the
// namespaces it shares. A selector is the immutable subset: name and instance.

/** The namespace of the Istio control plane (istioctl's default; the stack never moves it). */
export const ISTIO_NAMESPACE = "istio-system";

export const PART_OF = "observability-stack";

/** What a workload's selector matches: the app's name and the component instance (the Pulumi name). */
export function selectorLabels(app: string, instance: string): Record<string, string> {
  return { "app.kubernetes.io/name": app, "app.kubernetes.io/instance": instance };
}

/** Labels of an object and its pods: the selector, the stack, and the role the app plays in it. */
export function labels(app: string, instance: string, component?: string): Record<string, string> {
  return { ...selectorLabels(app, instance), "app.kubernetes.io/part-of": PART_OF, ...(component ? { "app.kubernetes.io/component": component } : {}) };
}

/** The label of objects the stack creates outside a component's recipe: its namespaces, the tag webhooks. */
export const MANAGED_BY_LABELS: Readonly<Record<string, string>> = { "app.kubernetes.io/managed-by": PART_OF };

/** Pod Security Standards levels (https://kubernetes.io/docs/concepts/security/pod-security-standards/). */
export type PodSecurityLevel = "restricted" | "baseline" | "privileged";

/**
 * A namespace's Pod Security admission labels: enforced, and the same level for audit and warn,
 * so a workload object that would break it is reported when applied, not only its pods refused.
 */
export function podSecurityLabels(level: PodSecurityLevel): Record<string, string> {
  return Object.fromEntries(["enforce", "audit", "warn"].map((mode) => [`pod-security.kubernetes.io/${mode}`, level]));
}
