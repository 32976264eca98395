// istiod and its HPA on the local cluster (real engine, provider and API server): the stack does
// not own istiod's `replicas` while the HPA is on, so scaling the Deployment by hand through its
// scale subresource (what the HPA controller does), then changing istiod's resources in config
// and running `up`, keeps the scaled count; the resources change rolls out, and nothing conflicts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Stack } from "@pulumi/pulumi/automation/index.js";
import { getJson, kubectl, projectStack, stackWorkDir, stopwatch } from "./helpers.js";

const { timings, timed } = stopwatch();
const ISTIOD = ["deployment", "istiod-1-30", "-n", "istio-system"];

type Deployment = { spec: { replicas: number; template: { spec: { containers: { name: string; resources: { requests: Record<string, string> } }[] } } }; metadata: { managedFields: { manager: string; operation: string; fieldsV1: { "f:spec"?: Record<string, unknown> } }[] } };
const istiod = (): Deployment => getJson(["get", ...ISTIOD, "--show-managed-fields"]);
/** Field managers that own spec.replicas. */
const replicaOwners = (d: Deployment) => d.metadata.managedFields.filter((m) => m.fieldsV1["f:spec"] && "f:replicas" in m.fieldsV1["f:spec"]).map((m) => `${m.manager} (${m.operation})`);

describe("local stack: istiod scaled by its HPA survives an up", () => {
  let stack: Stack;
  beforeAll(async () => {
    // istio with the HPA on (1..3); the parts this case does not need are off, to keep it short
    const dir = stackWorkDir("local", (c) => {
      const istio = c["obs:istio"] as Record<string, any>;
      istio.pilot = { ...istio.pilot, replicas: 1, autoscaleMax: 3 };
      for (const part of ["obs:logging", "obs:grafana", "obs:kiali"]) c[part] = { enabled: false };
    });
    stack = await projectStack("local", dir);
  });
  afterAll(async () => {
    console.log(`[e2e timings, s] ${JSON.stringify(timings)}`);
    if (stack) await timed("destroy", () => stack.destroy());
  });

  it("up renders istiod without replicas: the HPA, not the stack, owns them", async () => {
    const res = await timed("up", () => stack.up());
    expect(res.summary.result).toBe("succeeded");
    const hpa = getJson(["get", "hpa", "istiod-1-30", "-n", "istio-system"]);
    expect(hpa.spec).toMatchObject({ minReplicas: 1, maxReplicas: 3, scaleTargetRef: { kind: "Deployment", name: "istiod-1-30" } });
    const d = istiod();
    expect(d.spec.replicas).toBe(1);
    // the API server defaulted it; no applier claims it
    expect(replicaOwners(d).filter((o) => o.endsWith("(Apply)"))).toEqual([]);
  });

  it("scaled by hand as the HPA would, then an up that changes istiod's resources keeps the replicas", async () => {
    kubectl(["scale", ...ISTIOD, "--replicas=2"]);
    expect(istiod().spec.replicas).toBe(2);
    await stack.setConfig("obs:istio.pilot.resources.requests.cpu", { value: "150m" }, true);
    const res = await timed("resources up", () => stack.up());
    expect(res.summary.result).toBe("succeeded");
    expect(res.summary.resourceChanges?.update ?? 0).toBeGreaterThan(0);
    const d = istiod();
    expect(d.spec.replicas).toBe(2);
    expect(d.spec.template.spec.containers.find((c) => c.name === "discovery")!.resources.requests.cpu).toBe("150m");
    expect(replicaOwners(d).filter((o) => o.endsWith("(Apply)"))).toEqual([]);
  });

  it("a second preview plans no change, also with the scaled replicas", async () => {
    const res = await timed("preview", () => stack.preview());
    const changes = Object.entries(res.changeSummary).filter(([op, n]) => op !== "same" && n > 0);
    expect(changes).toEqual([]);
    expect(istiod().spec.replicas).toBe(2);
  });
});
