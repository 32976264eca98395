// Every PromQL query of every dashboard, and every query Kiali runs, through the real promtool
// of the pinned Prometheus: `check rules` parses them, `test rules` requires each to return data
// from series shaped like Envoy's, istiod's and the stack's exporters' (with the recording rules
// of the Prometheus component loaded), and checks a few main panels' values. No cluster needed.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { buildDashboards } from "../../components/grafana/dashboards.js";
import { type ExactCheck, dashboardQueries, type NamedQuery, queryRules, queryTests, renderYaml } from "../builders/panel-tests.js";
import { kialiMetricQueries } from "../../components/kiali/settings.js";
import { ISTIOD } from "../../components/mesh/metrics.js";
import { renderRulesYaml } from "../../components/prometheus/rules.js";
import { RULES_FILE } from "../../components/prometheus/scrape.js";
import { toolPath } from "../../lib/tools.js";
import { dashboardInput } from "../builders/dashboard-input.js";

const NS = "observability";
const QUERIES = "dashboard-queries.yml";
let dir: string;
let promtool: string;

function run(...args: string[]): { code: number | null; out: string } {
  const r = spawnSync(promtool, args, { cwd: dir, encoding: "utf8" });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

const allQueries = (): NamedQuery[] => [
  ...dashboardQueries(buildDashboards(dashboardInput(true, NS))),
  ...kialiMetricQueries().map((q) => ({ source: `kiali/${q.name}`, expr: q.expr })),
];

// Values of main panels for the input series (see inputSeries): reviews gets 1 req/s 200 and
// 1 req/s 503; 5 proxies on revision 1-30 and 3 on 1-31; Elasticsearch is yellow; 7 messages of lag per partition.
const EXACT: ExactCheck[] = [
  { expr: `sum by (revision) (${ISTIOD.xdsClients}{job="istiod", revision=~".*"})`, samples: [{ labels: '{revision="1-30"}', value: 5 }, { labels: '{revision="1-31"}', value: 3 }] },
];

function writeFiles(queries: NamedQuery[], exact: ExactCheck[] = EXACT, file = "queries.test.yml"): string {
  writeFileSync(path.join(dir, QUERIES), renderYaml(queryRules(queries)));
  writeFileSync(path.join(dir, file), renderYaml(queryTests([RULES_FILE, QUERIES], queries, NS, exact)));
  return file;
}

/** A query of a panel, picked by dashboard uid and panel title. */
function panelExpr(queries: NamedQuery[], source: string, index = 0): string {
  const found = queries.filter((q) => q.source === source);
  if (!found[index]) throw new Error(`no query ${index} for ${source}: ${queries.map((q) => q.source).join(", ")}`);
  return found[index].expr;
}

describe("promtool on the dashboards' and Kiali's queries", () => {
  beforeAll(() => {
    promtool = toolPath("promtool");
    dir = mkdtempSync(path.join(os.tmpdir(), "obs-e2e-grafana-"));
    writeFileSync(path.join(dir, RULES_FILE), renderRulesYaml());
  });

  it("check rules parses every query (dashboards with and without logging, and Kiali's)", () => {
    const queries = [...allQueries(), ...dashboardQueries(buildDashboards(dashboardInput(false, NS)))];
    writeFiles(queries);
    const { code, out } = run("check", "rules", path.join(dir, QUERIES));
    expect(code, out).toBe(0);
    expect(out).toContain(`SUCCESS: ${queries.length} rules found`);
    expect(queries.length).toBeGreaterThan(60);
  });

  it("test rules: every query returns data, the recording-rule panels included, and main panels have their values", () => {
    const queries = allQueries();
    const exact: ExactCheck[] = [
      ...EXACT,
      { expr: panelExpr(queries, "obs-mesh-service/Success ratio"), samples: [{ labels: "{}", value: 0.5 }] },
      { expr: panelExpr(queries, "obs-mesh-workload/Requests/s"), samples: [{ labels: '{__name__="destination_workload:istio_requests:rate5m", destination_workload="reviews-v1", destination_workload_namespace="bookinfo"}', value: 2 }] },
      { expr: panelExpr(queries, "obs-stack-elasticsearch/Cluster health"), samples: [{ labels: "{}", value: 1 }] },
      { expr: panelExpr(queries, "obs-control-plane/Connected proxies by revision"), samples: [{ labels: '{revision="1-30"}', value: 5 }, { labels: '{revision="1-31"}', value: 3 }] },
      { expr: panelExpr(queries, "obs-stack-kafka/Ingester lag"), samples: ["0", "1", "2"].map((p) => ({ labels: `{partition="${p}"}`, value: 7 })) },
    ];
    const file = writeFiles(queries, exact);
    const { code, out } = run("test", "rules", path.join(dir, file));
    expect(code, out).toBe(0);
  });

  it("test rules fails when a panel's metric is renamed on one side only (a panel that would show nothing)", () => {
    const queries = allQueries();
    const victim = queries.findIndex((q) => q.source === "obs-stack-jaeger/Spans received/s");
    const broken = queries.map((q, i) => (i === victim ? { ...q, expr: q.expr.replaceAll("otelcol_receiver_accepted_spans_total", "otelcol_receiver_accepted_spans") } : q));
    const file = writeFiles(broken, [], "broken.test.yml");
    const { code, out } = run("test", "rules", path.join(dir, file));
    expect(code).not.toBe(0);
    expect(out).toContain(`QueryHasData${String(victim).padStart(3, "0")}`);
  });
});
