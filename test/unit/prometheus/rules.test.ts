// The rule file and its promtool test file: names, expressions and what the tests assert.
// promtool itself evaluates them in test/e2e/prometheus.test.ts.
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { readFileSync } from "node:fs";
import { type AlertingRule, alertingRules, ALERTS, buildRules, expandAnnotations, expandLabels, LOGGING_ALERTS, type RecordingRule, renderRulesYaml, RUNBOOKS_URL } from "../../../components/prometheus/rules.js";
import { buildRuleTests } from "../../builders/rule-tests.js";
import { RULES_FILE } from "../../../components/prometheus/scrape.js";
import { JOBS, RECORDING_RULES } from "../../../components/mesh/metrics.js";

const rules = buildRules();
const all = rules.groups.flatMap((g) => g.rules);
const recorded = all.filter((r): r is RecordingRule => "record" in r);
const alerts = all.filter((r): r is AlertingRule => "alert" in r);
const alert = (name: string) => alerts.find((a) => a.alert === name)!;

describe("recording rules", () => {
  it("record exactly the exported names, each a level:metric:operations name", () => {
    expect(recorded.map((r) => r.record).sort()).toEqual(Object.values(RECORDING_RULES).sort());
    for (const r of recorded) expect(r.record).toMatch(/^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$/);
  });

  it("count each request once (the destination's report) and keep idle workloads' error rate at 0", () => {
    expect(recorded.find((r) => r.record === RECORDING_RULES.workloadRequestRate)!.expr).toBe('sum by (destination_workload_namespace, destination_workload) (rate(istio_requests_total{reporter="destination"}[5m]))');
    expect(recorded.find((r) => r.record === RECORDING_RULES.workload5xxRate)!.expr).toContain('response_code=~"5.."');
    expect(recorded.find((r) => r.record === RECORDING_RULES.workload5xxRate)!.expr).toContain(`or ${RECORDING_RULES.workloadRequestRate} * 0`);
    for (const [name, q] of [
      [RECORDING_RULES.workloadLatencyP50, "0.5"],
      [RECORDING_RULES.workloadLatencyP90, "0.9"],
      [RECORDING_RULES.workloadLatencyP99, "0.99"],
    ] as const) {
      expect(recorded.find((r) => r.record === name)!.expr).toBe(`histogram_quantile(${q}, sum by (destination_workload_namespace, destination_workload, le) (rate(istio_request_duration_milliseconds_bucket{reporter="destination"}[5m])))`);
    }
  });

  it("are defined before the rules that use them, in one group (evaluated in order)", () => {
    const group = rules.groups.find((g) => g.rules.some((r) => "record" in r))!.rules as RecordingRule[];
    group.forEach((r, i) => {
      for (const later of group.slice(i + 1)) expect(r.expr, `${r.record} uses ${later.record}`).not.toContain(later.record);
    });
  });
});

describe("alerts", () => {
  it("cover the control plane, the data plane and Prometheus", () => {
    expect(alerts.map((a) => a.alert).sort()).toEqual([...Object.values(ALERTS), ...Object.values(LOGGING_ALERTS)].sort());
    expect(alert(ALERTS.istiodDown).expr).toBe(`sum by (revision) (up{job="${JOBS.istiod}"}) == 0 or absent(up{job="${JOBS.istiod}"})`);
    // the names Istio 1.30/1.31 export (pilot/pkg/xds/monitoring.go, pkg/xds/monitoring.go); pilot_xds_push_errors is gone
    expect(alert(ALERTS.xdsPushErrors).expr).toContain('pilot_xds_pushes{job="istiod", type=~".+_senderr"}');
    expect(alert(ALERTS.xdsPushErrors).expr).toContain("pilot_total_xds_internal_errors");
    expect(alert(ALERTS.xdsPushErrors).expr).not.toContain("pilot_xds_push_errors");
    expect(alert(ALERTS.xdsRejects).expr).toContain("pilot_total_xds_rejects");
    expect(alert(ALERTS.injectionFailures).expr).toContain("sidecar_injection_failure_total");
    expect(alert(ALERTS.configReloadFailed).expr).toBe("prometheus_config_last_reload_successful == 0");
    expect(alert(ALERTS.tsdbCompactionsFailing).expr).toContain("prometheus_tsdb_compactions_failed_total");
    expect(alert(ALERTS.tsdbHeadTruncationsFailing).expr).toContain("prometheus_tsdb_head_truncations_failed_total");
    expect(alert(ALERTS.tsdbWalCorruptions).expr).toContain("prometheus_tsdb_wal_corruptions_total");
    expect(alert(ALERTS.targetDown).expr).toBe("up == 0");
  });

  it("use the recorded series, with thresholds from options", () => {
    expect(alert(ALERTS.high5xxRatio).expr).toBe(`${RECORDING_RULES.workload5xxRatio} > 0.05 and ${RECORDING_RULES.workloadRequestRate} > 0.1`);
    const strict = buildRules({ errorRatio: 0.01, p99LatencyMs: 250 }).groups.flatMap((g) => g.rules) as AlertingRule[];
    expect(strict.find((a) => a.alert === ALERTS.high5xxRatio)!.expr).toContain("> 0.01 and");
    expect(strict.find((a) => a.alert === ALERTS.highP99Latency)!.expr).toBe(`${RECORDING_RULES.workloadLatencyP99} > 250`);
  });

  it("have a severity, a summary and a description whose templates only use labels", () => {
    for (const a of alerts) {
      expect(a.alert === ALERTS.watchdog ? ["none"] : ["critical", "warning"]).toContain(a.labels.severity);
      expect(a.annotations.summary).not.toBe("");
      for (const t of Object.values(a.annotations)) expect(t.replace(/\{\{ \$labels\.[a-z_]+ \}\}/g, ""), a.alert).not.toContain("{{");
    }
    expect(expandAnnotations(alert(ALERTS.high5xxRatio), { destination_workload_namespace: "shop", destination_workload: "cart" }).description).toBe("More than 5% of the requests to shop/cart have failed with 5xx for 5 minutes.");
  });

  it("render as a Prometheus rule file", () => {
    const file = parse(renderRulesYaml());
    expect(Object.keys(file)).toEqual(["groups"]);
    expect(file.groups.map((g: { name: string }) => g.name)).toEqual(["istio-mesh.rules", "istio-control-plane.alerts", "istio-data-plane.alerts", "prometheus.alerts", "logging.alerts"]);
  });
});

describe("promtool rule tests", () => {
  const tests = buildRuleTests();

  it("load the rule file and assert every recording rule but the mesh p99", () => {
    expect(tests.rule_files).toEqual([RULES_FILE]);
    const asserted = tests.tests.flatMap((t) => t.promql_expr_test ?? []).map((e) => e.expr.replace(/\{.*$/, ""));
    expect(new Set(asserted)).toEqual(new Set(Object.values(RECORDING_RULES).filter((r) => r !== RECORDING_RULES.meshLatencyP99)));
  });

  it("expect IstiodDown and the 5xx alert to fire, and quiet where nothing is wrong", () => {
    const firing = tests.tests.flatMap((t) => t.alert_rule_test ?? []).filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname);
    expect(firing).toEqual(expect.arrayContaining([ALERTS.istiodDown, ALERTS.high5xxRatio, ALERTS.xdsPushErrors, ALERTS.highP99Latency, ALERTS.targetDown]));
    const quiet = tests.tests.flatMap((t) => t.alert_rule_test ?? []).filter((a) => a.exp_alerts.length === 0).map((a) => a.alertname);
    expect(quiet).toEqual(expect.arrayContaining([ALERTS.istiodDown, ALERTS.high5xxRatio]));
  });

  it("feed series shaped like Envoy's and istiod's", () => {
    const series = tests.tests[0]!.input_series.map((s) => s.series);
    expect(series.some((s) => s.startsWith("istio_requests_total{") && s.includes('reporter="destination"') && s.includes('response_code="503"'))).toBe(true);
    expect(series.some((s) => s.startsWith("istio_request_duration_milliseconds_bucket{") && s.includes('le="+Inf"'))).toBe(true);
    expect(series.some((s) => s.startsWith('up{job="istiod"'))).toBe(true);
  });
});

describe("outbound alert", () => {
  it("fires per calling workload on calls to BlackHoleCluster (HTTP or TCP), the names from the registry", () => {
    const rule = alertingRules().dataPlane.find((r) => r.alert === ALERTS.outboundBlocked)!;
    expect(rule.expr).toBe(
      'sum by (source_workload_namespace, source_workload) (rate(istio_requests_total{reporter="source", destination_service_name="BlackHoleCluster"}[5m])) > 0 or sum by (source_workload_namespace, source_workload) (rate(istio_tcp_connections_closed_total{reporter="source", destination_service_name="BlackHoleCluster"}[5m])) > 0',
    );
    expect(rule.annotations.description).toContain("obs:istio.externalServices");
  });
});

describe("runbooks and Watchdog", () => {
  const runbooks = readFileSync(new URL("../../../docs/runbooks.md", import.meta.url), "utf8");

  it("every alert of every group carries a runbook_url to its own section of docs/runbooks.md, which exists", () => {
    expect(alerts.length).toBeGreaterThan(10);
    for (const a of alerts) {
      expect(a.annotations.runbook_url, a.alert).toBe(`${RUNBOOKS_URL}#${a.alert.toLowerCase()}`);
      expect(runbooks, a.alert).toMatch(new RegExp(`^## ${a.alert}\\n\\n\\*\\*Means:\\*\\*.+\\n[^]*?\\*\\*Do:\\*\\*`, "m"));
    }
    expect(parse(renderRulesYaml({ runbookBaseUrl: "https://wiki.example.com/runbooks" })).groups[1].rules[0].annotations.runbook_url).toBe("https://wiki.example.com/runbooks#istioddown");
  });

  it("Watchdog always fires, with severity none", () => {
    expect(alert(ALERTS.watchdog)).toMatchObject({ expr: "vector(1)", labels: { severity: "none" } });
    expect(alert(ALERTS.watchdog).for).toBeUndefined();
  });

  it("alerts about a place carry a namespace label to route on", () => {
    expect(expandLabels(alert(ALERTS.high5xxRatio), { destination_workload_namespace: "shop" })).toEqual({ severity: "warning", namespace: "shop" });
    expect(expandLabels(alert(ALERTS.outboundBlocked), { source_workload_namespace: "shop" })).toEqual({ severity: "warning", namespace: "shop" });
    expect(alert(ALERTS.istiodDown).labels).toEqual({ severity: "critical", namespace: "istio-system" });
  });
});
