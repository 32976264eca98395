// The `obs:grafana` section: schema (defaults live here), the checks that span keys, and the
// admin password, a secret kept out of the typed config. Pure: no Pulumi imports.
import { bool, type Infer, type Issue, list, obj, resources, str, storageClassName, volumeSize } from "../../lib/schema.js";
import { takeSecrets } from "../../lib/secrets.js";
import { checkExpose, exposeFields } from "../mesh/expose.js";

const KEY = "obs:grafana";

const shape = {
  enabled: bool({ doc: "deploy Grafana with the stack's datasources and dashboards (needs obs:prometheus.enabled)", default: true }),
  storageSize: volumeSize({ doc: "volume of Grafana's database (users, preferences, annotations; the provisioned dashboards are code)", default: "5Gi" }),
  storageClass: storageClassName({ doc: "StorageClass of the volume (empty: the cluster default)", default: "" }),
  resources: resources("Grafana resources", { cpu: "100m", memory: "256Mi" }, { cpu: "1", memory: "512Mi" }),
  ...exposeFields("Grafana", "grafana-tls"),
  extraDashboards: list(str({ doc: "dashboard JSON model file", pattern: /\.json$/, patternDoc: "a path to a .json file, relative to the project directory" }), {
    doc: "your own dashboard JSON files (relative to the project directory), provisioned beside the stack's in the folder `Custom`; every datasource they name must be one the stack provisions",
    default: [],
  }),
};

export const grafanaSchema = obj(shape, { doc: "Grafana: the stack's Prometheus, Jaeger and Elasticsearch as datasources, and the mesh and stack dashboards" });
export type GrafanaConfig = Infer<typeof shape>;

/** Secret keys of `obs:grafana`. */
export const GRAFANA_SECRET_KEYS = ["adminPassword"] as const;
export type GrafanaSecrets = Record<(typeof GRAFANA_SECRET_KEYS)[number], string>;

export function takeGrafanaSecrets(raw: unknown, issues: Issue[]): { rest: unknown; secrets?: GrafanaSecrets } {
  return takeSecrets(raw, KEY, GRAFANA_SECRET_KEYS, issues);
}

/** Checks spanning keys; pushes one issue per problem. */
export function checkGrafana(c: GrafanaConfig, ctx: { prometheusEnabled: boolean }, issues: Issue[]): void {
  if (!c.enabled) return;
  if (!ctx.prometheusEnabled) issues.push({ key: `${KEY}.enabled`, value: true, allowed: "false while obs:prometheus.enabled is false (every mesh and stack dashboard reads Prometheus)" });
  checkExpose(c, KEY, issues);
  const names = c.extraDashboards.map((f) => f.split("/").pop()!);
  c.extraDashboards.forEach((f, i) => {
    if (f.startsWith("/") || f.split("/").includes("..")) issues.push({ key: `${KEY}.extraDashboards[${i}]`, value: f, allowed: "a path inside the project directory (relative, without ..)" });
    // one folder in Grafana: the file name is the file's name there
    if (names.indexOf(names[i]!) !== i) issues.push({ key: `${KEY}.extraDashboards[${i}]`, value: f, allowed: `a file name not used by another extra dashboard (${names[i]})` });
  });
}
