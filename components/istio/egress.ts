// Outbound traffic objects (pure): a ServiceEntry per external service, the egress-gateway route
// of Istio's egress-gateway task where asked (Gateway, DestinationRule, VirtualService), and the
// default Sidecar that scopes each injected namespace's proxies.
import type { ExternalServiceConfig, IstioConfig } from "./config.js";
import { externalPortName, isTlsProtocol } from "./config.js";
import { EGRESS_GATEWAY } from "./overlay.js";
import type { KubeObject } from "../k8s/objects.js";
import { ISTIO_NAMESPACE, labels } from "../k8s/labels.js";
import { serviceHost } from "../k8s/hosts.js";

const NETWORKING = "networking.istio.io/v1";
/** The egress gateway's Service ports a route enters by: plain HTTP, and TLS passed through by SNI. */
export const EGRESS_GATEWAY_PORTS = { http: 80, tls: 443 } as const;

export interface EgressInput {
  readonly istio: IstioConfig;
  /** Pulumi name of the control plane (the objects' instance label). */
  readonly instance: string;
  /** `obs:clusterDomain`, for the egress gateway's Service host. */
  readonly clusterDomain: string;
}

type Port = ExternalServiceConfig["ports"][number];
const meta = (name: string, namespace: string, instance: string, component: string) => ({ name, namespace, labels: labels("istio", instance, component) });
const exportTo = (svc: ExternalServiceConfig) => (svc.exportTo ? { exportTo: [...svc.exportTo] } : {});

export function serviceEntry(svc: ExternalServiceConfig, input: EgressInput): KubeObject {
  return {
    apiVersion: NETWORKING,
    kind: "ServiceEntry",
    metadata: meta(svc.name, input.istio.externalServicesNamespace, input.instance, "external-service"),
    spec: {
      hosts: [...svc.hosts],
      ...(svc.addresses.length ? { addresses: [...svc.addresses] } : {}),
      ports: svc.ports.map((p) => ({ number: p.number, protocol: p.protocol, name: externalPortName(p) })),
      location: svc.location,
      resolution: svc.resolution,
      ...(svc.endpoints.length ? { endpoints: svc.endpoints.map((address) => ({ address })) } : {}),
      ...exportTo(svc),
    },
  };
}

/**
 * Sidecar -> egress gateway -> service, as Istio's egress-gateway task routes it: the Gateway opens
 * the gateway's port 80 (HTTP) and 443 (TLS passthrough) for the hosts, the DestinationRule gives the
 * gateway a subset per service, the VirtualService sends mesh traffic to that subset and gateway
 * traffic on to the service's own port.
 */
export function egressGatewayRoute(svc: ExternalServiceConfig, input: EgressInput): KubeObject[] {
  const ns = input.istio.externalServicesNamespace;
  const name = `${svc.name}-egress`;
  const gatewayHost = serviceHost(EGRESS_GATEWAY.name, ISTIO_NAMESPACE, input.clusterDomain);
  const http = svc.ports.find((p) => p.protocol === "HTTP");
  const tls = svc.ports.find((p) => isTlsProtocol(p.protocol));
  const servers = [
    ...(http ? [{ port: { number: EGRESS_GATEWAY_PORTS.http, name: `http-${svc.name}`, protocol: "HTTP" }, hosts: [...svc.hosts] }] : []),
    ...(tls ? [{ port: { number: EGRESS_GATEWAY_PORTS.tls, name: `tls-${svc.name}`, protocol: "TLS" }, hosts: [...svc.hosts], tls: { mode: "PASSTHROUGH" } }] : []),
  ];
  const toGateway = (port: number) => ({ destination: { host: gatewayHost, subset: svc.name, port: { number: port } }, weight: 100 });
  const toService = (p: Port) => ({ destination: { host: svc.hosts[0]!, port: { number: p.number } }, weight: 100 });
  const sni = () => ({ sniHosts: [...svc.hosts] });
  return [
    { apiVersion: NETWORKING, kind: "Gateway", metadata: meta(name, ns, input.instance, "egress-route"), spec: { selector: { ...EGRESS_GATEWAY.selector }, servers } },
    { apiVersion: NETWORKING, kind: "DestinationRule", metadata: meta(name, ns, input.instance, "egress-route"), spec: { host: gatewayHost, subsets: [{ name: svc.name }], ...exportTo(svc) } },
    {
      apiVersion: NETWORKING,
      kind: "VirtualService",
      metadata: meta(name, ns, input.instance, "egress-route"),
      spec: {
        hosts: [...svc.hosts],
        gateways: ["mesh", name],
        ...(http
          ? {
              http: [
                { match: [{ gateways: ["mesh"], port: http.number }], route: [toGateway(EGRESS_GATEWAY_PORTS.http)] },
                { match: [{ gateways: [name], port: EGRESS_GATEWAY_PORTS.http }], route: [toService(http)] },
              ],
            }
          : {}),
        ...(tls
          ? {
              tls: [
                { match: [{ gateways: ["mesh"], port: tls.number, ...sni() }], route: [toGateway(EGRESS_GATEWAY_PORTS.tls)] },
                { match: [{ gateways: [name], port: EGRESS_GATEWAY_PORTS.tls, ...sni() }], route: [toService(tls)] },
              ],
            }
          : {}),
        ...exportTo(svc),
      },
    },
  ];
}

/** Every object of `obs:istio.externalServices`, in config order. */
export function externalServiceObjects(input: EgressInput): KubeObject[] {
  return input.istio.externalServices.flatMap((svc) => [serviceEntry(svc, input), ...(svc.viaEgressGateway ? egressGatewayRoute(svc, input) : [])]);
}

export interface SidecarScopeInput {
  readonly istio: IstioConfig;
  readonly instance: string;
  /** Namespace of the Jaeger collector. */
  readonly observabilityNamespace: string;
  /** The collector's Zipkin host, as the mesh config's tracing provider names it. */
  readonly zipkinHost: string;
}

/**
 * A default Sidecar per injected namespace: its own namespace, istio-system (istiod, the gateways,
 * the ServiceEntries kept there) and the one observability host every proxy sends to, the Jaeger
 * collector. Exactly that host, not `<ns>/*`: a proxy without the collector's cluster drops its
 * spans, while the rest of the observability namespace (Prometheus, Elasticsearch, Kafka...) is
 * nothing an application calls, and importing it would undo the push size the scope saves.
 */
export function sidecarScopes(input: SidecarScopeInput): KubeObject[] {
  const { istio } = input;
  if (!istio.sidecarScope.enabled) return [];
  const shared = ["./*", `${ISTIO_NAMESPACE}/*`, `${input.observabilityNamespace}/${input.zipkinHost}`];
  // ServiceEntries kept in an application namespace are seen only if that namespace is imported
  if (istio.externalServices.length && istio.externalServicesNamespace !== ISTIO_NAMESPACE) shared.push(`${istio.externalServicesNamespace}/*`);
  return Object.keys(istio.namespaces).map((ns) => ({
    apiVersion: NETWORKING,
    kind: "Sidecar",
    metadata: meta("default", ns, input.instance, "sidecar-scope"),
    spec: { egress: [{ hosts: [...new Set([...shared, ...(istio.sidecarScope.extraHosts[ns] ?? [])])] }] },
  }));
}
