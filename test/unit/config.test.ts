import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { problems } from "./config-problems.js";
import { parse } from "yaml";
import { parseConfig, schema } from "../../config/index.js";
import { effectiveRevision } from "../../components/istio/config.js";
import { referenceRows } from "../../lib/schema.js";
import { receiverSecretPaths } from "../../components/prometheus/alerting/config.js";

const pinned = { istio: ["1.30", "1.31"] };
const base = () => ({
  kubernetes: { context: "dev" },
  logging: { enabled: false } as Record<string, unknown>,
  grafana: { enabled: false } as Record<string, unknown>,
  kiali: { enabled: false } as Record<string, unknown>,
  jaeger: { kafkaPassword: "test-kafka-password", cassandraPassword: "test-cassandra-password" } as Record<string, unknown>,
  istio: { revisions: [{ name: "1-30", version: "1.30" }], tags: { stable: "1-30" } as Record<string, string>, namespaces: { apps: "stable" } as Record<string, string> },
});


describe("config schema", () => {
  it("applies defaults in one place", () => {
    const c = parseConfig("dev", base(), pinned);
    expect(c.istio.profile).toBe("default");
    expect(c.istio.mtls).toBe("STRICT");
    expect(c.istio.pilot.resources.requests.cpu).toBe("500m");
    expect(c.istio.samplingPercent).toBe(1);
    expect(c.namespace).toBe("observability");
    expect(c.clusterDomain).toBe("cluster.local");
    expect(c.deprecations).toEqual([]);
    expect(c.retainOnDelete).toBe(true);
    expect(c.stack).toBe("dev");
  });

  it("rejects an unknown profile naming key, value and the allowed ones", () => {
    const raw = base();
    (raw.istio as Record<string, unknown>).profile = "ambient-ish";
    expect(problems(raw)).toEqual(['obs:istio.profile = "ambient-ish": one of default, demo, minimal, empty']);
  });

  it("rejects a revision name that is not a DNS-1123 label", () => {
    const raw = base();
    raw.istio.revisions = [{ name: "1.30", version: "1.30" }];
    raw.istio.tags = {};
    raw.istio.namespaces = {};
    expect(problems(raw)[0]).toMatch(/^obs:istio\.revisions\[0\]\.name = "1\.30": a DNS-1123 label/);
  });

  it("rejects an Istio version without a pinned istioctl", () => {
    const raw = base();
    raw.istio.revisions = [{ name: "1-28", version: "1.28" }];
    raw.istio.tags = {};
    raw.istio.namespaces = {};
    expect(problems(raw)).toEqual(['obs:istio.revisions[0].version = "1.28": an Istio version with a pinned istioctl: 1.30, 1.31']);
  });

  it("rejects a namespace mapped to a tag or revision that does not exist", () => {
    const raw = base();
    raw.istio.namespaces = { apps: "canary" };
    expect(problems(raw)).toEqual(['obs:istio.namespaces.apps = "canary": a revision or tag (1-30, stable, default)']);
  });

  it("rejects a tag pointing at an unknown revision", () => {
    const raw = base();
    raw.istio.tags = { stable: "1-31" };
    expect(problems(raw)).toContain('obs:istio.tags.stable = "1-31": a revision in obs:istio.revisions (1-30)');
  });

  it.each([[-1], [100.5], ["lots"]])("rejects sampling rate %s outside 0-100", (v) => {
    expect(problems({ ...base(), tracing: { samplingPercent: v } })).toEqual([`obs:tracing.samplingPercent = ${JSON.stringify(v)}: a number >= 0 and <= 100`]);
  });

  it.each([[-1], [100.5], ["lots"]])("rejects sampling rate %s under its new key obs:istio.samplingPercent", (v) => {
    const raw = base();
    (raw.istio as Record<string, unknown>).samplingPercent = v;
    expect(problems(raw)).toEqual([`obs:istio.samplingPercent = ${JSON.stringify(v)}: a number >= 0 and <= 100`]);
  });

  it("accepts the old obs:tracing keys for one release, moved to their new place with one message each", () => {
    const c = parseConfig("dev", { ...base(), tracing: { samplingPercent: 7, namespace: "obs-old" } }, pinned);
    expect(c.istio.samplingPercent).toBe(7);
    expect(c.namespace).toBe("obs-old");
    expect(c.deprecations).toEqual([
      "obs:tracing.samplingPercent is deprecated: set obs:istio.samplingPercent instead (the old key is accepted until the next release)",
      "obs:tracing.namespace is deprecated: set obs:namespace instead (the old key is accepted until the next release)",
    ]);
    expect("tracing" in c).toBe(false);
  });

  it("refuses an old key set together with its replacement", () => {
    const raw = { ...base(), namespace: "new", tracing: { namespace: "old" } };
    expect(problems(raw)).toEqual(['obs:tracing.namespace = "old": not set together with its replacement obs:namespace (remove obs:tracing.namespace)']);
  });

  it("rejects unknown keys at every level instead of falling back to defaults", () => {
    const raw = { ...base(), tracnig: { samplingPercent: 5 } } as Record<string, unknown>;
    (raw.istio as Record<string, unknown>).piolt = { replicas: 3 };
    const p = problems(raw);
    expect(p).toHaveLength(2);
    expect(p[0]).toMatch(/^obs:tracnig = .*unknown key; known: environment, clusterName, kubernetes/);
    expect(p[1]).toMatch(/^obs:istio\.piolt = .*unknown key/);
  });

  it("reports every problem at once", () => {
    const raw = base();
    (raw.istio as Record<string, unknown>).profile = "nope";
    (raw.istio as Record<string, unknown>).mtls = "OFF";
    expect(() => parseConfig("prod", { ...raw, tracing: { samplingPercent: 101 } }, pinned)).toThrowError(/stack 'prod' \(config\/Pulumi\.prod\.yaml\), 3 problem\(s\)/);
  });

  it("refuses a context and a renderDir together, and neither", () => {
    expect(problems({ ...base(), kubernetes: { context: "a", renderDir: "/tmp/x" } })[0]).toMatch(/exactly one of context or renderDir, never both/);
    expect(problems({ ...base(), kubernetes: {} })[0]).toMatch(/^obs:kubernetes = \{\}: exactly one of context or renderDir/);
  });

  it("resolves a namespace's revision through tags", () => {
    const c = parseConfig("dev", base(), pinned);
    expect(effectiveRevision(c.istio, "stable")).toBe("1-30");
    expect(effectiveRevision(c.istio, "1-30")).toBe("1-30");
    expect(effectiveRevision(c.istio, "other")).toBeUndefined();
  });

  const stackFile = (stack: string) => {
    const doc = parse(readFileSync(new URL(`../../config/Pulumi.${stack}.yaml`, import.meta.url), "utf8"));
    return Object.fromEntries(Object.entries(doc.config).filter(([k]) => k.startsWith("obs:")).map(([k, v]) => [k.slice(4), v])) as Record<string, any>;
  };

  it.each(["local", "dev", "staging", "prod"])("the %s stack file parses (with its secrets decrypted)", (stack) => {
    const raw = stackFile(stack);
    // what `pulumi config set --secret --path obs:logging.<key>` provides, decrypted, at run time
    raw.logging = { ...raw.logging, elasticPassword: "decrypted-1", kibanaPassword: "decrypted-2" };
    raw.grafana = { ...raw.grafana, adminPassword: "decrypted-3" };
    raw.jaeger = { ...raw.jaeger, kafkaPassword: "decrypted-5", cassandraPassword: "decrypted-6" };
    if (stack !== "local") raw.kiali = { ...raw.kiali, signingKey: "decrypted-4-0123456789" };
    // each receiver's URL, key or password: obs:alerting.receivers.<name>.<key>
    for (const p of receiverSecretPaths(raw.alerting)) {
      const [, name, key] = p.split(".");
      raw.alerting.receivers[name!][key!] = `decrypted-${name}`;
    }
    const c = parseConfig(stack, raw, pinned);
    expect(c.environment).toBe(stack);
    expect(c.secrets.logging).toEqual({ elasticPassword: "decrypted-1", kibanaPassword: "decrypted-2" });
    expect(c.secrets.grafana).toEqual({ adminPassword: "decrypted-3" });
    expect(c.secrets.jaeger).toEqual({ kafkaPassword: "decrypted-5", cassandraPassword: "decrypted-6" });
    expect(JSON.stringify({ ...c, secrets: undefined })).not.toContain("decrypted-");
  });

  it("names the missing secrets and the command that sets them", () => {
    const raw = stackFile("prod");
    expect(problems(raw)).toEqual([
      "obs:logging.elasticPassword = undefined: required: a secret (pulumi config set --secret --path obs:logging.elasticPassword <password>)",
      "obs:logging.kibanaPassword = undefined: required: a secret (pulumi config set --secret --path obs:logging.kibanaPassword <password>)",
      "obs:grafana.adminPassword = undefined: required: a secret (pulumi config set --secret --path obs:grafana.adminPassword <password>)",
      'obs:kiali.signingKey = undefined: required with auth.strategy token: a secret of at least 16 characters (pulumi config set --secret --path obs:kiali.signingKey "$(openssl rand -hex 16)")',
      "obs:jaeger.kafkaPassword = undefined: required: a secret (pulumi config set --secret --path obs:jaeger.kafkaPassword <password>)",
      "obs:jaeger.cassandraPassword = undefined: required: a secret (pulumi config set --secret --path obs:jaeger.cassandraPassword <password>)",
      "obs:alerting.receivers.oncall.routingKey = undefined: required for a pagerduty receiver: a secret (pulumi config set --secret --path obs:alerting.receivers.oncall.routingKey <value>)",
      "obs:alerting.receivers.platform.apiUrl = undefined: required for a slack receiver: a secret (pulumi config set --secret --path obs:alerting.receivers.platform.apiUrl <value>)",
      "obs:alerting.receivers.payments-team.authPassword = undefined: required for an email receiver: a secret (pulumi config set --secret --path obs:alerting.receivers.payments-team.authPassword <value>)",
      "obs:alerting.receivers.deadmans.url = undefined: required for a webhook receiver: a secret (pulumi config set --secret --path obs:alerting.receivers.deadmans.url <value>)",
    ]);
  });

  it("documents every key", () => {
    const rows = Object.entries(schema).flatMap(([k, f]) => referenceRows(`obs:${k}`, f));
    for (const r of rows) expect(r[3], r[0]).toBeTruthy();
    expect(rows.map((r) => r[0])).toContain("obs:istio.revisions[].name");
  });
});

describe("config read by the scripts around pulumi", () => {
  it("parses a stack file holding encrypted secrets without decrypting them", async () => {
    const { readStackConfig } = await import("../../config/target.js");
    const c = readStackConfig("local");
    expect(c.istio.revisions[0]!.name).toBe("1-30");
    expect(c.secrets.logging?.elasticPassword).toBe("encrypted-not-read");
    expect(c.secrets.grafana?.adminPassword).toBe("encrypted-not-read");
    expect(c.secrets.jaeger).toEqual({ kafkaPassword: "encrypted-not-read", cassandraPassword: "encrypted-not-read" });
  });
});

describe("outbound traffic per stack", () => {
  it.each([["local", "ALLOW_ANY"], ["dev", "ALLOW_ANY"], ["staging", "REGISTRY_ONLY"], ["prod", "REGISTRY_ONLY"]])("%s: %s", (stack, mode) => {
    const doc = parse(readFileSync(new URL(`../../config/Pulumi.${stack}.yaml`, import.meta.url), "utf8"));
    const raw = { ...doc.config["obs:istio"] };
    const c = parseConfig(stack, { kubernetes: { context: stack }, logging: { enabled: false }, grafana: { enabled: false }, kiali: { enabled: false }, jaeger: { kafkaPassword: "test-kafka-password", cassandraPassword: "test-cassandra-password" }, istio: raw }, pinned);
    expect(c.istio.outboundTrafficPolicy).toBe(mode);
  });
});
