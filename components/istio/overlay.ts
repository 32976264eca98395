// Builds the IstioOperator overlay handed to `istioctl manifest generate` for one revision.
import type { IstioConfig, IstioProfile, RevisionConfig } from "./config.js";
import { envoyAccessLogFormat } from "../mesh/access-log.js";
import { ISTIO_NAMESPACE } from "../k8s/labels.js";
import type { KubeObject } from "../k8s/objects.js";

/** Name of the mesh's tracing extension provider, referenced by the Telemetry resource. */
export const TRACING_PROVIDER = "jaeger-zipkin";
export const ZIPKIN_PORT = 9411;
/** The egress gateway istioctl deploys (its Service, and the pods' `istio` label value). */
export const EGRESS_GATEWAY = { name: "istio-egressgateway", selector: { istio: "egressgateway" } } as const;
export const INGRESS_GATEWAY = { name: "istio-ingressgateway", selector: { istio: "ingressgateway" } } as const;
const GATEWAYS = [INGRESS_GATEWAY, EGRESS_GATEWAY] as const;

/** Whether istiod has an HPA (autoscaleMax above replicas): then the stack does not own its `replicas`. */
export const pilotAutoscaled = (istio: IstioConfig): boolean => istio.pilot.autoscaleMax > istio.pilot.replicas;

/**
 * More than one gateway replica: spread them over nodes. Preferred, not required: a rollout
 * surges up to 100 % (istioctl's strategy), which a hard rule would block on a small cluster.
 */
function gatewaySpread(replicas: number, selector: Record<string, string>): Record<string, unknown> {
  if (replicas < 2) return {};
  const term = (topologyKey: string, weight: number) => ({ weight, podAffinityTerm: { topologyKey, labelSelector: { matchLabels: selector } } });
  return { affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [term("kubernetes.io/hostname", 100), term("topology.kubernetes.io/zone", 50)] } } };
}

/** Pod Security `restricted` asks for a seccomp profile, which istioctl leaves out of istiod and the gateways. */
const RUNTIME_DEFAULT_SECCOMP = { type: "RuntimeDefault" } as const;
/** The gateways' pod security context: istioctl's own (the proxy's user 1337), with the seccomp profile. */
const GATEWAY_SECURITY_CONTEXT = { runAsUser: 1337, runAsGroup: 1337, runAsNonRoot: true, seccompProfile: RUNTIME_DEFAULT_SECCOMP };

function gatewayPod(gw: IstioConfig["gateways"], selector: Record<string, string>): Record<string, unknown> {
  return { replicaCount: gw.replicas, resources: gw.resources, securityContext: GATEWAY_SECURITY_CONTEXT, ...gatewaySpread(gw.replicas, selector) };
}

/**
 * A PodDisruptionBudget for each rendered gateway Deployment with more than one replica (istioctl
 * renders one for istiod only): a node drain then takes at most one gateway pod at a time.
 */
export function gatewayDisruptionBudgets(rendered: readonly KubeObject[]): KubeObject[] {
  return rendered
    .filter((o) => o.kind === "Deployment" && GATEWAYS.some((g) => g.name === o.metadata.name))
    .filter((d) => ((d.spec as { replicas?: number }).replicas ?? 1) > 1)
    .map((d) => ({
      apiVersion: "policy/v1",
      kind: "PodDisruptionBudget",
      metadata: { name: d.metadata.name, namespace: d.metadata.namespace, labels: { ...(d.metadata.labels ?? {}) } },
      spec: { maxUnavailable: 1, selector: { matchLabels: { ...(d.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels } } },
    }));
}

export interface OverlayInput {
  readonly istio: IstioConfig;
  readonly revision: RevisionConfig;
  /** Whether this revision renders the gateways (they are upgraded in place, by one revision). */
  readonly withGateways: boolean;
  /** host of the Jaeger collector's Zipkin service, e.g. jaeger-collector.observability.svc.cluster.local */
  readonly zipkinHost: string;
}

export function profileOf(istio: IstioConfig, revision: RevisionConfig): IstioProfile {
  return revision.profile ?? istio.profile;
}

export function buildOverlay(input: OverlayInput): Record<string, unknown> {
  const { istio, revision, withGateways, zipkinHost } = input;
  const pilot = istio.pilot;
  const autoscale = pilotAutoscaled(istio);
  const gw = istio.gateways;
  return {
    apiVersion: "install.istio.io/v1alpha1",
    kind: "IstioOperator",
    spec: {
      profile: profileOf(istio, revision),
      revision: revision.name,
      meshConfig: {
        ...(istio.accessLog ? { accessLogFile: "/dev/stdout", accessLogEncoding: "JSON", accessLogFormat: envoyAccessLogFormat() } : {}),
        enableTracing: true,
        extensionProviders: [{ name: TRACING_PROVIDER, zipkin: { service: zipkinHost, port: ZIPKIN_PORT } }],
        defaultConfig: { holdApplicationUntilProxyStarts: true },
        outboundTrafficPolicy: { mode: istio.outboundTrafficPolicy },
      },
      components: {
        pilot: {
          k8s: {
            // with the HPA on, istioctl renders no `replicas`: the HPA alone owns it, so an `up`
            // after it scaled neither conflicts with it nor resets the count (server-side apply)
            ...(autoscale ? {} : { replicaCount: pilot.replicas }),
            resources: pilot.resources,
            ...(autoscale ? { hpaSpec: { minReplicas: pilot.replicas, maxReplicas: pilot.autoscaleMax } } : {}),
          },
        },
        ingressGateways: [
          {
            name: INGRESS_GATEWAY.name,
            enabled: withGateways && gw.ingress,
            k8s: { ...gatewayPod(gw, INGRESS_GATEWAY.selector), service: { type: gw.serviceType } },
          },
        ],
        egressGateways: [{ name: EGRESS_GATEWAY.name, enabled: withGateways && gw.egress, k8s: gatewayPod(gw, EGRESS_GATEWAY.selector) }],
      },
      values: {
        // the one bypass of the sidecar (docs/outbound-traffic.md): those ranges are neither seen nor controlled
        global: { istioNamespace: ISTIO_NAMESPACE, ...(istio.bypassOutboundIPRanges.length ? { proxy: { excludeIPRanges: istio.bypassOutboundIPRanges.join(",") } } : {}) },
        pilot: { autoscaleEnabled: autoscale, autoscaleMin: pilot.replicas, autoscaleMax: pilot.autoscaleMax, seccompProfile: RUNTIME_DEFAULT_SECCOMP },
        ...(withGateways ? { gateways: { [INGRESS_GATEWAY.name]: { autoscaleEnabled: false }, [EGRESS_GATEWAY.name]: { autoscaleEnabled: false } } } : {}),
      },
    },
  };
}
