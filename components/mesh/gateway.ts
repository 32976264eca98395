// A UI published through the Istio ingress gateway: a Gateway (HTTPS, the certificate from
// credentialName) and a VirtualService to the UI's Service, created only when its config says so.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { type ExposeConfig, gatewaySpec, type RouteInput, virtualServiceSpec } from "./expose.js";
import { serviceHost } from "../k8s/hosts.js";

export interface PublishArgs {
  /** Name of the Gateway and VirtualService, the UI's Service name, and the resource name prefix. */
  readonly name: string;
  readonly namespace: pulumi.Input<string>;
  /** The cluster's DNS domain (`obs:clusterDomain`): every in-cluster host is formed with it. */
  readonly clusterDomain: string;
  readonly labels: Record<string, string>;
  readonly config: ExposeConfig;
  readonly servicePort: number;
  /** The UI's Service: the VirtualService waits for it. */
  readonly service: pulumi.Resource;
  /** Labels of the ingress gateway pods (default `istio: ingressgateway`). */
  readonly gatewaySelector?: Record<string, string>;
  /** What the Istio objects wait for: the Istio CRDs. */
  readonly meshDependsOn?: pulumi.Input<pulumi.Resource>[];
  /** The VirtualService spec, when the UI needs more than one route to its Service. */
  readonly routes?: (i: RouteInput) => Record<string, unknown>;
  readonly parent: pulumi.Resource;
  /** Resource names (default: `${name}-gateway`, `${name}-route`). */
  readonly resourcePrefix?: string;
  /** The gateway server port is named `https-<portName>` (default: name). */
  readonly portName?: string;
}

export function publishThroughGateway(a: PublishArgs): { gateway: k8s.apiextensions.CustomResource; virtualService: k8s.apiextensions.CustomResource } | undefined {
  if (!a.config.expose) return undefined;
  const route = pulumi.output(a.namespace).apply(
    (ns): RouteInput => ({
      host: a.config.host,
      tlsSecretName: a.config.tlsSecretName,
      gatewaySelector: a.gatewaySelector ?? { istio: "ingressgateway" },
      gatewayRef: `${ns}/${a.name}`,
      serviceHost: serviceHost(a.name, ns, a.clusterDomain),
      servicePort: a.servicePort,
      portName: a.portName ?? a.name,
    }),
  );
  const metadata = { name: a.name, namespace: a.namespace, labels: a.labels };
  const prefix = a.resourcePrefix ?? a.name;
  const opts = { parent: a.parent, dependsOn: a.meshDependsOn ?? [] };
  const gateway = new k8s.apiextensions.CustomResource(`${prefix}-gateway`, { apiVersion: "networking.istio.io/v1", kind: "Gateway", metadata, spec: route.apply(gatewaySpec) }, opts);
  const virtualService = new k8s.apiextensions.CustomResource(
    `${prefix}-route`,
    { apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata, spec: route.apply(a.routes ?? virtualServiceSpec) },
    { ...opts, dependsOn: [...(a.meshDependsOn ?? []), a.service] },
  );
  return { gateway, virtualService };
}
