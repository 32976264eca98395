// The dashboards' input as index.ts builds it, with the tracing backend's real names.
import type { DashboardInput } from "../../components/grafana/dashboards.js";
import { INGESTER_GROUP, NAMES, SPANS_TOPIC } from "../../components/jaeger/index.js";

export const JAEGER_NAMES: DashboardInput["jaeger"] = { spansTopic: SPANS_TOPIC, ingesterGroup: INGESTER_GROUP, cassandra: NAMES.cassandra };

export function dashboardInput(logging: boolean, namespace = "observability", clusterDomain = "cluster.local"): DashboardInput {
  return { namespace, logging, clusterDomain, jaeger: JAEGER_NAMES };
}

/** The Elasticsearch datasource input as index.ts hands it over (the logging component's aliases). */
export { ACCESS_ALIAS, LOGS_ALIAS } from "../../components/logging/index.js";
