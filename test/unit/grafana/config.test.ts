// obs:grafana through the whole stack config: defaults, the admin password secret, and every
// bad input reported with key, value and what is allowed.
import { describe, expect, it } from "vitest";
import { problems } from "../config-problems.js";
import { parseConfig } from "../../../config/index.js";

const pinned = { istio: ["1.30", "1.31"] };
const base = (grafana: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  kubernetes: { context: "dev" },
  logging: { enabled: false },
  kiali: { enabled: false },
  jaeger: { kafkaPassword: "test-kafka-password", cassandraPassword: "test-cassandra-password" },
  istio: { revisions: [{ name: "1-30", version: "1.30" }] },
  grafana,
  ...extra,
});


describe("obs:grafana", () => {
  it("is on by default, its password a secret kept out of the typed config", () => {
    const c = parseConfig("dev", base({ adminPassword: "s3cret-admin" }), pinned);
    expect(c.grafana).toMatchObject({ enabled: true, storageSize: "5Gi", expose: false, extraDashboards: [] });
    expect(c.secrets.grafana).toEqual({ adminPassword: "s3cret-admin" });
    expect(JSON.stringify({ ...c, secrets: undefined })).not.toContain("s3cret-admin");
  });

  it("requires the admin password unless disabled, and never repeats a bad one", () => {
    expect(problems(base({}))).toEqual(["obs:grafana.adminPassword = undefined: required: a secret (pulumi config set --secret --path obs:grafana.adminPassword <password>)"]);
    expect(problems(base({ adminPassword: "abc" }))).toEqual(['obs:grafana.adminPassword = "(secret)": a password of at least 6 characters']);
    expect(problems(base({ enabled: false }))).toEqual([]);
  });

  it("refuses Grafana without Prometheus (and Alertmanager without it, which has its own line)", () => {
    expect(problems(base({ adminPassword: "s3cret-admin" }, { prometheus: { enabled: false } }))).toEqual([
      "obs:grafana.enabled = true: false while obs:prometheus.enabled is false (every mesh and stack dashboard reads Prometheus)",
      "obs:alerting.enabled = true: false while obs:prometheus.enabled is false (the alerts come from Prometheus's rules)",
    ]);
    expect(problems(base({ adminPassword: "s3cret-admin" }, { prometheus: { enabled: false }, alerting: { enabled: false } }))).toEqual(["obs:grafana.enabled = true: false while obs:prometheus.enabled is false (every mesh and stack dashboard reads Prometheus)"]);
  });

  it("checks exposure, storage class and extra dashboard paths", () => {
    expect(problems(base({ adminPassword: "s3cret-admin", expose: true, storageClass: "Fast_SSD", extraDashboards: ["/etc/d.json", "a/../b.json", "x/dup.json", "y/dup.json", "notjson.yaml"] }))).toEqual([
      "obs:grafana.storageClass = \"Fast_SSD\": a StorageClass name (DNS-1123 subdomain) or empty (the cluster's default class)",
      'obs:grafana.extraDashboards[4] = "notjson.yaml": a path to a .json file, relative to the project directory',
    ]);
    expect(problems(base({ adminPassword: "s3cret-admin", expose: true, storageClass: "fast-ssd", extraDashboards: ["/etc/d.json", "a/../b.json", "x/dup.json", "y/dup.json"] }))).toEqual([
      'obs:grafana.host = "": a host name (required when obs:grafana.expose is true)',
      'obs:grafana.extraDashboards[0] = "/etc/d.json": a path inside the project directory (relative, without ..)',
      'obs:grafana.extraDashboards[1] = "a/../b.json": a path inside the project directory (relative, without ..)',
      'obs:grafana.extraDashboards[3] = "y/dup.json": a file name not used by another extra dashboard (dup.json)',
    ]);
  });
});
