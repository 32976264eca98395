// IstioControlPlane under Pulumi mocks: what is created, under which parent, with which options.
// istioctl is replaced by a fixture here; the e2e tier runs the real one.
import { beforeAll, describe, expect, it, vi } from "vitest";
import type { KubeObject } from "../../../components/k8s/objects.js";
import { parseConfig } from "../../../config/index.js";
import { type Created, recordResources } from "../mocks.js";

const rendered = (rev: string): KubeObject[] => [
  { apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition", metadata: { name: "telemetries.telemetry.istio.io" } },
  { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "istio-reader-service-account", namespace: "istio-system" } },
  { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: `istiod-${rev}`, namespace: "istio-system", labels: { "istio.io/rev": rev } }, spec: {} },
  {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "MutatingWebhookConfiguration",
    metadata: { name: `istio-sidecar-injector-${rev}`, labels: { "istio.io/rev": rev } },
    webhooks: [
      { name: "rev.namespace.sidecar-injector.istio.io", clientConfig: { service: { name: `istiod-${rev}` } }, namespaceSelector: { matchExpressions: [{ key: "istio.io/rev", operator: "In", values: [rev] }] } },
      { name: "rev.object.sidecar-injector.istio.io", clientConfig: { service: { name: `istiod-${rev}` } }, objectSelector: { matchExpressions: [{ key: "istio.io/rev", operator: "In", values: [rev] }] } },
    ],
  },
  // the shape istioctl renders (1.30/1.31): fail-open until istiod switches it
  {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingWebhookConfiguration",
    metadata: { name: `istio-validator-${rev}-istio-system`, labels: { app: "istiod", "istio.io/rev": rev } },
    webhooks: [{ name: "rev.validation.istio.io", admissionReviewVersions: ["v1"], clientConfig: { service: { name: `istiod-${rev}`, namespace: "istio-system", path: "/validate" } }, failurePolicy: "Ignore", objectSelector: { matchExpressions: [{ key: "istio.io/rev", operator: "In", values: [rev] }] }, rules: [{ apiGroups: ["networking.istio.io"], apiVersions: ["*"], operations: ["CREATE", "UPDATE"], resources: ["*"] }], sideEffects: "None" }],
  },
];

const renderCalls: { version: string; overlay: any }[] = [];
vi.mock("../../../components/istio/render.js", () => ({
  renderManifest: (version: string, overlay: any) => {
    renderCalls.push({ version, overlay });
    return { objects: rendered(overlay.spec.revision), cacheHit: false, cacheFile: "" };
  },
}));

const created: Created[] = [];

beforeAll(async () => {
  await recordResources(created);
});

describe("IstioControlPlane", () => {
  it("rendering to YAML (no live cluster): each validator whole with its initial failurePolicy, no Patch (a Patch renders into its object's file)", async () => {
    const { IstioControlPlane } = await import("../../../components/istio/index.js");
    const istio = parseConfig("dev", { kubernetes: { renderDir: "/tmp/out" }, logging: { enabled: false }, grafana: { enabled: false }, kiali: { enabled: false }, jaeger: { kafkaPassword: "test-kafka-password", cassandraPassword: "test-cassandra-password" }, istio: { revisions: [{ name: "1-30", version: "1.30" }] } }, { istio: ["1.30"] }).istio;
    const before = created.length;
    new IstioControlPlane("render", { istio, zipkinHost: "z", observabilityNamespace: "observability", clusterDomain: "cluster.local", retainOnDelete: false, liveCluster: false });
    await new Promise((r) => setTimeout(r, 200));
    const mine = created.slice(before).filter((c) => c.name.startsWith("render-"));
    expect(mine.filter((c) => c.type.endsWith("ValidatingWebhookConfigurationPatch"))).toEqual([]);
    const validators = mine.filter((c) => c.type === "kubernetes:admissionregistration.k8s.io/v1:ValidatingWebhookConfiguration");
    expect(validators.map((v) => v.inputs.metadata.name).sort()).toEqual(["istio-validator-1-30-istio-system", "istiod-default-validator"]);
    for (const v of validators) {
      expect(v.inputs.webhooks.map((w: any) => w.failurePolicy)).toEqual(["Ignore"]);
      expect(v.inputs.webhooks[0].clientConfig.service.name).toBe("istiod-1-30");
    }
    created.splice(before);
    renderCalls.length = 0;
  });

  it("creates the namespace, CRDs, one group per revision, tags, namespaces and mesh resources", async () => {
    const { IstioControlPlane } = await import("../../../components/istio/index.js");
    const istio = parseConfig("dev", { kubernetes: { context: "x" }, logging: { enabled: false }, grafana: { enabled: false }, kiali: { enabled: false }, jaeger: { kafkaPassword: "test-kafka-password", cassandraPassword: "test-cassandra-password" }, istio: { revisions: [{ name: "1-30", version: "1.30" }, { name: "1-31", version: "1.31" }], tags: { stable: "1-30", canary: "1-31" }, namespaces: { apps: "stable" }, samplingPercent: 5 } }, { istio: ["1.30", "1.31"] }).istio;
    const cp = new IstioControlPlane("istio", { istio, zipkinHost: "jaeger-collector.observability.svc.cluster.local", observabilityNamespace: "observability", clusterDomain: "cluster.local", retainOnDelete: true });
    expect(cp.revisions).toEqual(["1-30", "1-31"]);
    // registrations behind dependsOn settle after the constructor returns
    await new Promise((r) => setTimeout(r, 200));
    const istiodUrns = await Promise.all(cp.istiods.map((d) => new Promise<string>((r) => d.urn.apply(r))));
    // istiod sits under its revision group, under the control plane
    expect(istiodUrns).toEqual([expect.stringContaining("::obs:istio:Revision$kubernetes:apps/v1:Deployment::istio-1-30-deployment-istio-system-istiod-1-30"), expect.stringContaining("::obs:istio:Revision$kubernetes:apps/v1:Deployment::istio-1-31-")]);

    const names = created.map((c) => `${c.type} ${c.name}`);
    expect(names).toContain("kubernetes:core/v1:Namespace istio-namespace");
    expect(created.find((c) => c.name === "istio-namespace")!.inputs.metadata).toEqual({ name: "istio-system", labels: { "app.kubernetes.io/managed-by": "observability-stack", "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/audit": "restricted", "pod-security.kubernetes.io/warn": "restricted" } });
    // the CRD shared by both revisions is registered once
    expect(names.filter((n) => n.includes("customresourcedefinition"))).toEqual(["kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition istio-crd-customresourcedefinition-telemetries.telemetry.istio.io"]);
    expect(names).toContain("obs:istio:Revision istio-1-30");
    expect(names).toContain("obs:istio:Revision istio-1-31");
    expect(names).toContain("kubernetes:apps/v1:Deployment istio-1-31-deployment-istio-system-istiod-1-31");
    expect(names).toContain("kubernetes:admissionregistration.k8s.io/v1:MutatingWebhookConfiguration istio-tag-mutatingwebhookconfiguration-istio-revision-tag-canary");
    const ns = created.find((c) => c.name === "istio-ns-apps")!;
    expect(ns.inputs.metadata.labels).toEqual({ "istio.io/rev": "stable" });
    const telemetry = created.find((c) => c.type === "kubernetes:telemetry.istio.io/v1:Telemetry")!;
    expect(telemetry.inputs.spec.tracing[0]).toEqual({ providers: [{ name: "jaeger-zipkin" }], randomSamplingPercentage: 5 });
    const peer = created.find((c) => c.type === "kubernetes:security.istio.io/v1:PeerAuthentication")!;
    expect(peer.inputs.spec.mtls.mode).toBe("STRICT");
    // validators carry no failurePolicy (istiod's field); a Patch applies the rendered Ignore once, retained
    const validators = created.filter((c) => c.type === "kubernetes:admissionregistration.k8s.io/v1:ValidatingWebhookConfiguration");
    expect(validators.map((v) => v.inputs.metadata.name).sort()).toEqual(["istio-validator-1-30-istio-system", "istio-validator-1-31-istio-system", "istiod-default-validator"]);
    for (const v of validators) expect(v.inputs.webhooks.map((w: any) => w.failurePolicy)).toEqual([undefined]);
    const inits = created.filter((c) => c.type === "kubernetes:admissionregistration.k8s.io/v1:ValidatingWebhookConfigurationPatch");
    expect(inits.map((p) => [p.inputs.metadata.name, p.inputs.webhooks]).sort()).toEqual([
      ["istio-validator-1-30-istio-system", [{ name: "rev.validation.istio.io", failurePolicy: "Ignore" }]],
      ["istio-validator-1-31-istio-system", [{ name: "rev.validation.istio.io", failurePolicy: "Ignore" }]],
      ["istiod-default-validator", [{ name: "validation.istio.io", failurePolicy: "Ignore" }]],
    ]);
    // the default tag's validator: the first revision's istiod, for config without a revision label or with a tag
    const dflt = validators.find((v) => v.inputs.metadata.name === "istiod-default-validator")!;
    expect(dflt.inputs.metadata.labels).toMatchObject({ app: "istiod", "istio.io/rev": "1-30", "istio.io/tag": "default" });
    expect(dflt.inputs.webhooks[0].clientConfig.service.name).toBe("istiod-1-30");
    expect(dflt.inputs.webhooks[0].objectSelector).toEqual({ matchExpressions: [{ key: "istio.io/rev", operator: "NotIn", values: ["1-30", "1-31"] }] });
    expect(cp.defaultRevision).toBe("1-30");
    // ... and its injector webhook, which istioctl reads to find the revision its commands talk to
    const tagHooks = created.filter((c) => c.type === "kubernetes:admissionregistration.k8s.io/v1:MutatingWebhookConfiguration" && c.inputs.metadata.name.startsWith("istio-revision-tag-"));
    expect(tagHooks.map((t) => [t.inputs.metadata.name, t.inputs.metadata.labels["istio.io/rev"]]).sort()).toEqual([
      ["istio-revision-tag-canary", "1-31"],
      ["istio-revision-tag-default", "1-30"],
      ["istio-revision-tag-stable", "1-30"],
    ]);
    const defaultHook = tagHooks.find((t) => t.inputs.metadata.name === "istio-revision-tag-default")!;
    // its two revision hooks, and istioctl's two for the legacy labels
    expect(defaultHook.inputs.webhooks.map((w: any) => w.name)).toEqual(["default.namespace.sidecar-injector.istio.io", "default.object.sidecar-injector.istio.io", "namespace.sidecar-injector.istio.io", "object.sidecar-injector.istio.io"]);
    for (const w of defaultHook.inputs.webhooks) expect(w.clientConfig.service.name).toBe("istiod-1-30");
    expect(defaultHook.inputs.webhooks[0].namespaceSelector.matchExpressions).toContainEqual({ key: "istio.io/rev", operator: "In", values: ["default"] });
    expect(cp.tags).toEqual({ stable: "1-30", canary: "1-31", default: "1-30" });
    // each revision rendered once, with its own version and gateways only on the first
    expect(renderCalls.map((c) => [c.version, c.overlay.spec.revision, c.overlay.spec.components.ingressGateways[0].enabled])).toEqual([
      ["1.30", "1-30", true],
      ["1.31", "1-31", false],
    ]);
  });

  it("registers the external services, their egress route and a Sidecar per injected namespace under the control plane", async () => {
    const { IstioControlPlane } = await import("../../../components/istio/index.js");
    const istio = parseConfig("dev", {
      kubernetes: { context: "x" }, logging: { enabled: false }, grafana: { enabled: false }, kiali: { enabled: false }, jaeger: { kafkaPassword: "test-kafka-password", cassandraPassword: "test-cassandra-password" },
      istio: {
        revisions: [{ name: "1-30", version: "1.30" }], namespaces: { apps: "1-30", shop: "1-30" }, gateways: { egress: true }, outboundTrafficPolicy: "REGISTRY_ONLY",
        externalServices: [{ name: "httpbin", hosts: ["httpbin.example.com"], ports: [{ number: 80, protocol: "HTTP" }] }, { name: "payments", hosts: ["api.payments.example.com"], ports: [{ number: 443, protocol: "HTTPS" }], viaEgressGateway: true }],
        sidecarScope: { enabled: true, extraHosts: { shop: ["apps/*"] } },
      },
    }, { istio: ["1.30"] }).istio;
    const before = created.length;
    new IstioControlPlane("mesh2", { istio, zipkinHost: "jaeger-collector.obs.svc.corp.local", observabilityNamespace: "obs", clusterDomain: "corp.local", retainOnDelete: false });
    await new Promise((r) => setTimeout(r, 200));
    const mine = created.slice(before).filter((c) => c.name.startsWith("mesh2-outbound-"));
    // registrations settle in dependency order, not config order
    expect(mine.map((c) => `${c.type} ${c.name}`).sort()).toEqual([
      "kubernetes:networking.istio.io/v1:DestinationRule mesh2-outbound-destinationrule-istio-system-payments-egress",
      "kubernetes:networking.istio.io/v1:Gateway mesh2-outbound-gateway-istio-system-payments-egress",
      "kubernetes:networking.istio.io/v1:ServiceEntry mesh2-outbound-serviceentry-istio-system-httpbin",
      "kubernetes:networking.istio.io/v1:ServiceEntry mesh2-outbound-serviceentry-istio-system-payments",
      "kubernetes:networking.istio.io/v1:Sidecar mesh2-outbound-sidecar-apps-default",
      "kubernetes:networking.istio.io/v1:Sidecar mesh2-outbound-sidecar-shop-default",
      "kubernetes:networking.istio.io/v1:VirtualService mesh2-outbound-virtualservice-istio-system-payments-egress",
    ]);
    expect(mine.find((c) => c.name.endsWith("destinationrule-istio-system-payments-egress"))!.inputs.spec.host).toBe("istio-egressgateway.istio-system.svc.corp.local");
    expect(mine.find((c) => c.name.endsWith("sidecar-shop-default"))!.inputs.spec.egress[0].hosts).toEqual(["./*", "istio-system/*", "obs/jaeger-collector.obs.svc.corp.local", "apps/*"]);
    const mode = renderCalls.at(-1)!.overlay.spec.meshConfig.outboundTrafficPolicy.mode;
    expect(mode).toBe("REGISTRY_ONLY");
  });

  it("adopts a namespace with the legacy istio-injection label: a retained Patch under the Namespace's field manager takes the label, the Namespace then drops it and keeps the old value as a marker", async () => {
    const { IstioControlPlane } = await import("../../../components/istio/index.js");
    const { ADOPTED_ANNOTATION } = await import("../../../components/istio/guard.js");
    const istio = parseConfig("dev", { kubernetes: { context: "x" }, logging: { enabled: false }, grafana: { enabled: false }, kiali: { enabled: false }, jaeger: { kafkaPassword: "test-kafka-password", cassandraPassword: "test-cassandra-password" }, istio: { revisions: [{ name: "1-30", version: "1.30" }], namespaces: { legacy: "1-30", adopted: "1-30", plain: "1-30" } } }, { istio: ["1.30"] }).istio;
    const before = created.length;
    new IstioControlPlane("mesh3", { istio, zipkinHost: "z", observabilityNamespace: "obs", clusterDomain: "cluster.local", retainOnDelete: false, liveNamespaces: { legacy: { legacy: "enabled" }, adopted: { adopted: "enabled" } } });
    await new Promise((r) => setTimeout(r, 200));
    const mine = created.slice(before);
    const take = mine.filter((c) => c.type === "kubernetes:core/v1:NamespacePatch");
    expect(take.map((t) => [t.name, t.inputs.metadata])).toEqual([
      ["mesh3-ns-legacy-legacy-label", { name: "legacy", labels: { "istio.io/rev": "1-30", "istio-injection": "removed-by-observability-stack" }, annotations: { "pulumi.com/patchFieldManager": "observability-stack", "pulumi.com/patchForce": "true" } }],
    ]);
    const nsOf = (n: string) => mine.find((c) => c.name === `mesh3-ns-${n}`)!.inputs.metadata;
    expect(nsOf("legacy")).toEqual({ name: "legacy", labels: { "istio.io/rev": "1-30" }, annotations: { [ADOPTED_ANNOTATION]: "enabled" } });
    expect(nsOf("adopted")).toEqual({ name: "adopted", labels: { "istio.io/rev": "1-30" }, annotations: { [ADOPTED_ANNOTATION]: "enabled" } });
    expect(nsOf("plain")).toEqual({ name: "plain", labels: { "istio.io/rev": "1-30" } });
    // the Namespace registers only after the Patch (it depends on it)
    expect(mine.findIndex((c) => c.name === "mesh3-ns-legacy")).toBeGreaterThan(mine.findIndex((c) => c.name === "mesh3-ns-legacy-legacy-label"));
  });
});
