import { describe, expect, it } from "vitest";
import type { Issue } from "../../../lib/schema.js";
import { checkLogging, checkPassword, type LoggingConfig, loggingSchema } from "../../../components/logging/config.js";

function parse(raw: unknown): { config?: LoggingConfig; problems: string[] } {
  const issues: Issue[] = [];
  const config = loggingSchema.parse(raw, "obs:logging", issues);
  if (config) checkLogging(config, issues);
  return { config, problems: issues.map((i) => `${i.key} = ${JSON.stringify(i.value)}: ${i.allowed}`) };
}

describe("obs:logging schema", () => {
  it("defaults to one small Elasticsearch node, a week of retention and Kibana not exposed", () => {
    const { config, problems } = parse({});
    expect(problems).toEqual([]);
    expect(config).toMatchObject({ enabled: true, retentionDays: 7, rolloverSize: "10gb" });
    expect(config!.elasticsearch).toMatchObject({ nodes: 1, heap: "1g", storageSize: "10Gi", storageClass: "", setMaxMapCount: true });
    expect(config!.fluentd.bufferLimit).toBe("2GB");
    expect(config!.kibana).toMatchObject({ expose: false, host: "", tlsSecretName: "kibana-tls" });
  });

  it("reports every field problem at once with its key", () => {
    const { problems } = parse({ elasticsearch: { nodes: 12, heap: "1.5g", storageSize: "lots" }, retentionDays: 0, rolloverSize: "10G", fluentd: { bufferLimit: "1.5GB" }, kibana: { expose: "yes" }, bogus: 1 });
    expect(problems).toEqual([
      expect.stringMatching(/^obs:logging\.bogus = 1: a known key/),
      "obs:logging.elasticsearch.nodes = 12: an integer >= 1 and <= 9",
      'obs:logging.elasticsearch.heap = "1.5g": a JVM size such as 512m or 2g',
      expect.stringMatching(/^obs:logging\.elasticsearch\.storageSize = "lots": a Kubernetes quantity/),
      "obs:logging.retentionDays = 0: an integer >= 1",
      'obs:logging.rolloverSize = "10G": an Elasticsearch byte size such as 500mb or 10gb',
      'obs:logging.fluentd.bufferLimit = "1.5GB": a Fluentd size such as 512MB or 2GB',
      'obs:logging.kibana.expose = "yes": true or false',
    ]);
  });

  it("requires a host when Kibana is exposed", () => {
    expect(parse({ kibana: { expose: true } }).problems).toEqual(['obs:logging.kibana.host = "": a host name (required when obs:logging.kibana.expose is true)']);
    expect(parse({ kibana: { expose: true, host: "Kibana_example" } }).problems).toEqual(['obs:logging.kibana.host = "Kibana_example": a DNS host name such as kibana.example.com']);
    expect(parse({ kibana: { expose: true, host: "kibana.example.com", tlsSecretName: "Bad Name" } }).problems).toEqual(['obs:logging.kibana.tlsSecretName = "Bad Name": a Secret name (DNS-1123 subdomain) in the ingress gateway\'s namespace']);
    expect(parse({ kibana: { expose: true, host: "kibana.example.com" } }).problems).toEqual([]);
  });

  it("keeps the heap at most half the memory limit, below 31g and within the request", () => {
    expect(parse({ elasticsearch: { heap: "2g" } }).problems).toEqual([
      'obs:logging.elasticsearch.heap = "2g": at most half of elasticsearch.resources.limits.memory (2Gi); the rest is the filesystem cache Lucene relies on',
    ]);
    expect(parse({ elasticsearch: { resources: { requests: { memory: "512Mi" } } } }).problems).toEqual(['obs:logging.elasticsearch.resources.requests.memory = "512Mi": at least the heap (1g)']);
    expect(parse({ elasticsearch: { heap: "31g", resources: { requests: { memory: "64Gi" }, limits: { memory: "64Gi" } } } }).problems).toEqual(['obs:logging.elasticsearch.heap = "31g": below 31g (compressed object pointers)']);
    expect(parse({ elasticsearch: { heap: "512m", resources: { requests: { memory: "1Gi" }, limits: { memory: "1Gi" } } } }).problems).toEqual([]);
  });

  it("refuses two master-eligible nodes and a buffer too small for two outputs", () => {
    expect(parse({ elasticsearch: { nodes: 2 } }).problems).toEqual(["obs:logging.elasticsearch.nodes = 2: 1, or 3 or more (two master-eligible nodes cannot lose either one)"]);
    expect(parse({ fluentd: { bufferLimit: "32MB" } }).problems).toEqual(['obs:logging.fluentd.bufferLimit = "32MB": at least 64MB (two outputs, each a few 8MB chunks)']);
  });

  it("checks nothing across fields when logging is disabled", () => {
    expect(parse({ enabled: false, kibana: { expose: true } }).problems).toEqual([]);
  });

  it("accepts a production shape", () => {
    expect(parse({ elasticsearch: { nodes: 3, heap: "4g", storageSize: "200Gi", storageClass: "fast-ssd", resources: { requests: { cpu: "2", memory: "8Gi" }, limits: { cpu: "4", memory: "8Gi" } } }, retentionDays: 30, rolloverSize: "30gb", fluentd: { bufferLimit: "8GB" }, kibana: { expose: true, host: "kibana.prod.example.com" } }).problems).toEqual([]);
  });

  it("checks passwords without echoing them", () => {
    const issues: Issue[] = [];
    checkPassword("obs:logging.elasticPassword", "short", issues);
    checkPassword("obs:logging.kibanaPassword", "long-enough\n", issues);
    checkPassword("obs:logging.kibanaPassword", "long-enough", issues);
    expect(issues).toEqual([
      { key: "obs:logging.elasticPassword", value: "(secret)", allowed: "a password of at least 6 characters" },
      { key: "obs:logging.kibanaPassword", value: "(secret)", allowed: "a password without control characters" },
    ]);
  });
});

describe("obs:logging secrets", () => {
  it("takes the passwords out of the section before the schema sees it", async () => {
    const { takeLoggingSecrets } = await import("../../../components/logging/config.js");
    const issues: Issue[] = [];
    const { rest, secrets } = takeLoggingSecrets({ retentionDays: 3, elasticPassword: "el-pw-123", kibanaPassword: "ki-pw-456" }, issues);
    expect(issues).toEqual([]);
    expect(rest).toEqual({ retentionDays: 3 });
    expect(secrets).toEqual({ elasticPassword: "el-pw-123", kibanaPassword: "ki-pw-456" });
    expect(parse(rest).problems).toEqual([]);
  });

  it("requires both when logging is enabled, and never echoes them", async () => {
    const { takeLoggingSecrets } = await import("../../../components/logging/config.js");
    const issues: Issue[] = [];
    expect(takeLoggingSecrets({ elasticPassword: "abc" }, issues).secrets).toBeUndefined();
    expect(issues).toEqual([
      { key: "obs:logging.elasticPassword", value: "(secret)", allowed: "a password of at least 6 characters" },
      { key: "obs:logging.kibanaPassword", value: undefined, allowed: "required: a secret (pulumi config set --secret --path obs:logging.kibanaPassword <password>)" },
    ]);
    const none: Issue[] = [];
    expect(takeLoggingSecrets({ enabled: false }, none)).toEqual({ rest: { enabled: false } });
    expect(none).toEqual([]);
    // a missing section is the defaults, and so enabled
    const missing: Issue[] = [];
    expect(takeLoggingSecrets(undefined, missing).rest).toEqual({});
    expect(missing.map((i) => i.key)).toEqual(["obs:logging.elasticPassword", "obs:logging.kibanaPassword"]);
  });
});
