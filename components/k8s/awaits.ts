// When the Kubernetes provider's own wait on an object adds nothing the stack needs.
import * as pulumi from "@pulumi/pulumi";

export const SKIP_AWAIT = "pulumi.com/skipAwait";

interface ServiceSpecLike {
  type?: unknown;
  selector?: unknown;
  clusterIP?: unknown;
}

/**
 * The Kubernetes provider (4.25) awaits a Service until its Endpoints object has not changed
 * for 10 s. For a ClusterIP or NodePort Service that is all it checks (it does not require a
 * ready pod), so the wait is a fixed 10 s; the readiness of the pods behind it is what their
 * Deployment's or StatefulSet's own await checks, and whatever needs those pods depends on that
 * workload. A LoadBalancer Service keeps its await (its address comes from the cloud), as does a
 * Service whose type is not known while the program runs. Headless Services and Services
 * without a selector are not awaited by the provider anyway.
 */
export function serviceAwaitOnlySettles(spec: ServiceSpecLike | undefined): boolean {
  if (!spec || typeof spec !== "object" || pulumi.Output.isInstance(spec)) return false;
  const type = spec.type;
  if (type !== undefined && type !== "ClusterIP" && type !== "NodePort") return false;
  if (spec.clusterIP === "None") return false;
  return !!spec.selector;
}

/**
 * `metadata` with `pulumi.com/skipAwait: "true"` added. Only what is an Output is lifted, so a
 * name or namespace not known at preview (a namespace being created) stays a separate unknown.
 */
export function withSkipAwait(metadata: pulumi.Input<Record<string, unknown>> | undefined): pulumi.Input<Record<string, unknown>> {
  const add = (annotations: Record<string, unknown> | undefined) => ({ ...(annotations ?? {}), [SKIP_AWAIT]: "true" });
  if (pulumi.Output.isInstance(metadata) || metadata instanceof Promise) return pulumi.output(metadata).apply((m) => ({ ...m, annotations: add(m?.annotations as Record<string, unknown> | undefined) }));
  const m = (metadata ?? {}) as Record<string, unknown>;
  const annotations = m.annotations as pulumi.Input<Record<string, unknown>> | undefined;
  return { ...m, annotations: pulumi.Output.isInstance(annotations) || annotations instanceof Promise ? pulumi.output(annotations).apply(add) : add(annotations as Record<string, unknown> | undefined) };
}

/**
 * Stack transformation: every Service whose await only settles skips it. One stack-wide policy
 * rather than shaping in each component, because it is about the provider's await, not about a
 * component's objects. It runs in this process (no engine round trip per resource).
 */
export const skipSettleOnlyServiceAwaits: pulumi.ResourceTransformation = (args) => {
  if (args.type !== "kubernetes:core/v1:Service") return undefined;
  const props = args.props as { metadata?: pulumi.Input<Record<string, unknown>>; spec?: ServiceSpecLike };
  if (!serviceAwaitOnlySettles(props.spec)) return undefined;
  const annotations = (props.metadata as { annotations?: Record<string, unknown> } | undefined)?.annotations;
  if (!pulumi.Output.isInstance(props.metadata) && !pulumi.Output.isInstance(annotations) && annotations?.[SKIP_AWAIT] !== undefined) return undefined;
  return { props: { ...args.props, metadata: withSkipAwait(props.metadata) }, opts: args.opts };
};
