// Container resources: one schema helper for every component's `resources` section, so a
// request above its limit is refused at preview (the API server would refuse it mid-`up`).
import { describe, expect, it } from "vitest";
import { schema } from "../../config/index.js";
import { EPHEMERAL_STORAGE, type Issue, referenceRows, resources } from "../../lib/schema.js";
import { problems } from "./config-problems.js";

const base = () => ({
  kubernetes: { context: "dev" },
  logging: { enabled: false } as Record<string, unknown>,
  grafana: { enabled: false } as Record<string, unknown>,
  kiali: { enabled: false } as Record<string, unknown>,
  istio: { revisions: [{ name: "1-30", version: "1.30" }], tags: { stable: "1-30" } as Record<string, string>, namespaces: { apps: "stable" } as Record<string, string> },
});

/** Every `resources` section of the stack's config, as a key path under `obs:` (from the reference rows). */
const sections = Object.entries(schema)
  .flatMap(([k, f]) => referenceRows(`obs:${k}`, f).map((r) => r[0]!))
  .filter((k) => k.endsWith(".resources.requests.ephemeral-storage") && !k.includes("[]") && !k.includes("<name>"))
  .map((k) => k.slice(0, -".requests.ephemeral-storage".length));

/** Sets `value` at a dotted `obs:` key path in a raw config. */
function setPath(raw: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.replace(/^obs:/, "").split(".");
  let o = raw;
  for (const p of parts.slice(0, -1)) o = (o[p] ??= {}) as Record<string, unknown>;
  o[parts.at(-1)!] = value;
}

describe("container resources", () => {
  it("gives every container cpu, memory and ephemeral storage, requests and limits", () => {
    const issues: Issue[] = [];
    const r = resources("x", { cpu: "100m", memory: "128Mi" }, { cpu: "1", memory: "256Mi", "ephemeral-storage": "2Gi" }).parse({}, "obs:x.resources", issues);
    expect(issues).toEqual([]);
    expect(r).toEqual({ requests: { cpu: "100m", memory: "128Mi", "ephemeral-storage": EPHEMERAL_STORAGE.request }, limits: { cpu: "1", memory: "256Mi", "ephemeral-storage": "2Gi" } });
  });

  it("finds the resources sections of every component (the walk below is not empty)", () => {
    expect(sections).toEqual(expect.arrayContaining(["obs:istio.pilot.resources", "obs:prometheus.resources", "obs:grafana.resources", "obs:kiali.resources", "obs:jaeger.kafka.resources", "obs:logging.elasticsearch.resources"]));
  });

  it.each(sections)("%s: a request above its limit is one issue naming the key, the value and the limit", (section) => {
    const raw = base() as Record<string, unknown>;
    // Grafana and Kiali are switched off in base(): their checks still parse the section
    setPath(raw, `${section}.requests.memory`, "64Gi");
    setPath(raw, `${section}.limits.memory`, "32Gi");
    setPath(raw, `${section}.requests.ephemeral-storage`, "3Gi");
    setPath(raw, `${section}.limits.ephemeral-storage`, "2Gi");
    const p = problems(raw).filter((l) => l.startsWith(section));
    expect(p).toEqual([
      `${section}.requests.memory = "64Gi": at most its limit, limits.memory = 32Gi (the API server refuses a request above its limit)`,
      `${section}.requests.ephemeral-storage = "3Gi": at most its limit, limits.ephemeral-storage = 2Gi (the API server refuses a request above its limit)`,
    ]);
  });

  it("compares quantities, not text: 1500m CPU is above a limit of 1, 1024Mi is not above 1Gi", () => {
    const issues: Issue[] = [];
    const f = resources("x", { cpu: "100m", memory: "128Mi" }, { cpu: "1", memory: "1Gi" });
    expect(f.parse({ requests: { memory: "1024Mi" } }, "obs:x.resources", issues)).toBeDefined();
    expect(issues).toEqual([]);
    expect(f.parse({ requests: { cpu: "1500m" } }, "obs:x.resources", issues)).toBeUndefined();
    expect(issues.map((i) => i.key)).toEqual(["obs:x.resources.requests.cpu"]);
  });
});
