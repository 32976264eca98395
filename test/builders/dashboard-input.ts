// The dashboards' input as index.ts builds it, with the tracing backend's real names.
import type { DashboardInput } from "../../components/grafana/dashboards.js";
import { INGESTER_GROUP, NAMES, SPANS_TOPIC } from "../../components/jaeger/index.js";

export const JAEGER_NAMES: DashboardInput["jaeger"] = { spansTopic: SPANS_TOPIC, ingesterGroup: INGESTER_GROUP, cassandra: NAMES.cassandra };

/** ServiceEntry hosts as obs:istio.externalServices may list them: a plain host and a wildcard. */
export const EXTERNAL_HOSTS = ["api.example.com", "*.storage.example.net"] as const;

export function dashboardInput(logging: boolean, namespace = "observability", clusterDomain = "cluster.local", externalHosts: readonly string[] = EXTERNAL_HOSTS): DashboardInput {
  return { namespace, logging, clusterDomain, jaeger: JAEGER_NAMES, externalHosts };
}

/** The Elasticsearch datasource input as index.ts hands it over (the logging component's aliases). */
export { ACCESS_ALIAS, LOGS_ALIAS } from "../../components/logging/index.js";
