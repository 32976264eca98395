// What lets a run take over the objects an interrupted run created: one field manager and fixed names.
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { clusterScopedName, FIELD_MANAGER, FIELD_MANAGER_ANNOTATION, fixedFieldManager, hashedName } from "../../components/k8s/objects.js";

const resolved = <T>(o: pulumi.Input<T>) => new Promise<T>((resolve) => pulumi.output(o).apply((v) => resolve(v as T)));
class Custom extends pulumi.CustomResource {}
class Component extends pulumi.ComponentResource {}
const transform = (type: string, props: Record<string, unknown>, resource: unknown) => fixedFieldManager({ type, name: "x", props, opts: {}, resource } as unknown as pulumi.ResourceTransformationArgs);
// a prototype is all `instanceof` reads: no resource is registered
const custom = Object.create(Custom.prototype);
const component = Object.create(Component.prototype);

describe("the fixed field manager", () => {
  it("is the provider's field manager annotation on every Kubernetes object, next to its own annotations", async () => {
    const r = transform("kubernetes:apps/v1:StatefulSet", { metadata: { name: "kafka", namespace: pulumi.output("obs"), annotations: { a: "b" } }, spec: {} }, custom);
    const md = r!.props.metadata as { name: string; annotations: Record<string, string> };
    expect(md.name).toBe("kafka");
    expect(await resolved(md.annotations)).toEqual({ a: "b", [FIELD_MANAGER_ANNOTATION]: FIELD_MANAGER });
    const lifted = transform("kubernetes:core/v1:ConfigMap", { metadata: pulumi.output({ name: "c" }) }, custom);
    expect(await resolved(lifted!.props.metadata as pulumi.Output<unknown>)).toEqual({ name: "c", annotations: { [FIELD_MANAGER_ANNOTATION]: FIELD_MANAGER } });
    expect(FIELD_MANAGER_ANNOTATION).toBe("pulumi.com/patchFieldManager");
  });

  it("leaves an object's own field manager, and Patches (they own only what they set) alone", async () => {
    const r = transform("kubernetes:apps/v1:Deployment", { metadata: { name: "web", annotations: { [FIELD_MANAGER_ANNOTATION]: "other-manager" } } }, custom);
    expect(await resolved((r!.props.metadata as { annotations: Record<string, string> }).annotations)).toEqual({ [FIELD_MANAGER_ANNOTATION]: "other-manager" });
    expect(transform("kubernetes:apps/v1:DeploymentPatch", { metadata: { name: "web" } }, custom)).toBeUndefined();
  });

  it("leaves the provider, components and other packages alone", () => {
    expect(transform("pulumi:providers:kubernetes", {}, custom)).toBeUndefined();
    expect(transform("kubernetes:yaml/v2:ConfigGroup", {}, component)).toBeUndefined();
    expect(transform("random:index/randomId:RandomId", {}, custom)).toBeUndefined();
  });
});

describe("fixed names", () => {
  it("follow the content: the same content, the same name; a change, a new name", async () => {
    const a = await resolved(hashedName("kafka-topic", { script: "a" }));
    expect(a).toMatch(/^kafka-topic-[0-9a-f]{8}$/);
    expect(await resolved(hashedName("kafka-topic", { script: pulumi.output("a") }))).toBe(a);
    expect(await resolved(hashedName("kafka-topic", { script: "b" }))).not.toBe(a);
  });

  it("of cluster-scoped objects carry the stack's namespace", async () => {
    expect(await resolved(clusterScopedName(pulumi.output("observability"), "prometheus"))).toBe("observability-prometheus");
  });
});
