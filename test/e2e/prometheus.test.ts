// The generated prometheus.yml, rule file and rule tests, checked by the real promtool of the
// pinned Prometheus. No cluster needed. A missing promtool fails the test (run: npm run tools).
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parsePrometheusConfig } from "../../components/prometheus/config.js";
import { buildRuleTests, renderRuleTestsYaml } from "../builders/rule-tests.js";
import { renderRulesYaml } from "../../components/prometheus/rules.js";
import { CONFIG_FILE, type PrometheusConfigInput, renderPrometheusYaml, RULES_FILE } from "../../components/prometheus/scrape.js";
import { toolPath } from "../../lib/tools.js";
import { stringify } from "yaml";

let promtool: string;
let dir: string;

function run(...args: string[]): { code: number | null; out: string } {
  const r = spawnSync(promtool, args, { cwd: dir, encoding: "utf8" });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

function expectOk(...args: string[]): string {
  const { code, out } = run(...args);
  expect(code, `promtool ${args.join(" ")}:\n${out}`).toBe(0);
  return out;
}

const input = (over: Record<string, unknown>, rest: Partial<PrometheusConfigInput> = {}): PrometheusConfigInput => {
  const { config, issues } = parsePrometheusConfig(over);
  if (!config) throw new Error(JSON.stringify(issues));
  return { config, clusterName: "e2e", environment: "local", meshMtls: "STRICT", ...rest };
};

describe("promtool on the generated Prometheus files", () => {
  beforeAll(() => {
    promtool = toolPath("promtool");
    dir = mkdtempSync(path.join(os.tmpdir(), "obs-e2e-promtool-"));
    writeFileSync(path.join(dir, RULES_FILE), renderRulesYaml());
    writeFileSync(path.join(dir, "rules.test.yml"), renderRuleTestsYaml(RULES_FILE));
  });

  it("is the pinned Prometheus 3.5.1", () => {
    expect(expectOk("--version")).toMatch(/version 3\.5\.1/);
  });

  it.each([
    ["STRICT mesh, mTLS scraping, namespaces, extra job", input({ extraScrapeConfigs: [{ jobName: "edge", staticTargets: ["edge.example.com:9100", "[fd00::1]:9100"], scheme: "https" }] }, { namespaces: ["shop"] })],
    ["PERMISSIVE mesh, every namespace", input({ scrapeInterval: "1m", scrapeTimeout: "1m" }, { meshMtls: "PERMISSIVE" })],
  ])("check config --syntax-only accepts prometheus.yml (%s)", (_, cfg) => {
    const file = path.join(dir, CONFIG_FILE);
    writeFileSync(file, renderPrometheusYaml(cfg));
    expectOk("check", "config", "--syntax-only", file);
  });

  it("check rules accepts the rule file", () => {
    expect(expectOk("check", "rules", path.join(dir, RULES_FILE))).toMatch(/SUCCESS: \d+ rules found/);
  });

  it("test rules: the recording rules compute the expected values and the alerts fire", () => {
    expectOk("test", "rules", path.join(dir, "rules.test.yml"));
  });

  it("test rules fails on a wrong expectation (the tests do assert)", () => {
    const tests = structuredClone(buildRuleTests(RULES_FILE)) as any;
    tests.tests[0].promql_expr_test.find((t: { expr: string }) => t.expr.includes("5xx:ratio")).exp_samples[1].value = 0.4;
    tests.tests[0].alert_rule_test = tests.tests[0].alert_rule_test.filter((a: { alertname: string }) => a.alertname !== "IstiodDown").concat([{ eval_time: "15m", alertname: "IstiodDown", exp_alerts: [] }]);
    writeFileSync(path.join(dir, "broken.test.yml"), stringify(tests));
    const { code, out } = run("test", "rules", path.join(dir, "broken.test.yml"));
    expect(code).not.toBe(0);
    expect(out).toContain("IstiodDown");
    expect(out).toContain("5xx:ratio_rate5m");
  });
});
