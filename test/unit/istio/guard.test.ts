import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../config/index.js";
import { movedNamespaces, namespaceRevisions, removalProblems } from "../../../components/istio/guard.js";

const istio = (extra: Record<string, unknown> = {}) =>
  parseConfig("dev", { kubernetes: { context: "x" }, logging: { enabled: false }, grafana: { enabled: false }, kiali: { enabled: false }, istio: { revisions: [{ name: "1-31", version: "1.31" }], tags: { stable: "1-31" }, namespaces: { apps: "stable", batch: "1-31" }, ...extra } }, { istio: ["1.30", "1.31"] }).istio;

describe("canary guard rails", () => {
  it("resolves namespaces through tags", () => {
    expect(namespaceRevisions(istio())).toEqual({ apps: "1-31", batch: "1-31" });
  });

  it("allows removing a revision nothing uses", () => {
    expect(removalProblems(istio(), { revisions: ["1-30", "1-31"], podsByRevision: { "1-31": ["apps/a"] }, namespacesByLabel: { stable: ["apps"] } })).toEqual([]);
  });

  it("refuses removing a revision whose injected pods still run, naming them", () => {
    const p = removalProblems(istio(), { revisions: ["1-30", "1-31"], podsByRevision: { "1-30": ["apps/web-1", "apps/web-2"] }, namespacesByLabel: {} });
    expect(p).toEqual(["obs:istio.revisions: removing revision '1-30' is refused: 2 running pod(s) injected by it (apps/web-1, apps/web-2); restart them onto another revision first. To remove it anyway add it to obs:istio.forceRemoveRevisions."]);
  });

  it("refuses removing a revision that a namespace outside the stack points at", () => {
    const p = removalProblems(istio(), { revisions: ["1-30", "1-31"], podsByRevision: {}, namespacesByLabel: { "1-30": ["legacy", "apps"] } });
    expect(p[0]).toMatch(/namespace\(s\) legacy labelled istio.io\/rev=1-30 outside this stack/);
  });

  it("lets the explicit override through", () => {
    expect(removalProblems(istio({ forceRemoveRevisions: ["1-30"] }), { revisions: ["1-30", "1-31"], podsByRevision: { "1-30": ["apps/x"] }, namespacesByLabel: {} })).toEqual([]);
  });

  it("finds the namespaces a tag move affects", () => {
    expect(movedNamespaces({ apps: "1-30", batch: "1-31", gone: "1-30" }, { apps: "1-31", batch: "1-31", fresh: "1-31" })).toEqual([{ namespace: "apps", from: "1-30", to: "1-31" }]);
  });
});
