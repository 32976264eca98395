// Grafana's file provisioning: the datasources (the stack's Prometheus, Jaeger query and the
// two Elasticsearch aliases) and the dashboard provider, as the YAML Grafana reads at start.
// Pure: no Pulumi imports; URLs arrive resolved.
import { stringify } from "yaml";
import { type Dashboard, DATASOURCES, type DatasourceUid } from "./model.js";
import { accessField } from "./promql.js";

export const GRAFANA_PORT = 3000;
export const PROVISIONING_DIR = "/etc/grafana/provisioning";
export const DASHBOARDS_DIR = "/var/lib/grafana-dashboards";
export const ES_CA_DIR = "/etc/grafana/es-ca";
/** Environment variable holding the Elasticsearch reader's password (from its Secret); provisioning expands it. */
export const ES_PASSWORD_ENV = "OBS_ES_READER_PASSWORD";
export const FOLDERS = ["Mesh", "Stack", "Custom"] as const;
export type Folder = (typeof FOLDERS)[number];

export interface ElasticsearchSource {
  readonly url: string;
  readonly user: string;
  /** File name of the CA certificate inside ES_CA_DIR. */
  readonly caFile: string;
  /** Index aliases the logging pipeline writes: Envoy's access log and the containers' logs. */
  readonly accessIndex: string;
  readonly logsIndex: string;
}

export interface DatasourceInput {
  readonly prometheusUrl: string;
  /** Prometheus scrape interval: Grafana's minimum step for rates. */
  readonly scrapeInterval: string;
  readonly jaegerUrl: string;
  /** Absent when logging is off: no Elasticsearch datasources then. */
  readonly elasticsearch?: ElasticsearchSource;
}

interface ProvisionedDatasource {
  readonly name: string;
  readonly type: string;
  readonly uid: DatasourceUid;
  readonly access: "proxy";
  readonly url: string;
  readonly isDefault: boolean;
  readonly editable: false;
  readonly basicAuth?: boolean;
  readonly basicAuthUser?: string;
  readonly jsonData: Record<string, unknown>;
  readonly secureJsonData?: Record<string, string>;
}

export function datasources(i: DatasourceInput): ProvisionedDatasource[] {
  const es = i.elasticsearch;
  const elastic = (uid: DatasourceUid, name: string, index: string, logMessageField: string): ProvisionedDatasource => ({
    name,
    type: "elasticsearch",
    uid,
    access: "proxy",
    url: es!.url,
    isDefault: false,
    editable: false,
    basicAuth: true,
    basicAuthUser: es!.user,
    jsonData: { index, timeField: "@timestamp", logMessageField, tlsAuthWithCACert: true, maxConcurrentShardRequests: 5 },
    // Expanded by Grafana at start: the password from the environment, the CA from the mounted Secret.
    secureJsonData: { basicAuthPassword: `$${ES_PASSWORD_ENV}`, tlsCACert: `$__file{${ES_CA_DIR}/${es!.caFile}}` },
  });
  return [
    { name: "Prometheus", type: "prometheus", uid: DATASOURCES.prometheus, access: "proxy", url: i.prometheusUrl, isDefault: true, editable: false, jsonData: { timeInterval: i.scrapeInterval, httpMethod: "POST" } },
    {
      name: "Jaeger",
      type: "jaeger",
      uid: DATASOURCES.jaeger,
      access: "proxy",
      url: i.jaegerUrl,
      isDefault: false,
      editable: false,
      // From a span to the access-log lines of the same request (Envoy logs the B3 trace id).
      // `$$`: a literal `$` in a provisioning file, which Grafana otherwise expands from the environment.
      jsonData: es ? { tracesToLogsV2: { datasourceUid: DATASOURCES.accessLogs, customQuery: true, query: `${accessField("trace_id")}:"$\${__trace.traceId}"`, spanStartTimeShift: "-5m", spanEndTimeShift: "5m" } } : {},
    },
    ...(es ? [elastic(DATASOURCES.accessLogs, "Envoy access log", es.accessIndex, "access.path"), elastic(DATASOURCES.podLogs, "Container logs", es.logsIndex, "log")] : []),
  ];
}

/** The datasource uids a configuration provisions; dashboards may refer to these only. */
export function provisionedUids(i: Pick<DatasourceInput, "elasticsearch">): DatasourceUid[] {
  return datasources({ prometheusUrl: "", scrapeInterval: "", jaegerUrl: "", ...i }).map((d) => d.uid);
}

/** provisioning/datasources/stack.yaml. `prune` deletes datasources that leave the file. */
export function renderDatasourcesYaml(i: DatasourceInput): string {
  return stringify({ apiVersion: 1, prune: true, datasources: datasources(i) }, { lineWidth: 0 });
}

/** provisioning/dashboards/stack.yaml: one provider reading the dashboards directory, folders from subdirectories. */
export function renderDashboardProviderYaml(): string {
  return stringify(
    {
      apiVersion: 1,
      providers: [{ name: "observability-stack", type: "file", disableDeletion: true, allowUiUpdates: false, updateIntervalSeconds: 30, options: { path: DASHBOARDS_DIR, foldersFromFilesStructure: true } }],
    },
    { lineWidth: 0 },
  );
}

export const dashboardFile = (d: Pick<Dashboard, "uid">): string => `${d.uid}.json`;
