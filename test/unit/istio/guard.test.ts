import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../config/index.js";
import { ADOPTED_ANNOTATION, injectedRevision, meshFromObjects, movedNamespaces, namespaceRevisions, podOwner, removalProblems } from "../../../components/istio/guard.js";
import { canaryStatus } from "../../../components/istio/status.js";
import { podsOf, workloadObjects } from "./injected.js";

const istio = (extra: Record<string, unknown> = {}) =>
  parseConfig("dev", { kubernetes: { context: "x" }, logging: { enabled: false }, grafana: { enabled: false }, kiali: { enabled: false }, jaeger: { kafkaPassword: "test-kafka-password", cassandraPassword: "test-cassandra-password" }, istio: { revisions: [{ name: "1-31", version: "1.31" }], tags: { stable: "1-31" }, namespaces: { apps: "stable", batch: "1-31" }, ...extra } }, { istio: ["1.30", "1.31"] }).istio;

const istiod = (rev: string) => ({ metadata: { name: `istiod-${rev}`, namespace: "istio-system", labels: { app: "istiod", "istio.io/rev": rev } } });
const ns = (name: string, labels: Record<string, string> = {}) => ({ metadata: { name, labels } });

describe("what the injector writes on a pod (real kube-inject output of 1.30 and 1.31)", () => {
  it("reads the revision from the istio.io/rev annotation the injector sets (there is no such label)", () => {
    for (const [version, rev] of [["1.30", "1-30"], ["1.31", "1-31"]] as const) {
      for (const name of ["web", "db", "agent"]) {
        const [pod] = podsOf(version, name);
        expect(pod!.metadata!.annotations!["istio.io/rev"]).toBe(rev);
        expect(pod!.metadata!.labels!["istio.io/rev"]).toBeUndefined();
        expect(injectedRevision(pod!)).toBe(rev);
      }
    }
  });

  it("falls back to the revision of sidecar.istio.io/status when the annotation is missing", () => {
    const [pod] = podsOf("1.31", "web");
    delete pod!.metadata!.annotations!["istio.io/rev"];
    expect(JSON.parse(pod!.metadata!.annotations!["sidecar.istio.io/status"]!).revision).toBe("1-31");
    expect(injectedRevision(pod!)).toBe("1-31");
  });

  it("does not count a pod without a sidecar: opted out, or the status without an istio-proxy container", () => {
    const [optedOut] = podsOf("1.30", "batch");
    expect(optedOut!.metadata!.annotations!["sidecar.istio.io/status"]).toBeUndefined();
    expect(injectedRevision(optedOut!)).toBeUndefined();
    const [stripped] = podsOf("1.30", "web");
    stripped!.spec!.containers = stripped!.spec!.containers!.filter((c) => c.name !== "istio-proxy");
    expect(injectedRevision(stripped!)).toBeUndefined();
  });

  it("counts a native sidecar (istio-proxy in initContainers)", () => {
    const [pod] = podsOf("1.31", "web");
    const proxy = pod!.spec!.containers!.find((c) => c.name === "istio-proxy")!;
    pod!.spec!.containers = pod!.spec!.containers!.filter((c) => c !== proxy);
    pod!.spec!.initContainers = [...(pod!.spec!.initContainers ?? []), proxy];
    expect(injectedRevision(pod!)).toBe("1-31");
  });

  it("finds the owning workload: a Deployment through its ReplicaSet, a StatefulSet or DaemonSet directly", () => {
    expect(podOwner(podsOf("1.30", "web")[0]!)).toEqual({ kind: "Deployment", name: "web" });
    expect(podOwner(podsOf("1.30", "db")[0]!)).toEqual({ kind: "StatefulSet", name: "db" });
    expect(podOwner(podsOf("1.30", "agent")[0]!)).toEqual({ kind: "DaemonSet", name: "agent" });
  });
});

describe("the observed mesh", () => {
  const observed = () =>
    meshFromObjects({
      istiods: [istiod("1-30"), istiod("1-31")],
      pods: [...podsOf("1.30", "web", 2, "apps"), ...podsOf("1.31", "db", 1, "apps"), ...podsOf("1.30", "batch", 1, "apps"), ...podsOf("1.30", "web", 1, "istio-system")],
      namespaces: [ns("apps", { "istio.io/rev": "stable" }), ns("legacy", { "istio-injection": "enabled" }), ns("default")],
      workloads: workloadObjects("1.30", "apps"),
      tagWebhooks: [{ metadata: { name: "istio-revision-tag-stable", labels: { "istio.io/tag": "stable", "istio.io/rev": "1-31" } } }],
    });

  it("counts injected pods per revision, outside istio-system, and not the pods without a sidecar", () => {
    const m = observed();
    expect(m.revisions).toEqual(["1-30", "1-31"]);
    expect(m.podsByRevision).toEqual({ "1-30": ["apps/web-130-0", "apps/web-130-1"], "1-31": ["apps/db-131-0"] });
    expect(m.pods!.filter((p) => p.revision === undefined).map((p) => p.name)).toEqual(["batch-130-0"]);
    expect(m.namespacesByLabel).toEqual({ stable: ["apps"] });
    expect(m.legacyNamespaces).toEqual({ legacy: "enabled" });
    expect(m.tags).toEqual({ stable: "1-31" });
  });

  it("refuses removing 1-30 while pods it really injected run, naming them", () => {
    expect(removalProblems(istio(), observed())).toEqual([
      "obs:istio.revisions: removing revision '1-30' is refused: 2 running pod(s) injected by it (apps/web-130-0, apps/web-130-1); restart them onto another revision first. To remove it anyway add it to obs:istio.forceRemoveRevisions.",
    ]);
  });

  it("allows it once only pods of 1-31 and pods without a sidecar remain", () => {
    const m = meshFromObjects({ istiods: [istiod("1-30"), istiod("1-31")], pods: [...podsOf("1.31", "web", 2, "apps"), ...podsOf("1.30", "batch", 1, "apps")], namespaces: [] });
    expect(removalProblems(istio(), m)).toEqual([]);
  });

  it("reads the legacy istio-injection label and the marker of a namespace whose label the stack removed", () => {
    const m = meshFromObjects({ istiods: [], pods: [], namespaces: [ns("legacy", { "istio-injection": "enabled" }), { metadata: { name: "adopted", labels: { "istio.io/rev": "stable" }, annotations: { [ADOPTED_ANNOTATION]: "enabled" } } }] });
    expect(m.legacyNamespaces).toEqual({ legacy: "enabled" });
    expect(m.adoptedNamespaces).toEqual({ adopted: "enabled" });
  });
});

describe("canary guard rails", () => {
  it("resolves namespaces through tags", () => {
    expect(namespaceRevisions(istio())).toEqual({ apps: "1-31", batch: "1-31" });
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

describe("canary status", () => {
  const istio2 = (extra: Record<string, unknown>) =>
    parseConfig("dev", { kubernetes: { context: "x" }, logging: { enabled: false }, grafana: { enabled: false }, kiali: { enabled: false }, jaeger: { kafkaPassword: "test-kafka-password", cassandraPassword: "test-cassandra-password" }, istio: { revisions: [{ name: "1-30", version: "1.30" }, { name: "1-31", version: "1.31" }], ...extra } }, { istio: ["1.30", "1.31"] }).istio;

  it("counts pods by the revision that injected them, marks a namespace whose pods run another revision, and says what keeps a revision", () => {
    const observed = meshFromObjects({
      istiods: [istiod("1-30"), istiod("1-31")],
      pods: [...podsOf("1.30", "web", 2, "shop"), ...podsOf("1.31", "db", 1, "shop"), ...podsOf("1.30", "batch", 1, "shop"), ...podsOf("1.31", "web", 2, "blog")],
      namespaces: [],
      tagWebhooks: [{ metadata: { name: "istio-revision-tag-stable", labels: { "istio.io/tag": "stable", "istio.io/rev": "1-30" } } }],
    });
    const lines = canaryStatus("local", istio2({ tags: { stable: "1-31" }, namespaces: { shop: "stable", blog: "1-31" }, defaultRevision: "1-31" }), observed);
    expect(lines).toContain("blog                 1-31                  1-31               1-31: 2");
    expect(lines).toContain("shop                 stable                1-31               1-30: 2, 1-31: 1  (restart pending)");
    expect(lines).toContain("stable               1-31                  1-30");
    expect(lines).toContain("1-30                 no: used by 2 pod(s)");
    expect(lines).toContain("1-31                 no: used by tag stable, the default tag (obs:istio.defaultRevision), namespace shop, namespace blog, 3 pod(s)");
  });

  it("lists a namespace outside config that follows a tag by its own label, with the revision the tag moves it to", () => {
    const observed = meshFromObjects({
      istiods: [istiod("1-30"), istiod("1-31")],
      pods: [...podsOf("1.30", "web", 2, "team-a")],
      namespaces: [{ metadata: { name: "team-a", labels: { "istio.io/rev": "stable" } } }],
    });
    const lines = canaryStatus("local", istio2({ tags: { stable: "1-31" }, namespaces: { shop: "stable" }, defaultRevision: "1-31" }), observed);
    expect(lines).toContain("team-a               istio.io/rev=stable (own) 1-31               1-30: 2  (restart pending)");
    expect(lines.some((l) => l.startsWith("(own): a namespace outside obs:istio.namespaces"))).toBe(true);
    expect(lines).toContain("1-31                 no: used by tag stable, the default tag (obs:istio.defaultRevision), namespace shop, namespace team-a");
  });

  it("shows a revision nothing uses as removable", () => {
    const observed = meshFromObjects({ istiods: [istiod("1-30"), istiod("1-31")], pods: [...podsOf("1.31", "web", 2, "shop")], namespaces: [] });
    const lines = canaryStatus("local", istio2({ tags: { stable: "1-31" }, namespaces: { shop: "stable" }, defaultRevision: "1-31" }), observed);
    expect(lines).toContain("1-30                 yes");
  });
});
