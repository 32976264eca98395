// Builds the IstioOperator overlay handed to `istioctl manifest generate` for one revision.
import type { IstioConfig, IstioProfile, RevisionConfig } from "./config.js";
import { envoyAccessLogFormat } from "../mesh/access-log.js";
import { ISTIO_NAMESPACE } from "../k8s/labels.js";

/** Name of the mesh's tracing extension provider, referenced by the Telemetry resource. */
export const TRACING_PROVIDER = "jaeger-zipkin";
export const ZIPKIN_PORT = 9411;
/** The egress gateway istioctl deploys (its Service, and the pods' `istio` label value). */
export const EGRESS_GATEWAY = { name: "istio-egressgateway", selector: { istio: "egressgateway" } } as const;

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
  const autoscale = pilot.autoscaleMax > pilot.replicas;
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
            replicaCount: pilot.replicas,
            resources: pilot.resources,
            ...(autoscale ? { hpaSpec: { minReplicas: pilot.replicas, maxReplicas: pilot.autoscaleMax } } : {}),
          },
        },
        ingressGateways: [
          {
            name: "istio-ingressgateway",
            enabled: withGateways && gw.ingress,
            k8s: { replicaCount: gw.replicas, service: { type: gw.serviceType } },
          },
        ],
        egressGateways: [{ name: EGRESS_GATEWAY.name, enabled: withGateways && gw.egress, k8s: { replicaCount: gw.replicas } }],
      },
      values: {
        // the one bypass of the sidecar (docs/outbound-traffic.md): those ranges are neither seen nor controlled
        global: { istioNamespace: ISTIO_NAMESPACE, ...(istio.bypassOutboundIPRanges.length ? { proxy: { excludeIPRanges: istio.bypassOutboundIPRanges.join(",") } } : {}) },
        pilot: { autoscaleEnabled: autoscale, autoscaleMin: pilot.replicas, autoscaleMax: pilot.autoscaleMax },
        ...(withGateways ? { gateways: { "istio-ingressgateway": { autoscaleEnabled: false }, [EGRESS_GATEWAY.name]: { autoscaleEnabled: false } } } : {}),
      },
    },
  };
}
