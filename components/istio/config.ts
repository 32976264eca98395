// The `obs:istio` section: schema (defaults live here), the checks that span its keys, and how
// a namespace's label resolves to a revision.
import { isIP } from "node:net";
import { bool, DNS_LABEL, dnsLabel, type Field, LABEL, type Issue, list, num, obj, oneOf, record, resources, str } from "../../lib/schema.js";
import { ISTIO_NAMESPACE } from "../k8s/labels.js";

export const ISTIO_PROFILES = ["default", "demo", "minimal", "empty"] as const;
export type IstioProfile = (typeof ISTIO_PROFILES)[number];

const revision = obj(
  {
    name: dnsLabel({ doc: "revision name, used in `istio.io/rev` and object names (e.g. `1-30`)" }),
    version: str({ doc: "Istio version of this revision's control plane; must have a pinned istioctl in tools/versions.json" }),
    profile: oneOf(ISTIO_PROFILES, { doc: "profile for this revision (default: `istio.profile`)", default: undefined as unknown as IstioProfile }),
  },
  { doc: "a control-plane revision", optional: false },
);

const HOST_PATTERN = new RegExp(`^(\\*\\.)?(${LABEL}\\.)*${LABEL}$`);
const HOST_DOC = "a host name such as api.example.com or *.example.com (lowercase, no scheme, port or path)";
const EGRESS_HOST_PATTERN = new RegExp(`^(\\.|\\*|${LABEL})/(\\*|(\\*\\.)?(${LABEL}\\.)*${LABEL})$`);
const EGRESS_HOST_DOC = 'a Sidecar egress host "<namespace>/<host>", e.g. payments/* or istio-system/api.example.com ("." is the namespace itself, "*" any namespace)';

export const OUTBOUND_POLICIES = ["ALLOW_ANY", "REGISTRY_ONLY"] as const;
/** Protocols an external service's port may declare (Istio's names; it cannot sniff a port it only knows by number). */
export const PORT_PROTOCOLS = ["HTTP", "HTTPS", "HTTP2", "GRPC", "TLS", "TCP", "MONGO"] as const;
export type PortProtocol = (typeof PORT_PROTOCOLS)[number];

/** `a.b.c.d/n` or an IPv6 prefix: the form istio-iptables takes for excluded ranges. */
export function isCidr(s: string): boolean {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  const family = m ? isIP(m[1]!) : 0;
  return family !== 0 && Number(m![2]) <= (family === 4 ? 32 : 128);
}

/** A string that must also pass `test` (what a pattern says badly: CIDRs, IP addresses). */
function strWhere(doc: string, allowed: string, test: (s: string) => boolean): Field<string> {
  const base = str({ doc, patternDoc: allowed });
  return {
    ...base,
    parse(v, key, issues) {
      const s = base.parse(v, key, issues);
      if (s === undefined || test(s)) return s;
      issues.push({ key, value: v, allowed });
      return undefined;
    },
  };
}

const CIDR_DOC = "a CIDR range, IPv4 (10.0.0.0/8) or IPv6 (fd00::/8)";
const cidr = (doc: string) => strWhere(doc, CIDR_DOC, isCidr);

const externalPort = obj(
  {
    number: num({ doc: "port number", min: 1, max: 65535, integer: true }),
    protocol: oneOf(PORT_PROTOCOLS, { doc: "protocol, required (Istio routes an external port by what it declares)" }),
    name: dnsLabel({ doc: "port name (default: <protocol>-<number>, e.g. https-443)", default: undefined as unknown as string }),
  },
  { doc: "a port of the external service", optional: false },
);

const externalService = obj(
  {
    name: dnsLabel({ doc: "name of the ServiceEntry (and of its egress-gateway Gateway, VirtualService and DestinationRule)" }),
    hosts: list(str({ doc: "a host of the service", pattern: HOST_PATTERN, patternDoc: HOST_DOC }), { doc: "host names the service is called by" }),
    ports: list(externalPort, { doc: "ports, each with its protocol" }),
    resolution: oneOf(["DNS", "STATIC", "NONE"] as const, { doc: "how the sidecar finds the endpoints: DNS, STATIC (the listed endpoints) or NONE (the address the app connected to)", default: "DNS" }),
    location: oneOf(["MESH_EXTERNAL", "MESH_INTERNAL"] as const, { doc: "MESH_EXTERNAL for services outside the mesh (no mTLS to them)", default: "MESH_EXTERNAL" }),
    endpoints: list(strWhere("endpoint IP address", "an IPv4 or IPv6 address", (s) => isIP(s) !== 0), { doc: "endpoint IP addresses (resolution STATIC only, and required there)", default: [] }),
    addresses: list(strWhere("virtual IP or CIDR", `an IP address or ${CIDR_DOC}`, (s) => isIP(s) !== 0 || isCidr(s)), { doc: "virtual IPs or CIDRs of the service (what tells TCP services on the same port apart)", default: [] }),
    exportTo: list(str({ doc: "namespace", pattern: new RegExp(`^(\\.|\\*|~|${LABEL})$`), patternDoc: 'a namespace, "." (the objects\' own), "*" (all) or "~" (none)' }), { doc: "namespaces that see the service (default: all)", default: undefined as unknown as string[] }),
    viaEgressGateway: bool({ doc: "route it through the egress gateway (needs obs:istio.gateways.egress; HTTP and HTTPS/TLS ports only)", default: false }),
  },
  { doc: "an external service", optional: false },
);

export const istioSchema = obj(
  {
    profile: oneOf(ISTIO_PROFILES, { doc: "istioctl profile rendered for every revision", default: "default" }),
    revisions: list(revision, { doc: "control-plane revisions; the canary upgrade adds one beside the other", default: [] }),
    tags: record(dnsLabel({ doc: "revision this tag points at" }), { doc: "revision tags (`istioctl tag set` equivalent): tag -> revision", default: {}, keyDoc: "a DNS-1123 label", keyPattern: DNS_LABEL }),
    namespaces: record(dnsLabel({ doc: "tag or revision" }), { doc: "application namespaces and the tag or revision that injects them (`istio.io/rev`)", default: {}, keyDoc: "a DNS-1123 label", keyPattern: DNS_LABEL }),
    samplingPercent: num({ doc: "percentage of requests traced (Telemetry API randomSamplingPercentage); was obs:tracing.samplingPercent", default: 1, min: 0, max: 100 }),
    mtls: oneOf(["STRICT", "PERMISSIVE"] as const, { doc: "mesh-wide PeerAuthentication mode", default: "STRICT" }),
    pilot: obj(
      {
        replicas: num({ doc: "istiod replicas (the HPA minimum when autoscale is on)", default: 1, min: 1, max: 20, integer: true }),
        autoscaleMax: num({ doc: "HPA maximum; equal to replicas turns the HPA off", default: 1, min: 1, max: 50, integer: true }),
        resources: resources("istiod resources", { cpu: "500m", memory: "2Gi" }, { cpu: "2", memory: "4Gi" }),
      },
      { doc: "istiod" },
    ),
    gateways: obj(
      {
        ingress: bool({ doc: "deploy the ingress gateway", default: true }),
        egress: bool({ doc: "deploy the egress gateway", default: false }),
        serviceType: oneOf(["LoadBalancer", "NodePort", "ClusterIP"] as const, { doc: "Service type of the ingress gateway", default: "LoadBalancer" }),
        replicas: num({ doc: "gateway replicas", default: 1, min: 1, max: 50, integer: true }),
        resources: resources("gateway (istio-proxy) resources; the defaults are istioctl's", { cpu: "100m", memory: "128Mi" }, { cpu: "2", memory: "1Gi" }),
        revision: str({ doc: "revision whose gateways are deployed (in place); default: the first revision", default: "" }),
      },
      { doc: "gateways (upgraded in place, see README)" },
    ),
    accessLog: bool({ doc: "Envoy access log to /dev/stdout as JSON (the EFK pipeline relies on it)", default: true }),
    defaultRevision: str({ doc: "revision the `default` tag points at (what `istioctl tag set default` sets): its injector webhook istio-revision-tag-default (namespaces labelled istio.io/rev=default or istio-injection=enabled; istioctl's commands talk to this revision when given none) and its istiod validates Istio config without a revision label or labelled with a tag; default: obs:istio.tags.default, else the first revision", default: "" }),
    migration: obj(
      {
        batchSize: num({ doc: "workloads restarted at once when their namespace moves to another revision (the next batch waits for these rollouts)", default: 5, min: 1, max: 1000, integer: true }),
        pauseSeconds: num({ doc: "pause between two batches of restarts", default: 0, min: 0, max: 3600 }),
        rolloutTimeoutSeconds: num({ doc: "bound on each restarted workload's rollout; past it `up` stops with an error naming the workload", default: 600, min: 10, max: 7200, integer: true }),
      },
      { doc: "workload restarts of a canary step: Deployments, StatefulSets and DaemonSets running pods injected by another revision than their namespace's" },
    ),
    forceRemoveRevisions: list(dnsLabel({ doc: "revision name" }), { doc: "revisions that may be removed although pods or namespaces still use them (explicit override of the guard rail)", default: [] }),
    outboundTrafficPolicy: oneOf(OUTBOUND_POLICIES, { doc: "sidecars' calls to hosts outside the registry: ALLOW_ANY passes them unseen, REGISTRY_ONLY blocks them (docs/outbound-traffic.md)", default: "ALLOW_ANY" }),
    externalServices: list(externalService, { doc: "external services registered with ServiceEntry, so their traffic shows in metrics, access logs and traces", default: [] }),
    externalServicesNamespace: dnsLabel({ doc: "namespace of the ServiceEntries and their egress-gateway routes: istio-system or one of obs:istio.namespaces", default: ISTIO_NAMESPACE }),
    bypassOutboundIPRanges: list(cidr("range whose traffic bypasses the sidecar"), { doc: "CIDRs the sidecars do not intercept (values.global.proxy.excludeIPRanges): the exception, unseen by the mesh", default: [] }),
    sidecarScope: obj(
      {
        enabled: bool({ doc: "a default Sidecar in each namespace of obs:istio.namespaces: its own namespace, istio-system and the Jaeger collector", default: false }),
        extraHosts: record(list(str({ doc: "egress host", pattern: EGRESS_HOST_PATTERN, patternDoc: EGRESS_HOST_DOC }), { doc: "egress hosts" }), { doc: "more egress hosts per namespace: namespace -> [\"ns/host\"]", default: {}, keyDoc: "a namespace of obs:istio.namespaces", keyPattern: DNS_LABEL }),
      },
      { doc: "Sidecar scope: what each injected namespace's proxies are told about (cuts istiod's push size)" },
    ),
  },
  { doc: "Istio control plane" },
);

export type IstioConfig = typeof istioSchema extends Field<infer T> ? T : never;
export type RevisionConfig = IstioConfig["revisions"][number];

/** Checks that span keys of `obs:istio`; `pinnedVersions` are the Istio versions with a pinned istioctl. */
export function checkIstio(i: IstioConfig, pinnedVersions: readonly string[], issues: Issue[]): void {
  const revNames = i.revisions.map((r) => r.name);
  if (i.revisions.length === 0 && i.profile !== "empty") issues.push({ key: "obs:istio.revisions", value: [], allowed: "at least one revision ({name, version})" });
  i.revisions.forEach((r, idx) => {
    if (!pinnedVersions.includes(r.version)) issues.push({ key: `obs:istio.revisions[${idx}].version`, value: r.version, allowed: `an Istio version with a pinned istioctl: ${pinnedVersions.join(", ")}` });
    if (revNames.indexOf(r.name) !== idx) issues.push({ key: `obs:istio.revisions[${idx}].name`, value: r.name, allowed: "a name not used by another revision" });
    if (r.name === "default") issues.push({ key: `obs:istio.revisions[${idx}].name`, value: r.name, allowed: "a name other than 'default' (reserved for the default tag)" });
  });
  for (const [tag, rev] of Object.entries(i.tags)) {
    if (!revNames.includes(rev)) issues.push({ key: `obs:istio.tags.${tag}`, value: rev, allowed: `a revision in obs:istio.revisions (${revNames.join(", ") || "none"})` });
    if (revNames.includes(tag)) issues.push({ key: `obs:istio.tags.${tag}`, value: rev, allowed: "a tag name that is not also a revision name" });
  }
  const targets = [...revNames, ...Object.keys(revisionTags(i))];
  for (const [ns, target] of Object.entries(i.namespaces)) {
    if (!targets.includes(target)) issues.push({ key: `obs:istio.namespaces.${ns}`, value: target, allowed: `a revision or tag (${targets.join(", ") || "none"})` });
    if (ns === ISTIO_NAMESPACE || ns === "kube-system") issues.push({ key: `obs:istio.namespaces.${ns}`, value: target, allowed: "an application namespace (istio-system and kube-system are never injected)" });
  }
  if (i.defaultRevision && !revNames.includes(i.defaultRevision)) issues.push({ key: "obs:istio.defaultRevision", value: i.defaultRevision, allowed: `a revision in obs:istio.revisions (${revNames.join(", ") || "none"}), or empty for the first revision` });
  if (i.defaultRevision && i.tags.default && i.tags.default !== i.defaultRevision) issues.push({ key: "obs:istio.tags.default", value: i.tags.default, allowed: `the revision of obs:istio.defaultRevision (${i.defaultRevision}), or no tag 'default' (both name the default tag's revision)` });
  if (i.gateways.revision && !revNames.includes(i.gateways.revision)) issues.push({ key: "obs:istio.gateways.revision", value: i.gateways.revision, allowed: `a revision in obs:istio.revisions (${revNames.join(", ")})` });
  if (i.pilot.autoscaleMax < i.pilot.replicas) issues.push({ key: "obs:istio.pilot.autoscaleMax", value: i.pilot.autoscaleMax, allowed: `>= obs:istio.pilot.replicas (${i.pilot.replicas})` });
  checkOutbound(i, issues);
  checkSidecarScope(i, issues);
}

export type ExternalServiceConfig = IstioConfig["externalServices"][number];

/** Ports the egress gateway route carries: HTTP through the gateway's port 80, HTTPS/TLS (SNI passthrough) through 443. */
export const GATEWAY_ROUTED_PROTOCOLS: readonly PortProtocol[] = ["HTTP", "HTTPS", "TLS"];
/** Protocols the egress gateway passes through by SNI (its port 443). */
export const isTlsProtocol = (p: PortProtocol) => p === "HTTPS" || p === "TLS";

/** What Istio would refuse or silently mis-route in the outbound keys, each named by its key. */
function checkOutbound(i: IstioConfig, issues: Issue[]): void {
  const nsNames = Object.keys(i.namespaces);
  const esNs = i.externalServicesNamespace;
  if (esNs !== ISTIO_NAMESPACE && !nsNames.includes(esNs)) issues.push({ key: "obs:istio.externalServicesNamespace", value: esNs, allowed: `istio-system or a namespace of obs:istio.namespaces (${nsNames.join(", ") || "none"})` });
  const names = i.externalServices.map((s) => s.name);
  i.externalServices.forEach((svc, idx) => {
    const key = `obs:istio.externalServices[${idx}]`;
    if (names.indexOf(svc.name) !== idx) issues.push({ key: `${key}.name`, value: svc.name, allowed: "a name not used by another external service" });
    if (svc.hosts.length === 0) issues.push({ key: `${key}.hosts`, value: [], allowed: "at least one host" });
    if (svc.ports.length === 0) issues.push({ key: `${key}.ports`, value: [], allowed: "at least one port ({number, protocol})" });
    const portNames = svc.ports.map(externalPortName);
    svc.ports.forEach((p, j) => {
      if (svc.ports.findIndex((q) => q.number === p.number) !== j) issues.push({ key: `${key}.ports[${j}].number`, value: p.number, allowed: "a port number not listed twice" });
      else if (portNames.indexOf(portNames[j]!) !== j) issues.push({ key: `${key}.ports[${j}].name`, value: portNames[j], allowed: "a port name not used by another port of this service" });
    });
    const wildcards = svc.hosts.filter((h) => h.startsWith("*."));
    if (svc.resolution === "DNS" && wildcards.length) issues.push({ key: `${key}.resolution`, value: "DNS", allowed: `NONE or STATIC for wildcard hosts (${wildcards.join(", ")}): DNS cannot resolve a wildcard` });
    if (svc.resolution === "STATIC" && svc.endpoints.length === 0) issues.push({ key: `${key}.endpoints`, value: [], allowed: "at least one IP address with resolution STATIC" });
    if (svc.resolution !== "STATIC" && svc.endpoints.length) issues.push({ key: `${key}.endpoints`, value: svc.endpoints, allowed: `none with resolution ${svc.resolution} (endpoints are for STATIC)` });
    const opaque = svc.ports.filter((p) => p.protocol !== "HTTP" && p.protocol !== "HTTP2" && p.protocol !== "GRPC" && !isTlsProtocol(p.protocol));
    if (svc.resolution !== "NONE" && svc.hosts.length > 1 && opaque.length) issues.push({ key: `${key}.hosts`, value: svc.hosts, allowed: `one host while the service has ${opaque.map((p) => `${p.protocol} port ${p.number}`).join(", ")} (plain TCP cannot tell hosts apart), or resolution NONE` });
    const exportTo = svc.exportTo ?? [];
    if ((exportTo.includes("~") || exportTo.includes("*")) && exportTo.length > 1) issues.push({ key: `${key}.exportTo`, value: exportTo, allowed: '"*" or "~" alone, or a list of namespaces and "."' });
    if (svc.viaEgressGateway) checkGatewayRoute(i, svc, key, issues);
  });
}

function checkGatewayRoute(i: IstioConfig, svc: ExternalServiceConfig, key: string, issues: Issue[]): void {
  if (!i.gateways.egress) issues.push({ key: `${key}.viaEgressGateway`, value: true, allowed: "false while obs:istio.gateways.egress is false (turn the egress gateway on, or call the service directly)" });
  if (svc.resolution === "NONE") issues.push({ key: `${key}.resolution`, value: "NONE", allowed: "DNS or STATIC with viaEgressGateway (the gateway must find the service itself)" });
  if (svc.hosts.length > 1 || svc.hosts.some((h) => h.startsWith("*."))) issues.push({ key: `${key}.hosts`, value: svc.hosts, allowed: "exactly one host, without wildcard, with viaEgressGateway (list one external service per host)" });
  if (svc.name.length > 56) issues.push({ key: `${key}.name`, value: svc.name, allowed: "at most 56 characters with viaEgressGateway (its routing objects are named <name>-egress)" });
  svc.ports.forEach((p, j) => {
    if (!GATEWAY_ROUTED_PROTOCOLS.includes(p.protocol)) issues.push({ key: `${key}.ports[${j}].protocol`, value: p.protocol, allowed: `one of ${GATEWAY_ROUTED_PROTOCOLS.join(", ")} with viaEgressGateway (the egress gateway's ports 80 and 443)` });
  });
  const http = svc.ports.filter((p) => p.protocol === "HTTP");
  const tls = svc.ports.filter((p) => isTlsProtocol(p.protocol));
  if (http.length > 1) issues.push({ key: `${key}.ports`, value: http.map((p) => p.number), allowed: "at most one HTTP port with viaEgressGateway (they share the gateway's port 80)" });
  if (tls.length > 1) issues.push({ key: `${key}.ports`, value: tls.map((p) => p.number), allowed: "at most one HTTPS/TLS port with viaEgressGateway (they share the gateway's port 443)" });
  const exportTo = svc.exportTo;
  const gatewaySees = !exportTo || exportTo.includes("*") || exportTo.includes(ISTIO_NAMESPACE) || (exportTo.includes(".") && i.externalServicesNamespace === ISTIO_NAMESPACE);
  if (!gatewaySees) issues.push({ key: `${key}.exportTo`, value: exportTo, allowed: "a list that includes istio-system (or \"*\") with viaEgressGateway: the egress gateway runs there and must see the route" });
}

/** A port's name in the rendered objects: its own, or `<protocol>-<number>`. */
export function externalPortName(p: ExternalServiceConfig["ports"][number]): string {
  return p.name ?? `${p.protocol.toLowerCase()}-${p.number}`;
}

/** Namespaces that get a Sidecar scope, and each one's extra hosts. */
export function checkSidecarScope(i: IstioConfig, issues: Issue[]): void {
  const nsNames = Object.keys(i.namespaces);
  for (const ns of Object.keys(i.sidecarScope.extraHosts)) {
    if (!nsNames.includes(ns)) issues.push({ key: `obs:istio.sidecarScope.extraHosts.${ns}`, value: i.sidecarScope.extraHosts[ns], allowed: `a namespace of obs:istio.namespaces (${nsNames.join(", ") || "none"}): only those get a Sidecar` });
  }
  if (Object.keys(i.sidecarScope.extraHosts).length && !i.sidecarScope.enabled) issues.push({ key: "obs:istio.sidecarScope.enabled", value: false, allowed: "true when obs:istio.sidecarScope.extraHosts is set (the hosts go into the Sidecars it creates)" });
}

/** The revision a namespace label resolves to, through tags (the default tag included). */
export function effectiveRevision(istio: IstioConfig, target: string): string | undefined {
  if (istio.revisions.some((r) => r.name === target)) return target;
  return revisionTags(istio)[target];
}

/**
 * Every tag the stack sets, tag -> revision: `obs:istio.tags` and the `default` tag, which always
 * exists while a revision does (what `istioctl tag set default` sets; istioctl reads it to pick the
 * revision its commands talk to when given none).
 */
export function revisionTags(istio: IstioConfig): Record<string, string> {
  const def = defaultRevision(istio);
  return { ...istio.tags, ...(def ? { default: def } : {}) };
}

/** The revision the `default` tag points at: `obs:istio.defaultRevision`, else `obs:istio.tags.default`, else the first revision. */
export function defaultRevision(istio: IstioConfig): string | undefined {
  return istio.defaultRevision || istio.tags.default || istio.revisions[0]?.name;
}
