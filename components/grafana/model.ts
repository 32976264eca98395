// Typed dashboard definitions: what a panel shows and from which datasource. The Grafana JSON
// model is generated from these (json.ts); the tests turn every PromQL target into rules for
// promtool. Pure: no Pulumi imports.

/** Datasources the stack provisions, by uid. Dashboards refer to them by these uids only. */
export const DATASOURCES = {
  prometheus: "prometheus",
  jaeger: "jaeger",
  /** Elasticsearch, the Envoy access-log alias */
  accessLogs: "es-envoy-access",
  /** Elasticsearch, the container-log alias */
  podLogs: "es-k8s-logs",
} as const;
export type DatasourceUid = (typeof DATASOURCES)[keyof typeof DATASOURCES];

/** Grafana unit ids used by the panels. */
export type Unit = "reqps" | "percentunit" | "ms" | "s" | "bytes" | "Bps" | "short" | "ops" | "none";

export interface PromTarget {
  readonly expr: string;
  /** Legend, Grafana syntax (`{{label}}`). */
  readonly legend?: string;
}

export interface PromPanel {
  readonly kind: "timeseries" | "stat";
  readonly title: string;
  readonly description: string;
  readonly datasource: typeof DATASOURCES.prometheus;
  readonly targets: readonly PromTarget[];
  readonly unit: Unit;
  /** Stat colour thresholds, ascending: [value, colour]; the first value is ignored (base). */
  readonly thresholds?: readonly (readonly [number, "green" | "yellow" | "orange" | "red"])[];
  /** Stat value mapping (e.g. 1 -> "up"). */
  readonly mappings?: Readonly<Record<string, string>>;
  readonly width?: 6 | 8 | 12 | 24;
}

export interface LogsPanel {
  readonly kind: "logs";
  readonly title: string;
  readonly description: string;
  readonly datasource: typeof DATASOURCES.accessLogs | typeof DATASOURCES.podLogs;
  /** Lucene query. */
  readonly query: string;
  readonly width?: 6 | 8 | 12 | 24;
}

export interface TracesPanel {
  readonly kind: "traces";
  readonly title: string;
  readonly description: string;
  readonly datasource: typeof DATASOURCES.jaeger;
  /** Jaeger search: the service (a variable such as `$service.$namespace`) and a minimum duration. */
  readonly service: string;
  readonly minDuration?: string;
  readonly width?: 6 | 8 | 12 | 24;
}

export type Panel = PromPanel | LogsPanel | TracesPanel;

export interface Row {
  readonly title: string;
  readonly panels: readonly Panel[];
}

/** A query variable over Prometheus label values. */
export interface Variable {
  readonly name: string;
  readonly label: string;
  /** Grafana `label_values(<series selector>, <label>)`. */
  readonly metric: string;
  readonly labelName: string;
  /** Value substituted when the queries are checked and evaluated by promtool. */
  readonly sample: string;
  readonly includeAll?: boolean;
}

export interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly folder: "Mesh" | "Stack";
  readonly description: string;
  readonly tags: readonly string[];
  readonly variables: readonly Variable[];
  readonly rows: readonly Row[];
}

/** Every datasource uid a dashboard refers to. */
export function datasourcesOf(d: Dashboard): Set<string> {
  return new Set(d.rows.flatMap((r) => r.panels.map((p) => p.datasource)));
}

/** Every Prometheus query of a dashboard, with its panel for messages. */
export function promQueries(d: Dashboard): { panel: string; expr: string }[] {
  return d.rows.flatMap((r) => r.panels.flatMap((p) => (p.kind === "stat" || p.kind === "timeseries" ? p.targets.map((t) => ({ panel: `${d.uid}/${p.title}`, expr: t.expr })) : [])));
}

/** Grafana's interval variables, as promtool sees them. */
const BUILTIN: Record<string, string> = { __rate_interval: "5m", __interval: "1m", __range: "1h" };

/** A query with its variables replaced by their sample values (and Grafana's own by durations). */
export function substitute(expr: string, variables: readonly Variable[]): string {
  return expr.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (whole, name: string) => {
    if (name in BUILTIN) return BUILTIN[name]!;
    const v = variables.find((x) => x.name === name);
    return v ? v.sample : whole;
  });
}
