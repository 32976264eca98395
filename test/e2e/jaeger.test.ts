// The generated Jaeger configs against the real jaeger binary (v2, an otelcol distribution):
// `jaeger validate` decodes every component's config with the pinned version's own structs.
// A missing binary fails these tests; it is never a skip.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { PASSWORD_ENV } from "../../components/jaeger/auth.js";
import { parseJaegerConfig, type JaegerConfig } from "../../components/jaeger/config.js";
import { collectorConfig, ingesterConfig, type OtelcolConfig, queryConfig } from "../../components/jaeger/jaeger-config.js";
import { toolPath } from "../../lib/tools.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "obs-e2e-jaeger-"));

function config(raw: Record<string, unknown>): JaegerConfig {
  const { config: c, issues } = parseJaegerConfig(raw);
  expect(issues).toEqual([]);
  return c!;
}

const shapes = {
  local: config({}),
  prod: config({ kafka: { brokers: 3, replicationFactor: 3, partitions: 12 }, cassandra: { nodes: 3, replicationFactor: 3, spanTtlHours: 168 }, ingester: { replicas: 3 } }),
};
const roles = { collector: collectorConfig, ingester: ingesterConfig, query: queryConfig };

// The passwords reach the configs through `${env:...}`, as the Deployments set them from the Secrets.
const PASSWORDS = { [PASSWORD_ENV.kafka]: "kafka-validate-pw", [PASSWORD_ENV.cassandra]: "cassandra-validate-pw" };

function validate(file: string, otelcol: OtelcolConfig | string, env: Record<string, string> = PASSWORDS): { status: number | null; output: string } {
  const bin = toolPath("jaeger");
  writeFileSync(file, typeof otelcol === "string" ? otelcol : stringify(otelcol));
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !Object.values(PASSWORD_ENV).includes(k as never)));
  const r = spawnSync(bin, ["validate", `--config=${file}`], { encoding: "utf8", timeout: 60_000, env: { ...clean, ...env } });
  return { status: r.status, output: `${r.stdout}\n${r.stderr}` };
}

describe("jaeger validate accepts the generated configs", () => {
  for (const [shape, cfg] of Object.entries(shapes)) {
    for (const [role, build] of Object.entries(roles)) {
      it(`${role} (${shape})`, () => {
        const r = validate(path.join(dir, `${shape}-${role}.yaml`), build({ namespace: "observability", clusterDomain: "cluster.local", config: cfg }));
        expect(r.status, r.output).toBe(0);
      });
    }
  }

  it("the Kafka login needs the password from the env: without it the collector's config is refused", () => {
    const r = validate(path.join(dir, "no-env-collector.yaml"), collectorConfig({ namespace: "observability", clusterDomain: "cluster.local", config: shapes.local }), {});
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/password is required/);
  });

  it("rejects a config with a misspelled key (the check has teeth)", () => {
    const bad = collectorConfig({ namespace: "observability", clusterDomain: "cluster.local", config: shapes.local });
    (bad.receivers.zipkin as Record<string, unknown>).endpont = "0.0.0.0:9411";
    const r = validate(path.join(dir, "bad-collector.yaml"), bad);
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/endpont/);
  });

  it("checks the Jaeger extensions too: a misspelled Cassandra schema key is rejected", () => {
    const bad = ingesterConfig({ namespace: "observability", clusterDomain: "cluster.local", config: shapes.local });
    const backend = (bad.extensions.jaeger_storage as { backends: Record<string, { cassandra: { schema: Record<string, unknown> } }> }).backends;
    Object.values(backend)[0]!.cassandra.schema.keyspac = "jaeger";
    const r = validate(path.join(dir, "bad-ingester.yaml"), bad);
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/invalid keys: keyspac/);
  });
});
