// Every PromQL query Kiali runs (kialiMetricQueries), checked by the real promtool of the pinned
// Prometheus: `check rules` parses each as a recording rule, and `test rules` evaluates the
// main ones on input series shaped like Envoy's and istiod's. No cluster needed; a missing
// promtool fails the test (run: npm run tools).
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { kialiMetricQueries } from "../../components/kiali/settings.js";
import { toolPath } from "../../lib/tools.js";

const promtool = toolPath("promtool");
const RULES = "kiali-queries.yml";
const queries = kialiMetricQueries();
const rule = (name: string) => queries.find((q) => q.name === name)!.name;
let dir: string;

function run(...args: string[]): { code: number | null; out: string } {
  const r = spawnSync(promtool, args, { cwd: dir, encoding: "utf8" });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

// One request edge productpage -> reviews (v1), 60 requests a minute (scraped every 30s), 6 of them 503; latency and
// size histograms as Envoy exports them (cumulative le buckets), and one istiod revision.
const edge = 'source_workload_namespace="shop",source_workload="productpage-v1",destination_service_namespace="shop",destination_service_name="reviews",destination_workload_namespace="shop",destination_workload="reviews-v1"';
const inputSeries = [
  { series: `istio_requests_total{reporter="source",${edge},request_protocol="http",response_code="200"}`, values: "0+27x20" },
  { series: `istio_requests_total{reporter="source",${edge},request_protocol="http",response_code="503"}`, values: "0+3x20" },
  { series: `istio_requests_total{reporter="destination",${edge},request_protocol="http",response_code="200"}`, values: "0+27x20" },
  { series: `istio_requests_total{reporter="destination",${edge},request_protocol="http",response_code="503"}`, values: "0+3x20" },
  // every request under 100ms, none under 25ms: the p95 falls in the (25, 100] bucket
  ...[["25", "0"], ["100", "30"], ["+Inf", "30"]].map(([le, step]) => ({ series: `istio_request_duration_milliseconds_bucket{reporter="destination",${edge},le="${le}"}`, values: `0+${step}x20` })),
  { series: `istio_tcp_sent_bytes_total{reporter="source",${edge}}`, values: "0+3000x20" },
  { series: `istio_tcp_connections_opened_total{reporter="destination",${edge}}`, values: "0+1.5x20" },
  { series: 'pilot_proxy_convergence_time_bucket{job="istiod",revision="1-30",le="0.1"}', values: "0+15x20" },
  { series: 'pilot_proxy_convergence_time_bucket{job="istiod",revision="1-30",le="+Inf"}', values: "0+15x20" },
  { series: 'pilot_proxy_convergence_time_bucket{job="istiod",revision="1-31",le="0.1"}', values: "0+0x20" },
  { series: 'pilot_proxy_convergence_time_bucket{job="istiod",revision="1-31",le="1"}', values: "0+15x20" },
  { series: 'pilot_proxy_convergence_time_bucket{job="istiod",revision="1-31",le="+Inf"}', values: "0+15x20" },
];

const exp = (labels: string, value: number) => ({ labels, value });
const sample = (name: string, labels: string, value: number) => ({ expr: name, eval_time: "10m", exp_samples: [exp(`${name}{${labels}}`, value)] });
const graphLabels = (code: string) => `${edge},request_protocol="http",response_code="${code}"`;
const workload = 'destination_workload_namespace="shop",destination_workload="reviews-v1"';

const ruleTests = {
  rule_files: [RULES],
  evaluation_interval: "1m",
  tests: [
    {
      // the stack's default scrape interval: a 1m graph window holds two samples
      interval: "30s",
      input_series: inputSeries,
      promql_expr_test: [
        {
          expr: rule("kiali:istio_requests:graph_rate1m"),
          eval_time: "10m",
          exp_samples: [exp(`kiali:istio_requests:graph_rate1m{${graphLabels("200")}}`, 0.9), exp(`kiali:istio_requests:graph_rate1m{${graphLabels("503")}}`, 0.1)],
        },
        { expr: rule("kiali:istio_requests:health_rate5m"), eval_time: "10m", exp_samples: [exp(`kiali:istio_requests:health_rate5m{${workload},request_protocol="http",response_code="200"}`, 0.9), exp(`kiali:istio_requests:health_rate5m{${workload},request_protocol="http",response_code="503"}`, 0.1)] },
        // linear interpolation in (25, 100]: 25 + 0.95 * 75
        sample(rule("kiali:istio_request_duration_milliseconds:graph_p95"), edge, 96.25),
        sample(rule("kiali:istio_tcp_sent_bytes:graph_rate1m"), edge, 100),
        sample(rule("kiali:istio_tcp_connections_opened:rate5m"), workload, 0.05),
        {
          // both revisions of a canary, side by side: 1-31 converges slower (0.1 .. 1s)
          expr: rule("kiali:pilot_proxy_convergence_time:p99"),
          eval_time: "10m",
          exp_samples: [exp('kiali:pilot_proxy_convergence_time:p99{revision="1-30"}', 0.099), exp('kiali:pilot_proxy_convergence_time:p99{revision="1-31"}', 0.991)],
        },
      ],
    },
  ],
};

describe("promtool on the queries Kiali runs", () => {
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "obs-kiali-promtool-"));
    writeFileSync(path.join(dir, RULES), stringify({ groups: [{ name: "kiali.queries", rules: queries.map((q) => ({ record: q.name, expr: q.expr })) }] }, { lineWidth: 0 }));
    writeFileSync(path.join(dir, "kiali.test.yml"), stringify(ruleTests, { lineWidth: 0 }));
  });

  it("check rules accepts every query", () => {
    const { code, out } = run("check", "rules", RULES);
    expect(code, out).toBe(0);
    expect(out).toContain(`SUCCESS: ${queries.length} rules found`);
  });

  it("test rules: the graph, health and control-plane queries return what Kiali would show", () => {
    const { code, out } = run("test", "rules", "kiali.test.yml");
    expect(code, out).toBe(0);
  });

  it("check rules rejects a broken query (the check does check)", () => {
    writeFileSync(path.join(dir, "broken.yml"), stringify({ groups: [{ name: "broken", rules: [{ record: "kiali:broken:rate", expr: "sum by (le (rate(istio_requests_total[1m]))" }] }] }));
    expect(run("check", "rules", "broken.yml").code).not.toBe(0);
  });
});
