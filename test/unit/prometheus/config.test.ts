// The obs:prometheus section: defaults, and messages that name the key, the value and what is allowed.
import { describe, expect, it } from "vitest";
import { formatIssues, referenceRows } from "../../../lib/schema.js";
import { parsePrometheusConfig, prometheusSchema } from "../../../components/prometheus/config.js";

const issuesOf = (raw: unknown) => parsePrometheusConfig(raw).issues;

describe("obs:prometheus", () => {
  it("fills every default, nested ones included, when the section is absent or partial", () => {
    const expected = {
      enabled: true,
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
    };
    expect(parsePrometheusConfig(undefined)).toEqual({ config: expected, issues: [] });
    expect(parsePrometheusConfig({ resources: { limits: { memory: "8Gi" } } }).config!.resources).toEqual({ requests: { cpu: "500m", memory: "2Gi" }, limits: { cpu: "2", memory: "8Gi" } });
  });

  it("reports a bad retentionTime with its key, value and the allowed form", () => {
    const issues = issuesOf({ retentionTime: "15days" });
    expect(issues).toEqual([{ key: "obs:prometheus.retentionTime", value: "15days", allowed: expect.stringContaining("a Prometheus duration") }]);
    expect(formatIssues(issues)).toContain('obs:prometheus.retentionTime = "15days": expected a Prometheus duration');
  });

  it("reports every problem at once", () => {
    const issues = issuesOf({ retentionSize: "40G", storageSize: "lots", scrapeInterval: "1 minute", mtlsScraping: "yes", replicas: 2, extraScrapeConfigs: [{ jobName: "x", staticTargets: ["no-port"], scheme: "ftp" }], unknown: 1 });
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

  it("documents every key for the README reference", () => {
    const rows = referenceRows("obs:prometheus", prometheusSchema);
    const keys = rows.map((r) => r[0]);
    expect(keys).toContain("obs:prometheus.retentionTime");
    expect(keys).toContain("obs:prometheus.resources.limits.memory");
    expect(keys).toContain("obs:prometheus.extraScrapeConfigs[].staticTargets");
    for (const r of rows) expect(r[3], r[0]).not.toBe("");
  });
});
