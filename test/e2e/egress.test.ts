// Outbound traffic on the local stack: REGISTRY_ONLY, two external services (one through the
// egress gateway), a bypass range and Sidecar scoping, through the real engine, provider and API
// server (with the CRDs' schemas; the local cluster runs without admission webhooks, so istiod's
// own validation is not exercised here), then the pinned istioctl's analyzers on the live objects.
// External hosts are names only: nothing here resolves or calls them.
import { spawnSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import type { Stack } from "@pulumi/pulumi/automation/index.js";
import { pins, toolPath } from "../../lib/tools.js";
import { getJson, kubeconfigPath, kubectl, projectStack, stackWorkDir, stopwatch } from "./helpers.js";

const ISTIO_VERSION = "1.30";
const ZIPKIN = "observability/jaeger-collector.observability.svc.cluster.local";

type Config = Record<string, any>;
function outbound(c: Config): void {
  const istio = c["obs:istio"];
  istio.outboundTrafficPolicy = "REGISTRY_ONLY";
  istio.gateways = { ...istio.gateways, egress: true };
  istio.namespaces = { ...istio.namespaces, shop: "stable" };
  istio.externalServices = [
    { name: "catalog-api", hosts: ["catalog.example.com"], ports: [{ number: 80, protocol: "HTTP" }, { number: 443, protocol: "HTTPS" }] },
    { name: "payments-api", hosts: ["api.payments.example.com"], ports: [{ number: 443, protocol: "HTTPS" }], viaEgressGateway: true },
  ];
  istio.bypassOutboundIPRanges = ["169.254.169.254/32"];
  istio.sidecarScope = { enabled: true, extraHosts: { shop: ["demo/*"] } };
}

/** kind namespace/name of every object the outbound config adds. */
const OUTBOUND_OBJECTS = [
  "ServiceEntry istio-system/catalog-api",
  "ServiceEntry istio-system/payments-api",
  "Gateway istio-system/payments-api-egress",
  "DestinationRule istio-system/payments-api-egress",
  "VirtualService istio-system/payments-api-egress",
  "Sidecar demo/default",
  "Sidecar shop/default",
];
const RESOURCE: Record<string, string> = { ServiceEntry: "serviceentries", Gateway: "gateways", DestinationRule: "destinationrules", VirtualService: "virtualservices", Sidecar: "sidecars" };
const get = (id: string) => {
  const [kind, ref] = id.split(" ");
  const [ns, name] = ref!.split("/");
  return getJson(["get", `${RESOURCE[kind!]}.networking.istio.io`, name!, "-n", ns!]);
};

/** istioctl names an object `Kind ns/name` (or, in older releases, `Kind name.ns`); both as `Kind ns/name`. */
const originOf = (origin = "") => origin.replace(/^(\w+) ([^/\s.]+)\.([^/\s]+)$/, "$1 $3/$2");

const { timings, timed } = stopwatch();

describe("local stack: outbound traffic (REGISTRY_ONLY, ServiceEntries, egress gateway, Sidecar scope)", () => {
  let stack: Stack | undefined;
  let destroyed = false;
  afterAll(async () => {
    console.log(`[e2e timings, s] ${JSON.stringify(timings)}`);
    // leave the shared e2e cluster as found, even when a test above failed
    if (stack && !destroyed) await stack.destroy().catch((e) => console.log(`[e2e] cleanup destroy failed: ${e}`));
  });

  it("an invalid ServiceEntry from config is refused at preview (and up) by the schema, nothing applied", async () => {
    const bad = await projectStack(
      "local",
      stackWorkDir("local", (c: Config) => {
        outbound(c);
        c["obs:istio"].externalServices[0].hosts = ["https://catalog.example.com"];
        c["obs:istio"].externalServices[1].ports = [{ number: 443 }];
      }),
    );
    const message = /obs:istio\.externalServices\[0\]\.hosts\[0\] = "https:\/\/catalog\.example\.com": expected a host name such as api\.example\.com or \*\.example\.com \(lowercase, no scheme, port or path\)\n\s+- obs:istio\.externalServices\[1\]\.ports\[0\]\.protocol = \(missing\): expected required: one of HTTP, HTTPS, HTTP2, GRPC, TLS, TCP, MONGO/;
    await expect(timed("bad preview", () => bad.preview())).rejects.toThrow(message);
    await expect(bad.up()).rejects.toThrow(message);
    // the engine records the stack itself; nothing else was registered
    expect(((await bad.exportStack()).deployment.resources ?? []).map((r: { type: string }) => r.type).filter((t: string) => t !== "pulumi:pulumi:Stack")).toEqual([]);
    expect(kubectl(["get", "namespace", "shop", "--ignore-not-found", "-o", "name"]).trim()).toBe("");
    expect(kubectl(["get", "serviceentries.networking.istio.io", "-A", "-o", "name"], { allowFail: true }).trim()).toBe("");
  });

  it("up applies REGISTRY_ONLY, the bypass range, the ServiceEntries, the egress route and a Sidecar per injected namespace", async () => {
    stack = await projectStack("local", stackWorkDir("local", outbound));
    const res = await timed("up", () => stack!.up());
    expect(res.summary.result).toBe("succeeded");

    const mesh = getJson(["get", "configmap", "istio-1-30", "-n", "istio-system"]).data.mesh as string;
    expect(mesh).toMatch(/outboundTrafficPolicy:\s+mode: REGISTRY_ONLY/);
    const injector = JSON.parse(getJson(["get", "configmap", "istio-sidecar-injector-1-30", "-n", "istio-system"]).data.values);
    expect(injector.global.proxy.excludeIPRanges).toBe("169.254.169.254/32");
    const egress = getJson(["get", "deployment", "istio-egressgateway", "-n", "istio-system"]);
    expect(egress.status.conditions.find((c: { type: string }) => c.type === "Available").status).toBe("True");

    for (const id of OUTBOUND_OBJECTS) expect(get(id).metadata.labels["app.kubernetes.io/part-of"], id).toBe("observability-stack");
    expect(get("ServiceEntry istio-system/catalog-api").spec).toEqual({
      hosts: ["catalog.example.com"],
      ports: [
        { number: 80, protocol: "HTTP", name: "http-80" },
        { number: 443, protocol: "HTTPS", name: "https-443" },
      ],
      location: "MESH_EXTERNAL",
      resolution: "DNS",
    });
    expect(get("Gateway istio-system/payments-api-egress").spec.servers).toEqual([{ port: { number: 443, name: "tls-payments-api", protocol: "TLS" }, hosts: ["api.payments.example.com"], tls: { mode: "PASSTHROUGH" } }]);
    expect(get("DestinationRule istio-system/payments-api-egress").spec).toEqual({ host: "istio-egressgateway.istio-system.svc.cluster.local", subsets: [{ name: "payments-api" }] });
    expect(get("VirtualService istio-system/payments-api-egress").spec.tls.map((r: any) => r.route[0].destination.host)).toEqual(["istio-egressgateway.istio-system.svc.cluster.local", "api.payments.example.com"]);
    expect(get("Sidecar demo/default").spec.egress).toEqual([{ hosts: ["./*", "istio-system/*", ZIPKIN] }]);
    expect(get("Sidecar shop/default").spec.egress).toEqual([{ hosts: ["./*", "istio-system/*", ZIPKIN, "demo/*"] }]);
  });

  it("the pinned istioctl's analyzers report nothing about these objects", () => {
    const istioctl = toolPath("istioctl", ISTIO_VERSION);
    expect(pins.istioctl.versions[ISTIO_VERSION], "a pinned istioctl").toBeTruthy();
    // the live cluster: the objects as applied, with the egress gateway's Service and (kwok's) pods they refer to
    const r = spawnSync(istioctl, ["analyze", "--kubeconfig", kubeconfigPath, "--all-namespaces", "--output", "json", "--output-threshold", "Info", "--timeout", "2m"], { encoding: "utf8", timeout: 120_000 });
    expect(r.error, r.stderr).toBeUndefined();
    // with JSON output the exit code says only whether it analyzed; the messages are the output
    expect(r.status, `istioctl analyze: ${r.stderr}`).toBe(0);
    const messages = (JSON.parse(r.stdout) ?? []) as { code: string; level: string; origin: string; message: string }[];
    console.log(`[e2e] istioctl analyze: ${messages.length} message(s) in the cluster${messages.length ? `:\n  ${messages.map((m) => `${m.level} ${m.code} ${m.origin}: ${m.message}`).join("\n  ")}` : ""}`);
    const ours = messages.filter((m) => OUTBOUND_OBJECTS.some((id) => originOf(m.origin) === id));
    expect(ours).toEqual([]);
  });

  it("a second preview plans no change", async () => {
    const res = await timed("preview", () => stack!.preview());
    const changes = Object.entries(res.changeSummary).filter(([op, n]) => op !== "same" && n > 0);
    expect(changes).toEqual([]);
  });

  it("destroy removes them", async () => {
    const res = await timed("destroy", () => stack!.destroy());
    destroyed = true;
    expect(res.summary.result).toBe("succeeded");
    expect(kubectl(["get", "crd", "serviceentries.networking.istio.io", "--ignore-not-found", "-o", "name"]).trim()).toBe("");
  });
});
