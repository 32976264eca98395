// The typed dashboards and their Grafana JSON: datasources, variables, layout, and that queries
// come from the metric registry and the recording rules (a rename in one place reaches them).
import { mkdtempSync, writeFileSync, mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { Issue } from "../../../lib/schema.js";
import { buildDashboards, hostsRegex } from "../../../components/grafana/dashboards.js";
import { checkDatasources, dashboardJson, datasourceRefs } from "../../../components/grafana/json.js";
import { loadDashboards } from "../../../components/grafana/load.js";
import { DATASOURCES, datasourcesOf, promQueries, substitute } from "../../../components/grafana/model.js";
import { dashboardQueries } from "../../builders/panel-tests.js";
import { provisionedUids, renderDashboardProviderYaml, renderDatasourcesYaml } from "../../../components/grafana/provisioning.js";
import { ISTIO, ISTIOD } from "../../../components/mesh/metrics.js";
import { RECORDING_RULES } from "../../../components/mesh/metrics.js";
import { grafanaSchema } from "../../../components/grafana/config.js";
import { ACCESS_ALIAS, dashboardInput, LOGS_ALIAS } from "../../builders/dashboard-input.js";

const withLogs = buildDashboards(dashboardInput(true));
const withoutLogs = buildDashboards(dashboardInput(false));
const ES = [DATASOURCES.accessLogs, DATASOURCES.podLogs] as string[];

describe("dashboards", () => {
  it("cover the mesh (overview, service, workload, control plane) and the stack's own health", () => {
    expect(withLogs.map((d) => d.uid)).toEqual([
      "obs-mesh-overview",
      "obs-mesh-service",
      "obs-mesh-workload",
      "obs-control-plane",
      "obs-stack-prometheus",
      "obs-stack-fluentd",
      "obs-stack-elasticsearch",
      "obs-stack-kafka",
      "obs-stack-cassandra",
      "obs-stack-jaeger",
    ]);
    expect(new Set(withLogs.map((d) => d.title)).size).toBe(withLogs.length);
  });

  it("without logging, name no Elasticsearch datasource and drop the Fluentd and Elasticsearch dashboards", () => {
    expect(withoutLogs.map((d) => d.uid)).not.toContain("obs-stack-elasticsearch");
    expect(withoutLogs.map((d) => d.uid)).not.toContain("obs-stack-fluentd");
    for (const d of withoutLogs) for (const uid of datasourcesOf(d)) expect(ES, d.uid).not.toContain(uid);
    expect(withLogs.some((d) => [...datasourcesOf(d)].some((u) => ES.includes(u)))).toBe(true);
  });

  it("refer only to the datasources their configuration provisions", () => {
    for (const [dashboards, logging] of [[withLogs, true], [withoutLogs, false]] as const) {
      const provisioned = provisionedUids(logging ? { elasticsearch: { url: "u", user: "grafana", caFile: "ca.crt", accessIndex: ACCESS_ALIAS, logsIndex: LOGS_ALIAS } } : {});
      const issues: Issue[] = [];
      for (const d of dashboards) checkDatasources(dashboardJson(d), provisioned, d.uid, issues);
      expect(issues).toEqual([]);
    }
  });

  it("use the recording rules where they exist and the registry's metric names elsewhere", () => {
    const all = withLogs.flatMap(promQueries).map((q) => q.expr).join("\n");
    for (const r of [RECORDING_RULES.meshRequestRate, RECORDING_RULES.mesh5xxRatio, RECORDING_RULES.workloadLatencyP99, RECORDING_RULES.workloadRequestRate]) expect(all).toContain(r);
    expect(all).toContain(`${ISTIO.requestDuration}_bucket`);
    expect(all).toContain(ISTIOD.xdsClients);
    // the workload dashboard reads latency from the rules, never recomputes it
    const workload = promQueries(withLogs.find((d) => d.uid === "obs-mesh-workload")!).map((q) => q.expr).join("\n");
    expect(workload).not.toContain("histogram_quantile");
  });

  it("show the control plane per revision, all revisions by default (two side by side during a canary)", () => {
    const cp = withLogs.find((d) => d.uid === "obs-control-plane")!;
    expect(cp.variables).toEqual([expect.objectContaining({ name: "revision", labelName: "revision", includeAll: true })]);
    for (const q of promQueries(cp)) expect(q.expr).toContain('revision=~"$revision"');
    const json = dashboardJson(cp) as any;
    expect(json.templating.list[0]).toMatchObject({ type: "query", definition: 'label_values(up{job="istiod"}, revision)', includeAll: true, allValue: ".*" });
  });

  it("substitute variables and Grafana's intervals for promtool, leaving no $ behind", () => {
    const queries = dashboardQueries(withLogs);
    expect(queries.length).toBeGreaterThan(50);
    for (const q of queries) expect(q.expr, q.source).not.toContain("$");
    expect(substitute('rate(x{a="$namespace"}[$__rate_interval])', [{ name: "namespace", label: "", metric: "x", labelName: "a", sample: "shop" }])).toBe('rate(x{a="shop"}[5m])');
  });

  it("fit their ConfigMaps with room to spare (1 MiB is the limit)", () => {
    for (const folder of ["Mesh", "Stack"]) {
      const bytes = withLogs.filter((d) => d.folder === folder).reduce((n, d) => n + JSON.stringify(dashboardJson(d), null, 1).length, 0);
      expect(bytes, folder).toBeLessThan(256 * 1024);
    }
  });

  it("lay panels out in rows of 24 columns without overlaps", () => {
    for (const d of withLogs) {
      const panels = (dashboardJson(d) as any).panels as { gridPos: { x: number; y: number; w: number; h: number }; id: number }[];
      expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
      const cells = new Set<string>();
      for (const { gridPos: g } of panels) {
        expect(g.x + g.w, d.uid).toBeLessThanOrEqual(24);
        for (let x = g.x; x < g.x + g.w; x++) for (let y = g.y; y < g.y + g.h; y++) {
          expect(cells.has(`${x},${y}`), `${d.uid} overlap at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
  });
});

describe("datasource check", () => {
  it("finds datasource references at any depth, in the object and the old string form, skipping variables and Grafana's own", () => {
    const model = { panels: [{ datasource: { uid: "prometheus" }, targets: [{ datasource: "loki" }] }, { datasource: "${ds}" }, { datasource: { uid: "-- Grafana --" } }, { panels: [{ datasource: { type: "tempo", uid: "tempo" } }] }] };
    expect(datasourceRefs(model)).toEqual([
      { at: "panels[0].datasource", uid: "prometheus" },
      { at: "panels[0].targets[0].datasource", uid: "loki" },
      { at: "panels[3].panels[0].datasource", uid: "tempo" },
    ]);
    const issues: Issue[] = [];
    checkDatasources(model, ["prometheus", "jaeger"], "obs:grafana.extraDashboards[0]", issues);
    expect(issues).toEqual([
      { key: "obs:grafana.extraDashboards[0]", value: "panels[0].targets[0].datasource = loki", allowed: "a datasource uid this stack provisions: prometheus, jaeger" },
      { key: "obs:grafana.extraDashboards[0]", value: "panels[3].panels[0].datasource = tempo", allowed: "a datasource uid this stack provisions: prometheus, jaeger" },
    ]);
  });

  it("loads the user's dashboards and reports unknown datasources, unreadable files and models without a uid", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "obs-dash-"));
    mkdirSync(path.join(dir, "dashboards"));
    writeFileSync(path.join(dir, "dashboards", "ok.json"), JSON.stringify({ uid: "mine", panels: [{ datasource: { uid: "es-envoy-access" } }] }));
    writeFileSync(path.join(dir, "dashboards", "loki.json"), JSON.stringify({ uid: "logs", panels: [{ datasource: { uid: "loki" } }] }));
    writeFileSync(path.join(dir, "dashboards", "nouid.json"), JSON.stringify({ panels: [] }));
    const cfg = (files: string[]) => {
      const issues: Issue[] = [];
      const c = grafanaSchema.parse({ extraDashboards: files }, "obs:grafana", issues)!;
      expect(issues).toEqual([]);
      return c;
    };
    const issues: Issue[] = [];
    const loaded = loadDashboards(cfg(["dashboards/ok.json", "dashboards/loki.json", "dashboards/missing.json", "dashboards/nouid.json"]), dashboardInput(true), dir, issues);
    expect(Object.keys(loaded.extra)).toEqual(["ok.json"]);
    expect(issues.map((i) => `${i.key}: ${String(i.value)}`)).toEqual([
      "obs:grafana.extraDashboards[1]: panels[0].datasource = loki",
      "obs:grafana.extraDashboards[2]: dashboards/missing.json",
      "obs:grafana.extraDashboards[3]: dashboards/nouid.json",
    ]);
    expect(issues[0]!.allowed).toBe("a datasource uid this stack provisions: prometheus, jaeger, es-envoy-access, es-k8s-logs");
    // the same Elasticsearch dashboard is refused when logging is off
    const off: Issue[] = [];
    loadDashboards(cfg(["dashboards/ok.json"]), dashboardInput(false), dir, off);
    expect(off.map((i) => i.value)).toEqual(["panels[0].datasource = es-envoy-access"]);
  });
});

describe("provisioning", () => {
  const input = { prometheusUrl: "http://prometheus.observability.svc:9090", scrapeInterval: "30s", jaegerUrl: "http://jaeger-query.observability.svc.cluster.local:16686" };

  it("provisions Prometheus (default), Jaeger and the two Elasticsearch aliases, passwords by reference only", () => {
    const doc = parse(renderDatasourcesYaml({ ...input, elasticsearch: { url: "https://es-http.observability.svc:9200", user: "grafana", caFile: "ca.crt", accessIndex: ACCESS_ALIAS, logsIndex: LOGS_ALIAS } }));
    expect(doc.prune).toBe(true);
    expect(doc.datasources.map((d: any) => [d.uid, d.type, d.isDefault])).toEqual([
      ["prometheus", "prometheus", true],
      ["jaeger", "jaeger", false],
      ["es-envoy-access", "elasticsearch", false],
      ["es-k8s-logs", "elasticsearch", false],
    ]);
    expect(doc.datasources[0]).toMatchObject({ url: input.prometheusUrl, jsonData: { timeInterval: "30s" } });
    // Envoy logs the B3 trace id: a span links to the access-log lines of its request
    expect(doc.datasources[1].jsonData.tracesToLogsV2).toMatchObject({ datasourceUid: "es-envoy-access", customQuery: true, query: 'access.trace_id:"$${__trace.traceId}"' });
    expect(doc.datasources[2]).toMatchObject({ basicAuth: true, basicAuthUser: "grafana", jsonData: { index: "envoy-access", timeField: "@timestamp", tlsAuthWithCACert: true }, secureJsonData: { basicAuthPassword: "$OBS_ES_READER_PASSWORD", tlsCACert: "$__file{/etc/grafana/es-ca/ca.crt}" } });
  });

  it("without logging provisions no Elasticsearch and no trace-to-logs link", () => {
    const doc = parse(renderDatasourcesYaml(input));
    expect(doc.datasources.map((d: any) => d.uid)).toEqual(["prometheus", "jaeger"]);
    expect(doc.datasources[1].jsonData).toEqual({});
  });

  it("reads dashboards from folders, never deleting or letting the UI overwrite them", () => {
    expect(parse(renderDashboardProviderYaml()).providers[0]).toMatchObject({ type: "file", disableDeletion: true, allowUiUpdates: false, options: { path: "/var/lib/grafana-dashboards", foldersFromFilesStructure: true } });
  });
});

describe("outbound traffic panels", () => {
  const overview = (hosts: readonly string[]) => buildDashboards(dashboardInput(true, "observability", "cluster.local", hosts)).find((d) => d.uid === "obs-mesh-overview")!;
  const outboundRow = (hosts: readonly string[]) => overview(hosts).rows.find((r) => r.title === "Outbound")!;

  it("match the ServiceEntry hosts exactly, a `*.` wildcard as any subdomain", () => {
    expect(hostsRegex(["api.example.com", "*.storage.example.net"])).toBe(String.raw`api\\.example\\.com|.+\\.storage\\.example\\.net`);
    // as Prometheus reads the double-quoted matcher: `\\.` is a literal dot
    const re = new RegExp(`^(?:${hostsRegex(["api.example.com", "*.storage.example.net"]).replace(/\\\\/g, "\\")})$`);
    expect(["api.example.com", "eu.storage.example.net"].every((h) => re.test(h))).toBe(true);
    expect(["apixexample.com", "storage.example.net", "api.example.com.evil"].some((h) => re.test(h))).toBe(false);
  });

  it("show external services by response code, and blocked and passthrough calls", () => {
    const titles = outboundRow(["api.example.com"]).panels.map((p) => p.title);
    expect(titles).toEqual(["External services by response code", "Blocked and passthrough calls"]);
    const exprs = JSON.stringify(outboundRow(["api.example.com"]).panels);
    expect(exprs).toContain('destination_service_name=~\\"BlackHoleCluster|PassthroughCluster\\"');
    expect(exprs).toContain("istio_tcp_connections_closed_total");
  });

  it("leave out the external-services panel when none is registered", () => {
    expect(outboundRow([]).panels.map((p) => p.title)).toEqual(["Blocked and passthrough calls"]);
  });
});
