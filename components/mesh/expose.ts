// Publishing a UI of the stack through the Istio ingress gateway: the config fields, their
// checks and the Gateway/VirtualService specs, shared by every UI that can be exposed.
import { bool, DNS_SUBDOMAIN, type Issue, str } from "../../lib/schema.js";

export const HOST = /^(\*\.)?([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

/** The `expose`, `host` and `tlsSecretName` fields of a UI's config section. */
export function exposeFields(ui: string, defaultSecret: string) {
  return {
    expose: bool({ doc: `publish ${ui} through the Istio ingress gateway (HTTPS); otherwise it is reachable inside the cluster only`, default: false }),
    host: str({ doc: `host name ${ui} is served at; required when expose`, default: "" }),
    tlsSecretName: str({ doc: "TLS Secret in the ingress gateway's namespace (Gateway credentialName)", default: defaultSecret }),
  };
}

export interface ExposeConfig {
  readonly expose: boolean;
  readonly host: string;
  readonly tlsSecretName: string;
}

/** Pushes one issue per problem of an expose config; `key` is the section's key (e.g. `obs:grafana`). */
export function checkExpose(c: ExposeConfig, key: string, issues: Issue[]): void {
  const ui = key.split(".").pop()!.replace(/^obs:/, "");
  if (c.expose && !c.host) issues.push({ key: `${key}.host`, value: c.host, allowed: `a host name (required when ${key}.expose is true)` });
  if (c.host && !HOST.test(c.host)) issues.push({ key: `${key}.host`, value: c.host, allowed: `a DNS host name such as ${ui}.example.com` });
  if (c.expose && !DNS_SUBDOMAIN.test(c.tlsSecretName)) issues.push({ key: `${key}.tlsSecretName`, value: c.tlsSecretName, allowed: "a Secret name (DNS-1123 subdomain) in the ingress gateway's namespace" });
}

export interface RouteInput {
  readonly host: string;
  readonly tlsSecretName: string;
  /** Labels of the ingress gateway pods. */
  readonly gatewaySelector: Record<string, string>;
  /** `<namespace>/<name>` of the Gateway, as the VirtualService refers to it. */
  readonly gatewayRef: string;
  /** The UI Service's cluster DNS name and port. */
  readonly serviceHost: string;
  readonly servicePort: number;
  /** Names the gateway's server port (`https-<portName>`). */
  readonly portName: string;
}

/** networking.istio.io/v1 Gateway spec: HTTPS on 443 with the certificate from credentialName. */
export function gatewaySpec(i: RouteInput): Record<string, unknown> {
  return {
    selector: i.gatewaySelector,
    servers: [{ port: { number: 443, name: `https-${i.portName}`, protocol: "HTTPS" }, hosts: [i.host], tls: { mode: "SIMPLE", credentialName: i.tlsSecretName } }],
  };
}

export function virtualServiceSpec(i: RouteInput): Record<string, unknown> {
  return { hosts: [i.host], gateways: [i.gatewayRef], http: [{ route: [{ destination: { host: i.serviceHost, port: { number: i.servicePort } } }] }] };
}
