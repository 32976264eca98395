// The canary step's workload migration: the plan (pure) from pods shaped by the real injector, and
// its resources under Pulumi mocks.
import { beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../../config/index.js";
import { meshFromObjects, meshNamespaceRevisions, migrationTarget, RESTART_ANNOTATION } from "../../../components/istio/guard.js";
import { describeRestart, MIGRATION_FIELD_MANAGER, planMigration } from "../../../components/istio/migration.js";
import { type Created, recordResources } from "../mocks.js";
import { podsOf, workloadObjects } from "./injected.js";

const config = (istio: Record<string, unknown>) =>
  parseConfig("dev", { kubernetes: { context: "x" }, logging: { enabled: false }, grafana: { enabled: false }, kiali: { enabled: false }, jaeger: { kafkaPassword: "test-kafka-password", cassandraPassword: "test-cassandra-password" }, istio: { revisions: [{ name: "1-30", version: "1.30" }, { name: "1-31", version: "1.31" }], ...istio } }, { istio: ["1.30", "1.31"] }).istio;
const istiod = (rev: string) => ({ metadata: { name: `istiod-${rev}`, namespace: "istio-system", labels: { app: "istiod", "istio.io/rev": rev } } });

/** shop and blog on tag stable, which moves to 1-31; ops stays on 1-30; every pod injected by 1-30. */
function canaryStep() {
  const istio = config({ tags: { stable: "1-31" }, namespaces: { shop: "stable", blog: "stable", ops: "1-30" } });
  const observed = meshFromObjects({
    istiods: [istiod("1-30"), istiod("1-31")],
    pods: [...podsOf("1.30", "web", 2, "shop"), ...podsOf("1.30", "db", 1, "shop"), ...podsOf("1.30", "agent", 3, "shop"), ...podsOf("1.30", "batch", 1, "shop"), ...podsOf("1.30", "web", 2, "blog"), ...podsOf("1.30", "web", 2, "ops"), ...podsOf("1.30", "web", 1, "elsewhere")],
    namespaces: [],
    workloads: [...workloadObjects("1.30", "shop"), ...workloadObjects("1.30", "blog").filter((w) => w.metadata.name === "web"), ...workloadObjects("1.30", "ops"), ...workloadObjects("1.30", "elsewhere")],
  });
  return { istio, observed };
}

describe("planning the migration", () => {
  it("restarts every workload of a moved namespace whose pods run another revision, names each, and nothing else", () => {
    const { istio, observed } = canaryStep();
    const plan = planMigration(migrationTarget(istio, observed), observed, 2);
    expect(plan.batches.map((b) => b.map(describeRestart))).toEqual([
      ["blog/deployment/web: 2 pod(s) on 1-30 -> 1-31", "shop/daemonset/agent: 3 pod(s) on 1-30 -> 1-31"],
      ["shop/deployment/web: 2 pod(s) on 1-30 -> 1-31", "shop/statefulset/db: 1 pod(s) on 1-30 -> 1-31"],
    ]);
    // batch (opted out, no sidecar) is not restarted; ops is on its revision; elsewhere is not the stack's
    expect(plan.kept).toEqual([]);
    for (const r of plan.batches.flat()) expect(r.value).toMatch(/^1-31-[0-9a-f]{10}$/);
  });

  it("also restarts the workloads of namespaces outside config whose own label follows a tag the stack moves, and only those", () => {
    const istio = config({ tags: { stable: "1-31" }, defaultRevision: "1-31", namespaces: { shop: "stable" } });
    const ns = (name: string, labels: Record<string, string>) => ({ metadata: { name, labels } });
    const names = ["shop", "team-a", "team-b", "pinned", "opted-out", "plain"];
    const observed = meshFromObjects({
      istiods: [istiod("1-30"), istiod("1-31")],
      pods: names.flatMap((n) => podsOf("1.30", "web", 1, n)),
      namespaces: [
        ns("team-a", { "istio.io/rev": "stable" }),
        ns("team-b", { "istio-injection": "enabled" }),
        ns("pinned", { "istio.io/rev": "1-30" }),
        // the legacy label takes precedence over istio.io/rev in every injector: not injected by the tag
        ns("opted-out", { "istio-injection": "disabled", "istio.io/rev": "stable" }),
      ],
      workloads: names.flatMap((n) => workloadObjects("1.30", n).filter((w) => w.metadata.name === "web")),
    });
    expect(meshNamespaceRevisions(istio, observed)).toEqual({ shop: "1-31", "team-a": "1-31", "team-b": "1-31" });
    const plan = planMigration(migrationTarget(istio, observed), observed, 10);
    expect(plan.batches.flat().map(describeRestart)).toEqual([
      "shop/deployment/web: 1 pod(s) on 1-30 -> 1-31",
      "team-a/deployment/web: 1 pod(s) on 1-30 -> 1-31",
      "team-b/deployment/web: 1 pod(s) on 1-30 -> 1-31",
    ]);
    // config's label wins over what the namespace has in the cluster now
    const relabelled = config({ tags: { stable: "1-31" }, defaultRevision: "1-31", namespaces: { shop: "stable", "team-a": "1-30" } });
    expect(meshNamespaceRevisions(relabelled, observed)["team-a"]).toBe("1-30");
  });

  it("in a namespace that names no revision, follows what the pod labels select: istio.io/rev=<tag> its tag, sidecar.istio.io/inject=true the default tag", () => {
    const istio = config({ tags: { stable: "1-31" }, defaultRevision: "1-31" });
    const web = (ns: string, labels: Record<string, string>) =>
      workloadObjects("1.30", ns)
        .filter((w) => w.metadata.name === "web")
        .map((w) => ({ ...w, spec: { ...w.spec, template: { ...w.spec.template, metadata: { ...w.spec.template.metadata, labels: { ...w.spec.template.metadata.labels, ...labels } } } } }));
    const cases: [string, Record<string, string>][] = [
      ["by-tag", { "istio.io/rev": "stable" }],
      ["by-default", { "sidecar.istio.io/inject": "true" }],
      ["by-revision", { "istio.io/rev": "1-30" }],
      ["unlabelled", {}],
      ["labelled-ns", { "sidecar.istio.io/inject": "true" }],
    ];
    const observed = meshFromObjects({
      istiods: [istiod("1-30"), istiod("1-31")],
      pods: cases.flatMap(([ns]) => podsOf("1.30", "web", 1, ns)),
      // a namespace label is what the injectors read first: pod labels do not count there
      namespaces: [{ metadata: { name: "labelled-ns", labels: { "istio.io/rev": "1-30" } } }],
      workloads: cases.flatMap(([ns, labels]) => web(ns, labels)),
    });
    expect(planMigration(migrationTarget(istio, observed), observed, 10).batches.flat().map(describeRestart)).toEqual([
      "by-default/deployment/web: 1 pod(s) on 1-30 -> 1-31",
      "by-tag/deployment/web: 1 pod(s) on 1-30 -> 1-31",
    ]);
  });

  it("restarts nothing in a namespace being deleted, nor a workload being deleted (their rollouts could never finish)", () => {
    const istio = config({ tags: { stable: "1-31" }, namespaces: { shop: "stable", gone: "stable" } });
    const deleting = { deletionTimestamp: "2026-12-02T10:00:00Z" };
    const observed = meshFromObjects({
      istiods: [istiod("1-30"), istiod("1-31")],
      pods: [...podsOf("1.30", "web", 1, "shop"), ...podsOf("1.30", "db", 1, "shop"), ...podsOf("1.30", "web", 1, "gone")],
      namespaces: [{ metadata: { name: "gone", labels: { "istio.io/rev": "stable" }, ...deleting } }],
      workloads: [
        ...workloadObjects("1.30", "shop").map((w) => (w.metadata.name === "db" ? { ...w, metadata: { ...w.metadata, ...deleting } } : w)),
        ...workloadObjects("1.30", "gone").filter((w) => w.metadata.name === "web"),
      ],
    });
    expect(planMigration(migrationTarget(istio, observed), observed, 10).batches.flat().map(describeRestart)).toEqual(["shop/deployment/web: 1 pod(s) on 1-30 -> 1-31"]);
  });

  it("converges: once the pods run 1-31 nothing restarts, and a workload restarted before keeps its value (no change planned)", () => {
    const istio = config({ tags: { stable: "1-31" }, namespaces: { shop: "stable" } });
    const workloads = workloadObjects("1.31", "shop").map((w) => (w.metadata.name === "web" ? { ...w, spec: { ...w.spec, template: { ...w.spec.template, metadata: { ...w.spec.template.metadata, annotations: { ...w.spec.template.metadata.annotations, [RESTART_ANNOTATION]: "1-31-0123456789" } } } } } : w));
    const observed = meshFromObjects({ istiods: [istiod("1-31")], pods: [...podsOf("1.31", "web", 2, "shop"), ...podsOf("1.31", "db", 1, "shop")], namespaces: [], workloads });
    const plan = planMigration(migrationTarget(istio, observed), observed, 5);
    expect(plan.batches).toEqual([]);
    expect(plan.kept.map((k) => [k.workload.name, k.value])).toEqual([["web", "1-31-0123456789"]]);
  });

  it("restarts again what a killed run or a failed rollout left on the old revision, with a new value", () => {
    const istio = config({ tags: { stable: "1-31" }, namespaces: { shop: "stable" } });
    const leftOver = podsOf("1.30", "web", 1, "shop");
    const observed = (pods: ReturnType<typeof podsOf>) => meshFromObjects({ istiods: [istiod("1-30"), istiod("1-31")], pods, namespaces: [], workloads: workloadObjects("1.30", "shop").filter((w) => w.metadata.name === "web") });
    const plan = (o: ReturnType<typeof observed>) => planMigration(migrationTarget(istio, o), o, 5);
    const first = plan(observed([...podsOf("1.30", "web", 2, "shop")])).batches.flat();
    const again = plan(observed([...leftOver, ...podsOf("1.31", "web", 1, "shop")])).batches.flat();
    expect(again.map(describeRestart)).toEqual(["shop/deployment/web: 1 pod(s) on 1-30 -> 1-31"]);
    expect(again[0]!.value).not.toBe(first[0]!.value);
    // the same cluster state gives the same plan: preview and up agree
    expect(plan(observed([...leftOver]))).toEqual(plan(observed([...leftOver])));
  });
});

describe("the migration's resources", () => {
  const created: Created[] = [];
  beforeAll(async () => {
    await recordResources(created);
  });

  it("one Patch per workload that sets only the restart annotation, under a fixed field manager; batches in order, paused between", async () => {
    const { IstioMigration } = await import("../../../components/istio/migration.js");
    const { istio, observed } = canaryStep();
    const withPause = { ...istio, migration: { ...istio.migration, batchSize: 2, pauseSeconds: 1 } };
    const plan = planMigration(migrationTarget(withPause, observed), observed, 2);
    const t0 = Date.now();
    const m = new IstioMigration("istio-migration", { istio: withPause, plan, after: [] });
    expect(m.restarting).toEqual(["blog/deployment/web", "shop/daemonset/agent", "shop/deployment/web", "shop/statefulset/db"]);
    await new Promise((r) => setTimeout(r, 1800));
    const patches = created.filter((c) => c.type.startsWith("kubernetes:apps/v1:"));
    // the second batch registers only once the first one's rollouts are done (and the pause is over)
    const names = patches.map((p) => `${p.type} ${p.name}`);
    expect([names.slice(0, 2).sort(), names.slice(2).sort()]).toEqual([
      ["kubernetes:apps/v1:DaemonSetPatch istio-migration/shop/daemonset/agent", "kubernetes:apps/v1:DeploymentPatch istio-migration/blog/deployment/web"],
      ["kubernetes:apps/v1:DeploymentPatch istio-migration/shop/deployment/web", "kubernetes:apps/v1:StatefulSetPatch istio-migration/shop/statefulset/db"],
    ]);
    for (const p of patches) {
      expect(p.inputs.metadata.annotations).toEqual({ "pulumi.com/patchFieldManager": MIGRATION_FIELD_MANAGER });
      expect(Object.keys(p.inputs).sort()).toEqual(["apiVersion", "kind", "metadata", "spec"]);
      expect(p.inputs.spec).toEqual({ template: { metadata: { annotations: { [RESTART_ANNOTATION]: expect.stringMatching(/^1-31-[0-9a-f]{10}$/) } } } });
    }
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
  });
});

describe("bad input", () => {
  const problems = (istio: Record<string, unknown>) => {
    try {
      config(istio);
      return "";
    } catch (e) {
      return (e as Error).message;
    }
  };
  it("names the key, the value and what is allowed", () => {
    expect(problems({ migration: { batchSize: 0 } })).toMatch(/obs:istio\.migration\.batchSize.*0.*an integer >= 1/);
    expect(problems({ migration: { batchSize: -3 } })).toMatch(/obs:istio\.migration\.batchSize.*-3.*an integer >= 1/);
    expect(problems({ migration: { pauseSeconds: -1 } })).toMatch(/obs:istio\.migration\.pauseSeconds.*-1.*a number >= 0/);
    expect(problems({ defaultRevision: "1-29" })).toMatch(/obs:istio\.defaultRevision.*1-29.*a revision in obs:istio\.revisions \(1-30, 1-31\)/);
    expect(problems({ defaultRevision: "1-31", tags: { default: "1-30" } })).toMatch(/obs:istio\.tags\.default.*1-30.*the revision of obs:istio\.defaultRevision \(1-31\)/);
    expect(problems({ defaultRevision: "1-31", migration: { batchSize: 3, pauseSeconds: 10 } })).toBe("");
  });
});
