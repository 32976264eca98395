// The Grafana dashboard JSON model of a typed definition, and the datasource check every
// dashboard (ours and the user's extra ones) passes before anything is deployed.
import type { Issue } from "../../lib/schema.js";
import { type Dashboard, DATASOURCES, type DatasourceUid, type Panel, type Variable } from "./model.js";

const TYPE_OF: Record<DatasourceUid, string> = {
  [DATASOURCES.prometheus]: "prometheus",
  [DATASOURCES.jaeger]: "jaeger",
  [DATASOURCES.accessLogs]: "elasticsearch",
  [DATASOURCES.podLogs]: "elasticsearch",
};
const ref = (uid: DatasourceUid) => ({ type: TYPE_OF[uid], uid });

const HEIGHT = { stat: 4, timeseries: 8, logs: 10, traces: 8 } as const;

function fieldConfig(p: Panel): Record<string, unknown> {
  if (p.kind !== "stat" && p.kind !== "timeseries") return { defaults: {}, overrides: [] };
  const steps = (p.thresholds ?? [[0, "green"]]).map(([value, color], i) => ({ color, value: i === 0 ? null : value }));
  const mappings = p.mappings ? [{ type: "value", options: Object.fromEntries(Object.entries(p.mappings).map(([v, text], index) => [v, { text, index }])) }] : [];
  return { defaults: { unit: p.unit, thresholds: { mode: "absolute", steps }, mappings, ...(p.kind === "timeseries" ? { custom: { drawStyle: "line", lineWidth: 1, fillOpacity: 10, spanNulls: false } } : {}) }, overrides: [] };
}

function targets(p: Panel): Record<string, unknown>[] {
  const refId = (i: number) => String.fromCharCode(65 + i);
  switch (p.kind) {
    case "stat":
    case "timeseries":
      return p.targets.map((t, i) => ({ refId: refId(i), datasource: ref(p.datasource), expr: t.expr, legendFormat: t.legend ?? "__auto", range: p.kind === "timeseries", instant: p.kind === "stat" }));
    case "logs":
      return [{ refId: "A", datasource: ref(p.datasource), query: p.query, metrics: [{ id: "1", type: "logs" }], bucketAggs: [], timeField: "@timestamp" }];
    case "traces":
      return [{ refId: "A", datasource: ref(p.datasource), queryType: "search", service: p.service, ...(p.minDuration ? { minDuration: p.minDuration } : {}), limit: 20 }];
  }
}

function panelType(p: Panel): string {
  return p.kind === "traces" ? "table" : p.kind;
}

function options(p: Panel): Record<string, unknown> {
  switch (p.kind) {
    case "stat":
      return { reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false }, colorMode: "value", graphMode: "area", textMode: "auto" };
    case "timeseries":
      return { legend: { displayMode: "list", placement: "bottom", showLegend: true }, tooltip: { mode: "multi", sort: "desc" } };
    case "logs":
      return { showTime: true, wrapLogMessage: true, sortOrder: "Descending", enableLogDetails: true };
    case "traces":
      return { showHeader: true };
  }
}

function variable(v: Variable): Record<string, unknown> {
  const query = `label_values(${v.metric}, ${v.labelName})`;
  return {
    name: v.name,
    label: v.label,
    type: "query",
    datasource: ref(DATASOURCES.prometheus),
    definition: query,
    query: { query, refId: `${v.name}-values` },
    refresh: 2,
    sort: 1,
    includeAll: v.includeAll ?? false,
    multi: false,
    ...(v.includeAll ? { allValue: ".*", current: { text: "All", value: "$__all" } } : {}),
  };
}

/** The dashboard as Grafana's JSON model (file provisioning). Panels flow left to right in rows of 24 columns. */
export function dashboardJson(d: Dashboard): Record<string, unknown> {
  const panels: Record<string, unknown>[] = [];
  let id = 1;
  let y = 0;
  for (const row of d.rows) {
    panels.push({ id: id++, type: "row", title: row.title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y: y++ }, panels: [] });
    let x = 0;
    let rowHeight = 0;
    for (const p of row.panels) {
      const w = p.width ?? 12;
      const h = HEIGHT[p.kind];
      if (x + w > 24) {
        x = 0;
        y += rowHeight;
        rowHeight = 0;
      }
      panels.push({ id: id++, type: panelType(p), title: p.title, description: p.description, datasource: ref(p.datasource), gridPos: { h, w, x, y }, targets: targets(p), fieldConfig: fieldConfig(p), options: options(p) });
      x += w;
      rowHeight = Math.max(rowHeight, h);
    }
    y += rowHeight;
  }
  return {
    uid: d.uid,
    title: d.title,
    description: d.description,
    tags: [...d.tags],
    editable: false,
    graphTooltip: 1,
    schemaVersion: 41,
    time: { from: "now-1h", to: "now" },
    refresh: "30s",
    timezone: "browser",
    annotations: { list: [] },
    templating: { list: d.variables.map(variable) },
    links: [],
    panels,
  };
}

// Grafana's own pseudo-datasources, and variable references, are not provisioned objects.
const BUILTIN_DATASOURCES = new Set(["-- Grafana --", "-- Mixed --", "-- Dashboard --", "grafana", "datasource"]);

/** Every datasource a dashboard JSON model names (uids, or names in the old string form), with where. */
export function datasourceRefs(model: unknown): { at: string; uid: string }[] {
  const found: { at: string; uid: string }[] = [];
  const walk = (v: unknown, at: string): void => {
    if (Array.isArray(v)) return v.forEach((x, i) => walk(x, `${at}[${i}]`));
    if (typeof v !== "object" || v === null) return;
    for (const [k, x] of Object.entries(v)) {
      if (k === "datasource") {
        const uid = typeof x === "string" ? x : typeof x === "object" && x !== null ? (x as { uid?: unknown }).uid : undefined;
        if (typeof uid === "string" && !uid.startsWith("$") && !BUILTIN_DATASOURCES.has(uid)) found.push({ at: `${at}.datasource`, uid });
      }
      walk(x, at ? `${at}.${k}` : k);
    }
  };
  walk(model, "");
  return found;
}

/**
 * Issues for every datasource a dashboard refers to that the stack does not provision.
 * `key` names the dashboard in the messages (a config key for the user's own dashboards).
 */
export function checkDatasources(model: unknown, provisioned: readonly string[], key: string, issues: Issue[]): void {
  for (const r of datasourceRefs(model)) {
    if (!provisioned.includes(r.uid)) issues.push({ key, value: `${r.at} = ${r.uid}`, allowed: `a datasource uid this stack provisions: ${provisioned.join(", ")}` });
  }
}
