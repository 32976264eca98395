// The outbound traffic builders (ServiceEntry, egress-gateway route, Sidecar scope) and the
// config checks of their keys.
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../config/index.js";
import { isCidr } from "../../../components/istio/config.js";
import { egressGatewayRoute, externalServiceObjects, serviceEntry, sidecarScopes } from "../../../components/istio/egress.js";
import { problems } from "../config-problems.js";

const ZIPKIN = "jaeger-collector.observability.svc.cluster.local";
const rawIstio = (istio: Record<string, unknown> = {}) => ({
  kubernetes: { context: "x" },
  logging: { enabled: false },
  grafana: { enabled: false },
  kiali: { enabled: false },
  jaeger: { kafkaPassword: "test-kafka-password", cassandraPassword: "test-cassandra-password" },
  istio: { revisions: [{ name: "1-30", version: "1.30" }], tags: { stable: "1-30" }, namespaces: { apps: "stable", shop: "stable" }, ...istio },
});
const cfg = (istio: Record<string, unknown> = {}) => parseConfig("dev", rawIstio(istio), { istio: ["1.30"] }).istio;

const httpbin = { name: "httpbin", hosts: ["httpbin.example.com"], ports: [{ number: 80, protocol: "HTTP" }] };
const payments = { name: "payments-api", hosts: ["api.payments.example.com"], ports: [{ number: 443, protocol: "HTTPS" }], viaEgressGateway: true };

describe("ServiceEntry", () => {
  it("renders hosts, named ports, location and resolution in istio-system", () => {
    const istio = cfg({ externalServices: [httpbin] });
    const se = serviceEntry(istio.externalServices[0]!, { istio, instance: "istio", clusterDomain: "cluster.local" });
    expect(se).toEqual({
      apiVersion: "networking.istio.io/v1",
      kind: "ServiceEntry",
      metadata: { name: "httpbin", namespace: "istio-system", labels: { "app.kubernetes.io/name": "istio", "app.kubernetes.io/instance": "istio", "app.kubernetes.io/part-of": "observability-stack", "app.kubernetes.io/component": "external-service" } },
      spec: { hosts: ["httpbin.example.com"], ports: [{ number: 80, protocol: "HTTP", name: "http-80" }], location: "MESH_EXTERNAL", resolution: "DNS" },
    });
  });

  it("carries exportTo, endpoints, addresses and a port's own name, in the configured namespace", () => {
    const istio = cfg({
      externalServicesNamespace: "shop",
      externalServices: [{ name: "db", hosts: ["db.internal.example"], addresses: ["10.20.0.0/16"], ports: [{ number: 5432, protocol: "TCP", name: "postgres" }], resolution: "STATIC", endpoints: ["10.20.1.5", "fd00::5"], location: "MESH_INTERNAL", exportTo: [".", "apps"] }],
    });
    const se = serviceEntry(istio.externalServices[0]!, { istio, instance: "istio", clusterDomain: "cluster.local" });
    expect(se.metadata.namespace).toBe("shop");
    expect(se.spec).toEqual({
      hosts: ["db.internal.example"],
      addresses: ["10.20.0.0/16"],
      ports: [{ number: 5432, protocol: "TCP", name: "postgres" }],
      location: "MESH_INTERNAL",
      resolution: "STATIC",
      endpoints: [{ address: "10.20.1.5" }, { address: "fd00::5" }],
      exportTo: [".", "apps"],
    });
  });
});

describe("egress-gateway route (Istio's egress-gateway task)", () => {
  const route = (svc: Record<string, unknown>, clusterDomain = "cluster.local") => {
    const istio = cfg({ gateways: { egress: true }, externalServices: [svc] });
    const objs = egressGatewayRoute(istio.externalServices[0]!, { istio, instance: "istio", clusterDomain });
    return Object.fromEntries(objs.map((o) => [o.kind, o as any]));
  };

  it("HTTPS: a TLS passthrough server on the gateway's 443, SNI routes mesh -> gateway subset -> service", () => {
    const { Gateway, DestinationRule, VirtualService } = route(payments);
    expect(Gateway.metadata).toMatchObject({ name: "payments-api-egress", namespace: "istio-system" });
    expect(Gateway.spec).toEqual({ selector: { istio: "egressgateway" }, servers: [{ port: { number: 443, name: "tls-payments-api", protocol: "TLS" }, hosts: ["api.payments.example.com"], tls: { mode: "PASSTHROUGH" } }] });
    expect(DestinationRule.spec).toEqual({ host: "istio-egressgateway.istio-system.svc.cluster.local", subsets: [{ name: "payments-api" }] });
    expect(VirtualService.spec).toEqual({
      hosts: ["api.payments.example.com"],
      gateways: ["mesh", "payments-api-egress"],
      tls: [
        { match: [{ gateways: ["mesh"], port: 443, sniHosts: ["api.payments.example.com"] }], route: [{ destination: { host: "istio-egressgateway.istio-system.svc.cluster.local", subset: "payments-api", port: { number: 443 } }, weight: 100 }] },
        { match: [{ gateways: ["payments-api-egress"], port: 443, sniHosts: ["api.payments.example.com"] }], route: [{ destination: { host: "api.payments.example.com", port: { number: 443 } }, weight: 100 }] },
      ],
    });
  });

  it("HTTP on a non-standard port enters the gateway on 80 and leaves for the service's own port", () => {
    const { Gateway, VirtualService } = route({ name: "legacy", hosts: ["legacy.example.com"], ports: [{ number: 8080, protocol: "HTTP" }], viaEgressGateway: true });
    expect(Gateway.spec.servers).toEqual([{ port: { number: 80, name: "http-legacy", protocol: "HTTP" }, hosts: ["legacy.example.com"] }]);
    expect(VirtualService.spec.tls).toBeUndefined();
    expect(VirtualService.spec.http).toEqual([
      { match: [{ gateways: ["mesh"], port: 8080 }], route: [{ destination: { host: "istio-egressgateway.istio-system.svc.cluster.local", subset: "legacy", port: { number: 80 } }, weight: 100 }] },
      { match: [{ gateways: ["legacy-egress"], port: 80 }], route: [{ destination: { host: "legacy.example.com", port: { number: 8080 } }, weight: 100 }] },
    ]);
  });

  it("names the gateway's Service with the cluster domain and passes exportTo on", () => {
    const { DestinationRule, VirtualService } = route({ ...payments, exportTo: ["istio-system", "apps"] }, "corp.internal");
    expect(DestinationRule.spec.host).toBe("istio-egressgateway.istio-system.svc.corp.internal");
    expect(DestinationRule.spec.exportTo).toEqual(["istio-system", "apps"]);
    expect(VirtualService.spec.exportTo).toEqual(["istio-system", "apps"]);
  });

  it("only services with viaEgressGateway get a route; objects come in config order", () => {
    const istio = cfg({ gateways: { egress: true }, externalServices: [httpbin, payments] });
    const objs = externalServiceObjects({ istio, instance: "istio", clusterDomain: "cluster.local" });
    expect(objs.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(["ServiceEntry/httpbin", "ServiceEntry/payments-api", "Gateway/payments-api-egress", "DestinationRule/payments-api-egress", "VirtualService/payments-api-egress"]);
  });
});

describe("Sidecar scope", () => {
  const scopes = (istio: Record<string, unknown>) => sidecarScopes({ istio: cfg(istio), instance: "istio", observabilityNamespace: "observability", zipkinHost: ZIPKIN });

  it("is off by default", () => {
    expect(scopes({})).toEqual([]);
  });

  it("puts a default Sidecar in each injected namespace: itself, istio-system, the Jaeger collector, and its extra hosts", () => {
    const objs = scopes({ sidecarScope: { enabled: true, extraHosts: { shop: ["apps/catalog.apps.svc.cluster.local", "istio-system/*"] } } });
    expect(objs.map((o) => `${o.metadata.namespace}/${o.kind}/${o.metadata.name}`)).toEqual(["apps/Sidecar/default", "shop/Sidecar/default"]);
    expect((objs[0] as any).spec).toEqual({ egress: [{ hosts: ["./*", "istio-system/*", `observability/${ZIPKIN}`] }] });
    // extra hosts are added once, after the shared ones
    expect((objs[1] as any).spec.egress[0].hosts).toEqual(["./*", "istio-system/*", `observability/${ZIPKIN}`, "apps/catalog.apps.svc.cluster.local"]);
    expect(objs[0]!.apiVersion).toBe("networking.istio.io/v1");
  });

  it("imports the ServiceEntries' namespace when they are not kept in istio-system", () => {
    const objs = scopes({ sidecarScope: { enabled: true }, externalServicesNamespace: "shop", externalServices: [httpbin] });
    expect((objs[0] as any).spec.egress[0].hosts).toEqual(["./*", "istio-system/*", `observability/${ZIPKIN}`, "shop/*"]);
  });
});

describe("outbound config: bad input names key, value and what is allowed", () => {
  const istioProblems = (istio: Record<string, unknown>) => problems(rawIstio(istio));

  it("defaults: ALLOW_ANY, no external services, no bypass, no Sidecar scope", () => {
    const i = cfg();
    expect(i.outboundTrafficPolicy).toBe("ALLOW_ANY");
    expect(i.externalServices).toEqual([]);
    expect(i.externalServicesNamespace).toBe("istio-system");
    expect(i.bypassOutboundIPRanges).toEqual([]);
    expect(i.sidecarScope).toEqual({ enabled: false, extraHosts: {} });
    const svc = cfg({ externalServices: [httpbin] }).externalServices[0]!;
    expect(svc).toMatchObject({ resolution: "DNS", location: "MESH_EXTERNAL", viaEgressGateway: false, endpoints: [], addresses: [] });
    expect(svc.exportTo).toBeUndefined();
  });

  it("a host with a scheme", () => {
    expect(istioProblems({ externalServices: [{ ...httpbin, hosts: ["https://api.example.com"] }] })).toEqual([
      'obs:istio.externalServices[0].hosts[0] = "https://api.example.com": a host name such as api.example.com or *.example.com (lowercase, no scheme, port or path)',
    ]);
  });

  it("a port without protocol", () => {
    expect(istioProblems({ externalServices: [{ ...httpbin, ports: [{ number: 443 }] }] })).toEqual(["obs:istio.externalServices[0].ports[0].protocol = undefined: required: one of HTTP, HTTPS, HTTP2, GRPC, TLS, TCP, MONGO"]);
  });

  it("an unknown protocol", () => {
    expect(istioProblems({ externalServices: [{ ...httpbin, ports: [{ number: 443, protocol: "QUIC" }] }] })).toEqual(['obs:istio.externalServices[0].ports[0].protocol = "QUIC": one of HTTP, HTTPS, HTTP2, GRPC, TLS, TCP, MONGO']);
  });

  it("viaEgressGateway while the egress gateway is off", () => {
    expect(istioProblems({ outboundTrafficPolicy: "REGISTRY_ONLY", externalServices: [payments] })).toEqual([
      "obs:istio.externalServices[0].viaEgressGateway = true: false while obs:istio.gateways.egress is false (turn the egress gateway on, or call the service directly)",
    ]);
    expect(istioProblems({ gateways: { egress: true }, externalServices: [payments] })).toEqual([]);
  });

  it.each([["10.0.0.0"], ["10.0.0.0/33"], ["300.1.0.0/16"], ["fd00::/129"], ["10.0.0.0/8,192.168.0.0/16"], ["example.com/24"]])("a bypass range that is not a CIDR: %s", (range) => {
    expect(istioProblems({ bypassOutboundIPRanges: ["192.168.0.0/16", range] })).toEqual([`obs:istio.bypassOutboundIPRanges[1] = ${JSON.stringify(range)}: a CIDR range, IPv4 (10.0.0.0/8) or IPv6 (fd00::/8)`]);
  });

  it("accepts IPv4 and IPv6 CIDRs", () => {
    expect(cfg({ bypassOutboundIPRanges: ["10.0.0.0/8", "169.254.169.254/32", "fd00::/8", "::1/128"] }).bypassOutboundIPRanges).toHaveLength(4);
    expect([isCidr("0.0.0.0/0"), isCidr("2001:db8::/32"), isCidr("10.0.0.0"), isCidr("10.0.0.0/x")]).toEqual([true, true, false, false]);
  });

  it("an unknown policy", () => {
    expect(istioProblems({ outboundTrafficPolicy: "DENY" })).toEqual(['obs:istio.outboundTrafficPolicy = "DENY": one of ALLOW_ANY, REGISTRY_ONLY']);
  });

  it("what Istio would refuse or mis-route in a service", () => {
    expect(
      istioProblems({
        externalServices: [
          { name: "wild", hosts: ["*.example.com"], ports: [{ number: 443, protocol: "TLS" }] },
          { name: "static", hosts: ["s.example.com"], ports: [{ number: 80, protocol: "HTTP" }], resolution: "STATIC" },
          { name: "tcp", hosts: ["a.example.com", "b.example.com"], ports: [{ number: 5432, protocol: "TCP" }, { number: 5432, protocol: "TCP" }] },
          { name: "wild", hosts: [], ports: [] },
        ],
      }),
    ).toEqual([
      'obs:istio.externalServices[0].resolution = "DNS": NONE or STATIC for wildcard hosts (*.example.com): DNS cannot resolve a wildcard',
      "obs:istio.externalServices[1].endpoints = []: at least one IP address with resolution STATIC",
      "obs:istio.externalServices[2].ports[1].number = 5432: a port number not listed twice",
      'obs:istio.externalServices[2].hosts = ["a.example.com","b.example.com"]: one host while the service has TCP port 5432, TCP port 5432 (plain TCP cannot tell hosts apart), or resolution NONE',
      'obs:istio.externalServices[3].name = "wild": a name not used by another external service',
      "obs:istio.externalServices[3].hosts = []: at least one host",
      "obs:istio.externalServices[3].ports = []: at least one port ({number, protocol})",
    ]);
  });

  it("what the egress-gateway route cannot carry", () => {
    expect(
      istioProblems({
        gateways: { egress: true },
        externalServices: [{ name: "grpc", hosts: ["a.example.com", "b.example.com"], ports: [{ number: 9000, protocol: "GRPC" }, { number: 443, protocol: "HTTPS" }, { number: 8443, protocol: "TLS" }], resolution: "NONE", exportTo: ["."], viaEgressGateway: true }],
        externalServicesNamespace: "apps",
      }),
    ).toEqual([
      'obs:istio.externalServices[0].resolution = "NONE": DNS or STATIC with viaEgressGateway (the gateway must find the service itself)',
      'obs:istio.externalServices[0].hosts = ["a.example.com","b.example.com"]: exactly one host, without wildcard, with viaEgressGateway (list one external service per host)',
      'obs:istio.externalServices[0].ports[0].protocol = "GRPC": one of HTTP, HTTPS, TLS with viaEgressGateway (the egress gateway\'s ports 80 and 443)',
      "obs:istio.externalServices[0].ports = [443,8443]: at most one HTTPS/TLS port with viaEgressGateway (they share the gateway's port 443)",
      'obs:istio.externalServices[0].exportTo = ["."]: a list that includes istio-system (or "*") with viaEgressGateway: the egress gateway runs there and must see the route',
    ]);
  });

  it("a namespace for the ServiceEntries that the stack does not create, and Sidecar hosts for a namespace without Sidecar", () => {
    expect(istioProblems({ externalServicesNamespace: "payments", sidecarScope: { enabled: true, extraHosts: { payments: ["apps/*"], apps: ["api.example.com"] } } })).toEqual([
      'obs:istio.sidecarScope.extraHosts.apps[0] = "api.example.com": a Sidecar egress host "<namespace>/<host>", e.g. payments/* or istio-system/api.example.com ("." is the namespace itself, "*" any namespace)',
    ]);
    expect(istioProblems({ externalServicesNamespace: "payments", sidecarScope: { enabled: true, extraHosts: { payments: ["apps/*"] } } })).toEqual([
      'obs:istio.externalServicesNamespace = "payments": istio-system or a namespace of obs:istio.namespaces (apps, shop)',
      'obs:istio.sidecarScope.extraHosts.payments = ["apps/*"]: a namespace of obs:istio.namespaces (apps, shop): only those get a Sidecar',
    ]);
    expect(istioProblems({ sidecarScope: { extraHosts: { apps: ["shop/*"] } } })).toEqual(["obs:istio.sidecarScope.enabled = false: true when obs:istio.sidecarScope.extraHosts is set (the hosts go into the Sidecars it creates)"]);
  });
});
