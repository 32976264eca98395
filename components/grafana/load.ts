// The dashboards a stack provisions: ours for its configuration, plus the user's own JSON files,
// every one checked against the datasources the stack provisions before anything is deployed.
import { readFileSync } from "node:fs";
import path from "node:path";
import type { Issue } from "../../lib/schema.js";
import type { GrafanaConfig } from "./config.js";
import { buildDashboards, type DashboardInput } from "./dashboards.js";
import { checkDatasources, dashboardJson } from "./json.js";
import type { Dashboard } from "./model.js";
import { provisionedUids } from "./provisioning.js";

export interface StackDashboards {
  readonly dashboards: Dashboard[];
  /** The user's dashboards by file name. */
  readonly extra: Record<string, unknown>;
}

/** Pushes one issue per unreadable file or unknown datasource; `projectDir` resolves extraDashboards. */
export function loadDashboards(cfg: GrafanaConfig, input: DashboardInput, projectDir: string, issues: Issue[]): StackDashboards {
  const provisioned = provisionedUids(input.logging ? { elasticsearch: { url: "", user: "", caFile: "", accessIndex: "", logsIndex: "" } } : {});
  const dashboards = buildDashboards(input);
  for (const d of dashboards) checkDatasources(dashboardJson(d), provisioned, `dashboard ${d.uid}`, issues);
  const extra: Record<string, unknown> = {};
  cfg.extraDashboards.forEach((file, i) => {
    const key = `obs:grafana.extraDashboards[${i}]`;
    let model: unknown;
    try {
      model = JSON.parse(readFileSync(path.join(projectDir, file), "utf8"));
    } catch (e) {
      issues.push({ key, value: file, allowed: `a readable dashboard JSON file (${(e as Error).message.split("\n")[0]})` });
      return;
    }
    if (typeof model !== "object" || model === null || typeof (model as { uid?: unknown }).uid !== "string") {
      issues.push({ key, value: file, allowed: "a Grafana dashboard JSON model with a string uid" });
      return;
    }
    const before = issues.length;
    checkDatasources(model, provisioned, key, issues);
    if (issues.length === before) extra[path.basename(file)] = model;
  });
  return { dashboards, extra };
}
