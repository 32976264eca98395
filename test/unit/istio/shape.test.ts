import { describe, expect, it } from "vitest";
import { compareVersions, defaultValidator, initialFailurePolicy, shapeInstall, tagWebhook, withoutFailurePolicy } from "../../../components/istio/shape.js";
import type { KubeObject } from "../../../components/k8s/objects.js";
import { revisionObjects } from "../../builders/istio-shapes.js";

const obj = (kind: string, name: string, extra: Partial<KubeObject> = {}, labels?: Record<string, string>): KubeObject => ({ apiVersion: "v1", kind, metadata: { name, namespace: "istio-system", ...(labels ? { labels } : {}) }, ...extra });
const crd = (name: string, version: string): KubeObject => ({ apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition", metadata: { name, labels: { release: version } } });

const injector = (rev: string): KubeObject => ({
  apiVersion: "admissionregistration.k8s.io/v1",
  kind: "MutatingWebhookConfiguration",
  metadata: { name: `istio-sidecar-injector-${rev}`, labels: { "istio.io/rev": rev } },
  webhooks: [
    { name: "rev.namespace.sidecar-injector.istio.io", clientConfig: { service: { name: `istiod-${rev}`, namespace: "istio-system" } }, namespaceSelector: { matchExpressions: [{ key: "istio.io/rev", operator: "In", values: [rev] }, { key: "istio-injection", operator: "DoesNotExist" }] }, objectSelector: { matchExpressions: [{ key: "sidecar.istio.io/inject", operator: "NotIn", values: ["false"] }] } },
    { name: "rev.object.sidecar-injector.istio.io", clientConfig: { service: { name: `istiod-${rev}`, namespace: "istio-system" } }, namespaceSelector: { matchExpressions: [{ key: "istio.io/rev", operator: "DoesNotExist" }] }, objectSelector: { matchExpressions: [{ key: "istio.io/rev", operator: "In", values: [rev] }] } },
    { name: "namespace.sidecar-injector.istio.io", clientConfig: {}, namespaceSelector: { matchExpressions: [{ key: "istio-injection", operator: "In", values: ["enabled"] }] } },
  ],
});

describe("shaping istioctl output", () => {
  it("splits CRDs, shared base objects and revision-owned objects; CRDs come from the newest version", () => {
    const shaped = shapeInstall([
      { revision: "1-31", version: "1.31", objects: [crd("telemetries.telemetry.istio.io", "1.31"), obj("ServiceAccount", "istio-reader-service-account", {}, { release: "1.31" }), obj("Deployment", "istiod-1-31", {}, { "istio.io/rev": "1-31" }), obj("Deployment", "istio-ingressgateway", {}, { "istio.io/rev": "1-31" })] },
      { revision: "1-30", version: "1.30", objects: [crd("telemetries.telemetry.istio.io", "1.30"), obj("ServiceAccount", "istio-reader-service-account", {}, { release: "1.30" }), obj("Deployment", "istiod-1-30", {}, { "istio.io/rev": "1-30" }), obj("ConfigMap", "istio-1-30")] },
    ]);
    expect(shaped.crds).toHaveLength(1);
    expect(shaped.crds[0]!.metadata.labels!.release).toBe("1.31");
    expect(shaped.shared.map((o) => o.metadata.name)).toEqual(["istio-reader-service-account"]);
    expect(shaped.shared[0]!.metadata.labels!.release).toBe("1.31");
    expect(shaped.revisions["1-30"]!.map((o) => o.metadata.name)).toEqual(["istiod-1-30", "istio-1-30"]);
    expect(shaped.revisions["1-31"]!.map((o) => o.metadata.name)).toEqual(["istiod-1-31"]);
    // gateways are kept apart so that a change of gateway revision updates them in place
    expect(shaped.gateways.map((o) => o.metadata.name)).toEqual(["istio-ingressgateway"]);
  });

  it("compares versions numerically", () => {
    expect(compareVersions("1.9", "1.30")).toBeLessThan(0);
    expect(compareVersions("1.31", "1.30")).toBeGreaterThan(0);
  });

  it("builds a tag webhook that selects namespaces labelled with the tag and calls the revision's istiod", () => {
    const w = tagWebhook("prod-stable", "1-30", [injector("1-30")]);
    expect(w.metadata.name).toBe("istio-revision-tag-prod-stable");
    expect(w.metadata.labels).toMatchObject({ "istio.io/tag": "prod-stable", "istio.io/rev": "1-30" });
    const hooks = w.webhooks as { name: string; namespaceSelector: any; objectSelector: any; clientConfig: any }[];
    expect(hooks.map((h) => h.name)).toEqual(["prod-stable.namespace.sidecar-injector.istio.io", "prod-stable.object.sidecar-injector.istio.io"]);
    expect(hooks[0]!.namespaceSelector.matchExpressions[0]).toEqual({ key: "istio.io/rev", operator: "In", values: ["prod-stable"] });
    expect(hooks[1]!.objectSelector.matchExpressions[0].values).toEqual(["prod-stable"]);
    expect(hooks[0]!.clientConfig.service.name).toBe("istiod-1-30");
  });

  it("the default tag also takes the legacy labels, as istioctl's does (on the pinned istioctl's render)", () => {
    const objects = revisionObjects("1-30");
    const plain = tagWebhook("stable", "1-30", objects).webhooks as { name: string; namespaceSelector: any; objectSelector: any; clientConfig: any }[];
    const hooks = tagWebhook("default", "1-30", objects).webhooks as typeof plain;
    expect(plain.length).toBe(2);
    expect(hooks.length).toBe(4);
    for (const h of hooks) expect(h.clientConfig.service).toMatchObject({ name: "istiod-1-30", path: "/inject" });
    const legacyNs = hooks.find((h) => h.name === "namespace.sidecar-injector.istio.io")!;
    expect(legacyNs.namespaceSelector).toEqual({ matchExpressions: [{ key: "istio-injection", operator: "In", values: ["enabled"] }] });
    // the rest of the hook is the revision's own namespace hook (retargeted selectors aside)
    expect({ ...legacyNs, name: undefined, namespaceSelector: undefined }).toEqual({ ...hooks[0], name: undefined, namespaceSelector: undefined });
    const legacyObj = hooks.find((h) => h.name === "object.sidecar-injector.istio.io")!;
    expect(legacyObj.objectSelector.matchExpressions).toContainEqual({ key: "sidecar.istio.io/inject", operator: "In", values: ["true"] });
    expect(legacyObj.namespaceSelector.matchExpressions).toEqual([{ key: "istio-injection", operator: "DoesNotExist" }, { key: "istio.io/rev", operator: "DoesNotExist" }]);
  });

  it("refuses a tag on a revision without an injector", () => {
    expect(() => tagWebhook("t", "1-30", [])).toThrow(/revision 1-30 renders no injector webhook/);
  });
});


describe("the default tag's validator", () => {
  // the 1-30 validator the pinned istioctl renders for the stack (its comparison with istioctl's own
  // `tag generate default` runs on the local cluster: test/e2e/istiod.test.ts)
  const rendered = revisionObjects("1-30").find((o) => o.kind === "ValidatingWebhookConfiguration" && o.metadata.name === "istio-validator-1-30-istio-system")!;

  it("leaves failurePolicy to istiod: the object carries none; the initial Ignore goes through its own patch", () => {
    const v = defaultValidator("1-30", [rendered], ["1-30"]);
    expect((withoutFailurePolicy(v).webhooks as any[]).map((w) => "failurePolicy" in w)).toEqual([false]);
    expect(initialFailurePolicy(v)).toEqual({ name: "istiod-default-validator", webhooks: [{ name: "validation.istio.io", failurePolicy: "Ignore" }] });
    expect(withoutFailurePolicy(injector("1-30"))).toEqual(injector("1-30"));
  });

  it("refuses a revision that renders no validator", () => {
    expect(() => defaultValidator("1-30", [injector("1-30")], ["1-30"])).toThrow(/revision 1-30 renders no validating webhook; its profile cannot back the default tag \(obs:istio.defaultRevision\)/);
  });
});
