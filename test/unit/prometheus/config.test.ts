// The obs:prometheus section: defaults, and messages that name the key, the value and what is allowed.
import { describe, expect, it } from "vitest";
import { formatIssues, referenceRows } from "../../../lib/schema.js";
import { parsePrometheusConfig, prometheusSchema } from "../../../components/prometheus/config.js";

const issuesOf = (raw: unknown) => parsePrometheusConfig(raw).issues;

describe("obs:prometheus", () => {
  it("fills every default, nested ones included, when the section is absent or partial", () => {
    const expected = {
      enabled: true,
      mode: "server",
      operator: { selectorLabels: { release: "kube-prometheus-stack" }, queryUrl: "" },
      retentionTime: "15d",
      retentionSize: "40GB",
      storageSize: "50Gi",
      storageClass: "",
      replicas: 1,
      resources: { requests: { cpu: "500m", memory: "2Gi" }, limits: { cpu: "2", memory: "4Gi" } },
      scrapeInterval: "30s",
      scrapeTimeout: "10s",
      mtlsScraping: true,
      extraScrapeConfigs: [],
      excludeNamespaces: [],
      kubeletInsecureSkipVerify: false,
      remoteWrite: [],
    };
    // resources: the shared recipe's defaults (lib/schema.ts resources), checked below
    expect(parsePrometheusConfig(undefined)).toEqual({ config: { ...expected, resources: expect.objectContaining({}) }, issues: [] });
    expect(parsePrometheusConfig(undefined).config!.resources).toMatchObject(expected.resources);
    expect(parsePrometheusConfig({ resources: { limits: { memory: "8Gi" } } }).config!.resources).toMatchObject({ requests: { cpu: "500m", memory: "2Gi" }, limits: { cpu: "2", memory: "8Gi" } });
  });

  it("reports a bad retentionTime with its key, value and the allowed form", () => {
    const issues = issuesOf({ retentionTime: "15days" });
    expect(issues).toEqual([{ key: "obs:prometheus.retentionTime", value: "15days", allowed: expect.stringContaining("a Prometheus duration") }]);
    expect(formatIssues(issues)).toContain('obs:prometheus.retentionTime = "15days": expected a Prometheus duration');
  });

  it("reports every problem at once", () => {
    const issues = issuesOf({ retentionSize: "40G", storageSize: "lots", scrapeInterval: "1 minute", mtlsScraping: "yes", replicas: 6, extraScrapeConfigs: [{ jobName: "x", staticTargets: ["no-port"], scheme: "ftp" }], unknown: 1 });
    expect(issues.map((i) => i.key).sort()).toEqual(
      [
        "obs:prometheus.unknown",
        "obs:prometheus.retentionSize",
        "obs:prometheus.storageSize",
        "obs:prometheus.replicas",
        "obs:prometheus.scrapeInterval",
        "obs:prometheus.mtlsScraping",
        "obs:prometheus.extraScrapeConfigs[0].staticTargets[0]",
        "obs:prometheus.extraScrapeConfigs[0].scheme",
      ].sort(),
    );
  });

  it("cross-checks: timeout within the interval, retention size below the volume, unique job names", () => {
    expect(issuesOf({ scrapeInterval: "15s", scrapeTimeout: "20s" })).toEqual([{ key: "obs:prometheus.scrapeTimeout", value: "20s", allowed: "a duration at most scrapeInterval (15s)" }]);
    expect(issuesOf({ scrapeInterval: "1m", scrapeTimeout: "59s" })).toEqual([]);
    expect(issuesOf({ storageSize: "40Gi", retentionSize: "40GB" })).toEqual([{ key: "obs:prometheus.retentionSize", value: "40GB", allowed: expect.stringContaining("below storageSize (40Gi)") }]);
    expect(issuesOf({ storageSize: "40Gi", retentionSize: "" })).toEqual([]);
    const jobs = issuesOf({
      extraScrapeConfigs: [
        { jobName: "istiod", staticTargets: ["a:1"] },
        { jobName: "edge", staticTargets: ["a:1"] },
        { jobName: "edge", staticTargets: [] },
      ],
    });
    expect(jobs.map((i) => i.key)).toEqual(["obs:prometheus.extraScrapeConfigs[0].jobName", "obs:prometheus.extraScrapeConfigs[2].jobName", "obs:prometheus.extraScrapeConfigs[2].staticTargets"]);
  });

  it("accepts extra jobs with IPv6 and DNS targets, defaulting path and scheme", () => {
    const { config } = parsePrometheusConfig({ extraScrapeConfigs: [{ jobName: "edge_proxy", staticTargets: ["edge.example.com:9100", "[fd00::1]:9100"] }] });
    expect(config!.extraScrapeConfigs).toEqual([{ jobName: "edge_proxy", staticTargets: ["edge.example.com:9100", "[fd00::1]:9100"], metricsPath: "/metrics", scheme: "http" }]);
  });

  it("remote write: a malformed URL, a password without its user, a user without its password, two kinds of auth, a key without its certificate", () => {
    const issues = issuesOf({
      remoteWrite: [
        { url: "mimir.example.com/api/v1/push" },
        { url: "https://", basicAuth: { password: "pw-only-here" } },
        { url: "https://a.example.com/push", basicAuth: { username: "tenant" } },
        { url: "https://b.example.com/push", basicAuth: { username: "tenant", password: "pw-123456" }, bearerToken: "tok" },
        { url: "https://c.example.com/push", tls: { key: "-----BEGIN PRIVATE KEY-----" } },
      ],
    });
    expect(issues).toEqual(
      expect.arrayContaining([
        { key: "obs:prometheus.remoteWrite[0].url", value: "mimir.example.com/api/v1/push", allowed: expect.stringContaining("an http:// or https:// URL") },
        { key: "obs:prometheus.remoteWrite[1].basicAuth.username", value: "", allowed: expect.stringContaining("a user name") },
        { key: "obs:prometheus.remoteWrite[2].basicAuth.password", value: undefined, allowed: expect.stringContaining("pulumi config set --secret --path 'obs:prometheus.remoteWrite[2].basicAuth.password'") },
        { key: "obs:prometheus.remoteWrite[3].bearerToken", value: "(secret)", allowed: expect.stringContaining("not set together with basicAuth") },
        { key: "obs:prometheus.remoteWrite[4].tls.cert", value: "", allowed: expect.stringContaining("client certificate") },
      ]),
    );
    // secrets never appear in a message
    expect(formatIssues(issues)).not.toMatch(/pw-only-here|pw-123456|tok"|PRIVATE/);
    // a URL with a scheme but no host passes the pattern and is refused by the URL check
    expect(issuesOf({ remoteWrite: [{ url: "https://:9090/push" }] })).toEqual([{ key: "obs:prometheus.remoteWrite[0].url", value: "https://:9090/push", allowed: expect.stringContaining("with a host") }]);
    expect(issuesOf({ remoteWrite: [{ url: "https://rw.example.com/push", queue: { minShards: 5, maxShards: 2 }, writeRelabelConfigs: [{ action: "replace", regex: "(", sourceLabels: ["a"] }, { action: "drop" }] }] }).map((i) => i.key)).toEqual([
      "obs:prometheus.remoteWrite[0].queue.minShards",
      "obs:prometheus.remoteWrite[0].writeRelabelConfigs[0].regex",
      "obs:prometheus.remoteWrite[0].writeRelabelConfigs[0].targetLabel",
      "obs:prometheus.remoteWrite[1].writeRelabelConfigs[1].sourceLabels".replace("remoteWrite[1]", "remoteWrite[0]"),
    ]);
  });

  it("mode operator: Grafana's and Kiali's Prometheus URL is required, and server-only keys are refused", () => {
    const ctx = { grafanaEnabled: true, kialiEnabled: true, meshMtls: "STRICT" as const };
    const issues = parsePrometheusConfig({ mode: "operator", replicas: 2, remoteWrite: [{ url: "https://rw.example.com/push" }] }, "obs:prometheus", ctx).issues;
    expect(issues).toEqual([
      { key: "obs:prometheus.operator.queryUrl", value: "", allowed: expect.stringContaining("required with mode operator while obs:grafana.enabled and obs:kiali.enabled is true") },
      { key: "obs:prometheus.remoteWrite", value: ["https://rw.example.com/push"], allowed: expect.stringContaining("empty list with mode operator") },
      { key: "obs:prometheus.replicas", value: 2, allowed: expect.stringContaining("1 with mode operator") },
      { key: "obs:prometheus.mtlsScraping", value: true, allowed: expect.stringContaining("false with mode operator under STRICT") },
    ]);
    expect(parsePrometheusConfig({ mode: "operator", operator: { queryUrl: "not a url" } }, "obs:prometheus", { grafanaEnabled: true }).issues.map((i) => i.key)).toEqual(["obs:prometheus.operator.queryUrl"]);
    expect(parsePrometheusConfig({ mode: "operator", mtlsScraping: false, operator: { queryUrl: "http://kube-prometheus-stack-prometheus.monitoring:9090" } }, "obs:prometheus", ctx).issues).toEqual([]);
    // nobody queries it: no URL needed
    expect(parsePrometheusConfig({ mode: "operator" }, "obs:prometheus", { meshMtls: "PERMISSIVE" }).issues).toEqual([]);
  });

  it("documents every key for the README reference", () => {
    const rows = referenceRows("obs:prometheus", prometheusSchema);
    const keys = rows.map((r) => r[0]);
    expect(keys).toContain("obs:prometheus.retentionTime");
    expect(keys).toContain("obs:prometheus.resources.limits.memory");
    expect(keys).toContain("obs:prometheus.extraScrapeConfigs[].staticTargets");
    for (const r of rows) expect(r[3], r[0]).not.toBe("");
  });
});
