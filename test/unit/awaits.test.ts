import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { serviceAwaitOnlySettles, SKIP_AWAIT, skipSettleOnlyServiceAwaits } from "../../components/k8s/awaits.js";
import { typeToken } from "../../components/k8s/objects.js";

const transform = (props: Record<string, unknown>, type = "kubernetes:core/v1:Service") => skipSettleOnlyServiceAwaits({ type, name: "s", props, opts: {} } as unknown as pulumi.ResourceTransformationArgs);
const resolved = <T>(o: pulumi.Input<T>) => new Promise<T>((resolve) => pulumi.output(o).apply((v) => resolve(v as T)));

describe("Service awaits that only settle", () => {
  it("are those of ClusterIP and NodePort Services with a selector", () => {
    expect(serviceAwaitOnlySettles({ selector: { app: "a" } })).toBe(true);
    expect(serviceAwaitOnlySettles({ type: "ClusterIP", selector: { app: "a" } })).toBe(true);
    expect(serviceAwaitOnlySettles({ type: "NodePort", selector: { app: "a" } })).toBe(true);
  });

  it("not a LoadBalancer's (its address), a headless or selector-less Service's, or a type unknown at run time", () => {
    expect(serviceAwaitOnlySettles({ type: "LoadBalancer", selector: { app: "a" } })).toBe(false);
    expect(serviceAwaitOnlySettles({ clusterIP: "None", selector: { app: "a" } })).toBe(false);
    expect(serviceAwaitOnlySettles({ type: "ClusterIP" })).toBe(false);
    expect(serviceAwaitOnlySettles({ type: pulumi.output("ClusterIP"), selector: { app: "a" } })).toBe(false);
    expect(serviceAwaitOnlySettles(undefined)).toBe(false);
  });
});

describe("the stack transformation", () => {
  it("adds pulumi.com/skipAwait to such a Service, keeping its annotations and metadata", async () => {
    const r = transform({ metadata: { name: "web", namespace: pulumi.output("ns"), annotations: { a: "b" } }, spec: { selector: { app: "web" } } });
    const md = r!.props.metadata as { name: string; annotations: Record<string, string> };
    expect(md.name).toBe("web");
    expect(await resolved(md.annotations)).toEqual({ a: "b", [SKIP_AWAIT]: "true" });
  });

  it("lifts metadata given as an Output", async () => {
    const r = transform({ metadata: pulumi.output({ name: "web" }), spec: { type: "NodePort", selector: { app: "web" } } });
    expect(await resolved(r!.props.metadata as pulumi.Output<unknown>)).toEqual({ name: "web", annotations: { [SKIP_AWAIT]: "true" } });
  });

  it("leaves other kinds, LoadBalancers and Services already annotated alone", () => {
    expect(transform({ spec: { selector: { app: "web" } } }, "kubernetes:apps/v1:Deployment")).toBeUndefined();
    expect(transform({ metadata: { name: "lb" }, spec: { type: "LoadBalancer", selector: { app: "web" } } })).toBeUndefined();
    expect(transform({ metadata: { name: "s", annotations: { [SKIP_AWAIT]: "false" } }, spec: { selector: { app: "web" } } })).toBeUndefined();
  });

  it("covers the Services istioctl renders, registered under their real type token: istiod's, not a LoadBalancer gateway's", async () => {
    const service = (name: string, type?: string) => ({ apiVersion: "v1", kind: "Service", metadata: { name, namespace: "istio-system", labels: { app: name } }, spec: { ...(type ? { type } : {}), selector: { app: name } } });
    const istiod = transform(service("istiod-1-30"), typeToken(service("istiod-1-30")));
    expect(await resolved((istiod!.props.metadata as { annotations: Record<string, string> }).annotations)).toEqual({ [SKIP_AWAIT]: "true" });
    expect(transform(service("istio-ingressgateway", "LoadBalancer"), typeToken(service("istio-ingressgateway")))).toBeUndefined();
  });
});
