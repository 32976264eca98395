// Secret rotation on the local cluster (real engine, provider and API server; kwok runs the
// pods and completes the Jobs): the local stack up, then a new obs:logging.elasticPassword and
// one `up`. The preview names what will restart; afterwards the pods reading a password derived
// from it (Fluentd, the metrics exporter, Grafana) have new templates, Elasticsearch and Kibana
// do not, the bootstrap Job ran again under a new name, and a second preview is empty.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Stack } from "@pulumi/pulumi/automation/index.js";
import { getJson, projectStack, stackWorkDir, stopwatch } from "./helpers.js";

const { timings, timed } = stopwatch();
const NS = "observability";
const HASH = "observability-stack/secrets-hash";
const ROTATED = "rotated-elastic-pw-2026";

type Template = { metadata: { annotations?: Record<string, string> } };
const template = (kind: string, name: string, namespace = NS): Template => getJson(["get", kind, name, "-n", namespace]).spec.template;
const bootstrapJobs = () =>
  (getJson(["get", "jobs", "-n", NS, "-l", "app.kubernetes.io/name=es-bootstrap"]).items as { metadata: { name: string }; status: { succeeded?: number } }[]).map((j) => ({ name: j.metadata.name, succeeded: j.status.succeeded ?? 0 }));

function snapshot() {
  return {
    fluentd: template("daemonset", "logging-fluentd", `${NS}-logging`),
    exporter: template("deployment", "logging-es-exporter"),
    grafana: template("deployment", "grafana"),
    kibana: template("deployment", "logging-kibana"),
    elasticsearch: template("statefulset", "logging-es"),
    bootstrap: bootstrapJobs(),
  };
}

describe("local stack: rotating the Elasticsearch password", () => {
  let stack: Stack;
  let before: ReturnType<typeof snapshot>;
  beforeAll(async () => {
    stack = await projectStack("local", stackWorkDir("local"));
  });
  afterAll(async () => {
    console.log(`[e2e timings, s] ${JSON.stringify(timings)}`);
    if (stack) await timed("destroy", () => stack.destroy());
  });

  it("up brings the stack with a completed bootstrap Job and a secrets hash on every pod reading a password", async () => {
    const res = await timed("up", () => stack.up());
    expect(res.summary.result).toBe("succeeded");
    before = snapshot();
    expect(before.bootstrap).toHaveLength(1);
    expect(before.bootstrap[0]!.succeeded).toBe(1);
    for (const pod of ["fluentd", "exporter", "grafana", "kibana"] as const) expect(before[pod].metadata.annotations?.[HASH], pod).toMatch(/^[0-9a-f]{16}$/);
  });

  it("the preview of the rotation names the workloads that will restart and the Job that runs again", async () => {
    await stack.setConfig("obs:logging.elasticPassword", { value: ROTATED, secret: true }, true);
    const res = await timed("preview", () => stack.preview());
    // the preview's table: one line per resource with its operation ("update", "replace", ...)
    const changed = res.stdout.split("\n").filter((l) => /\s(update|replace|create-replacement)(\s|$)/.test(l));
    const line = (type: string, name: string) => changed.find((l) => l.includes(type) && new RegExp(`\\s${name}\\s`).test(`${l} `));
    for (const [type, name] of [["kubernetes:apps/v1:DaemonSet", "logging-fluentd"], ["kubernetes:apps/v1:Deployment", "logging-es-exporter"], ["kubernetes:apps/v1:Deployment", "grafana"], ["kubernetes:batch/v1:Job", "logging-es-bootstrap"]] as const) {
      expect(line(type, name), `${type} ${name} in:\n${changed.join("\n")}`).toBeDefined();
    }
    console.log(`[e2e] rotation preview:\n${changed.join("\n")}`);
    // the workloads roll in place (a replacement would delete them first)
    for (const name of ["logging-fluentd", "logging-es-exporter", "grafana"]) expect(changed.find((l) => new RegExp(`\\s${name}\\s`).test(`${l} `)), name).toMatch(/\supdate\s/);
    // neither Elasticsearch nor Kibana reads the elastic password
    expect(line("kubernetes:apps/v1:StatefulSet", "logging-es")).toBeUndefined();
    expect(line("kubernetes:apps/v1:Deployment", "logging-kibana")).toBeUndefined();
    expect(res.stdout).not.toContain(ROTATED);
  });

  it("one up rolls exactly those pods and runs the bootstrap again", async () => {
    const res = await timed("rotation up", () => stack.up());
    expect(res.summary.result).toBe("succeeded");
    expect(res.stdout).not.toContain(ROTATED);
    const after = snapshot();
    for (const pod of ["fluentd", "exporter", "grafana"] as const) expect(after[pod].metadata.annotations?.[HASH], pod).not.toBe(before[pod].metadata.annotations?.[HASH]);
    expect(after.kibana).toEqual(before.kibana);
    expect(after.elasticsearch).toEqual(before.elasticsearch);
    // a new Job (its name follows its template), which completed; the old one is gone
    expect(after.bootstrap).toHaveLength(1);
    expect(after.bootstrap[0]!.name).not.toBe(before.bootstrap[0]!.name);
    expect(after.bootstrap[0]!.succeeded).toBe(1);
    // the rotated value is in the Secret, base64 as the API keeps it, and nowhere in a template
    const secret = getJson(["get", "secret", "logging-es-elastic", "-n", NS]);
    expect(Buffer.from(secret.data.password, "base64").toString()).toBe(ROTATED);
    expect(JSON.stringify(after)).not.toContain(ROTATED);
    console.log(`[e2e] rotation up: ${timings["rotation up"]} s, ${JSON.stringify(res.summary.resourceChanges)}`);
  });

  it("a second preview plans no change", async () => {
    const res = await timed("second preview", () => stack.preview());
    const changes = Object.entries(res.changeSummary).filter(([op, n]) => op !== "same" && n > 0);
    expect(changes).toEqual([]);
  });
});
