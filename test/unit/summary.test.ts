// The PR summary, from a `pulumi preview --json` recorded on the local cluster: the `stable` tag
// moved from revision 1-30 to 1-31 (a canary step), with the obs:logging passwords set as secrets.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseUrn, summarize } from "../../scripts/lib/summary.js";

const recorded = JSON.parse(readFileSync(new URL("./fixtures/preview-tag-move.json", import.meta.url), "utf8"));

describe("preview summary", () => {
  const md = summarize("local", recorded, { demo: "1-31" });

  it("counts changes per component and operation", () => {
    expect(md).toContain("| component | create | update | replace | delete |");
    expect(md).toContain("| istio | 0 | 1 | 0 | 0 |");
    expect(md).not.toContain("| stack |");
  });

  it("calls out the canary step and the restarts it causes", () => {
    expect(md).toContain("- moves revision tag `stable`");
    expect(md).toContain("- namespace `demo`: revision 1-30 → 1-31; **its workloads restart** (rolling) after `up`");
  });

  it("never shows values, so no secret can appear", () => {
    expect(recorded.config["obs:logging"]).toContain('"elasticPassword":"[secret]"');
    expect(md).not.toContain("secret");
    expect(md).not.toMatch(/password/i);
  });

  it("names replaced and deleted objects", () => {
    const steps = [
      { op: "replace", urn: "urn:pulumi:prod::observability-stack::obs:tracing:Jaeger$kubernetes:apps/v1:StatefulSet::tracing-kafka", newState: { inputs: { metadata: { name: "kafka", namespace: "observability" } } } },
      { op: "delete", urn: "urn:pulumi:prod::observability-stack::obs:istio:Revision$kubernetes:apps/v1:Deployment::istio-1-30-deployment-istio-system-istiod-1-30", oldState: { inputs: { metadata: { name: "istiod-1-30", namespace: "istio-system" } } } },
      { op: "delete", urn: "urn:pulumi:prod::observability-stack::obs:istio:ControlPlane$obs:istio:Revision::istio-1-30" },
    ];
    const out = summarize("prod", { steps });
    expect(out).toContain("**Replaced** (deleted and created again):\n- StatefulSet observability/kafka");
    expect(out).toContain("- Deployment istio-system/istiod-1-30");
    expect(out).toContain("- removes control-plane revision `1-30`");
    expect(out).toContain("| tracing | 0 | 0 | 1 | 0 |");
  });

  it("says so when nothing changes", () => {
    expect(summarize("dev", { steps: recorded.steps.filter((s: { op: string }) => s.op === "same") })).toContain("No changes.");
  });

  it("finds the owning component in a URN", () => {
    expect(parseUrn("urn:pulumi:s::p::obs:istio:ControlPlane$obs:istio:Revision$kubernetes:core/v1:ConfigMap::x")).toEqual({ component: "istio", type: "kubernetes:core/v1:ConfigMap", name: "x" });
  });
});
