// Elasticsearch's desired state as plain objects: the ILM policy, index templates whose
// mappings come from ACCESS_LOG_FIELDS, the initial write indices, the roles of the stack's
// users (Fluentd, the metrics exporter, Grafana), and elasticsearch.yml.
import { stringify } from "yaml";
import { ACCESS_LOG_FIELDS, type AccessLogField, type EsType } from "../mesh/access-log.js";
import { ACCESS_ALIAS, ES_HTTP_PORT, ES_TRANSPORT_PORT, esPodHosts, LOG_INDICES, LOGS_ALIAS, type LoggingNames } from "./names.js";

export const ILM_POLICY = "obs-logs";
export const FLUENTD_ROLE = "fluentd_writer";
export const MONITORING_ROLE = "metrics_exporter";
export const GRAFANA_ROLE = "logs_reader";
/** Directory of the certificate Secret inside the Elasticsearch config dir. */
export const ES_CERTS_DIR = "certs";

/** Mapping of one access-log field; a malformed value is stored unindexed instead of failing the document. */
export function esFieldMapping(t: EsType): Record<string, unknown> {
  switch (t) {
    case "keyword":
      return { type: "keyword", ignore_above: 2048 };
    case "text":
      return { type: "text" };
    case "long":
    case "date":
    case "ip":
      return { type: t, ignore_malformed: true };
  }
}

/** The `access` object's mapping: one property per access-log field. */
export function accessLogMapping(fields: readonly AccessLogField[] = ACCESS_LOG_FIELDS): Record<string, unknown> {
  return { properties: Object.fromEntries(fields.map((f) => [f.name, esFieldMapping(f.type)])) };
}

/** What kubernetes_metadata adds; labels are flattened so arbitrary label keys add no mappings. */
export const KUBERNETES_MAPPING = {
  properties: {
    namespace_name: { type: "keyword" },
    pod_name: { type: "keyword" },
    container_name: { type: "keyword" },
    container_image: { type: "keyword" },
    pod_id: { type: "keyword" },
    host: { type: "keyword" },
    labels: { type: "flattened" },
    namespace_labels: { type: "flattened" },
  },
};

const COMMON_PROPERTIES = {
  "@timestamp": { type: "date" },
  stream: { type: "keyword" },
  kubernetes: KUBERNETES_MAPPING,
};

export interface IlmInput {
  /** Roll over at this primary shard size (Elasticsearch byte size, e.g. 10gb)... */
  readonly rolloverSize: string;
  /** ...and delete this many days after rollover. */
  readonly retentionDays: number;
}

/** Hot: roll over daily or at the size; delete: retentionDays after the rollover. */
export function ilmPolicy(i: IlmInput): Record<string, unknown> {
  return {
    policy: {
      _meta: { managed_by: "observability-stack" },
      phases: {
        hot: { min_age: "0ms", actions: { rollover: { max_age: "1d", max_primary_shard_size: i.rolloverSize }, set_priority: { priority: 100 } } },
        delete: { min_age: `${i.retentionDays}d`, actions: { delete: {} } },
      },
    },
  };
}

export interface TemplateInput {
  /** Elasticsearch nodes; replicas are 1 when there is a second node to hold them. */
  readonly nodes: number;
  readonly fields?: readonly AccessLogField[];
}

export const replicasFor = (nodes: number) => Math.min(1, nodes - 1);

function template(alias: string, nodes: number, properties: Record<string, unknown>): Record<string, unknown> {
  return {
    // Above the built-in logs-*-* template (priority 100), which does not match these names anyway.
    index_patterns: [`${alias}-*`],
    priority: 200,
    _meta: { managed_by: "observability-stack" },
    template: {
      settings: {
        "index.number_of_shards": 1,
        "index.number_of_replicas": replicasFor(nodes),
        "index.lifecycle.name": ILM_POLICY,
        "index.lifecycle.rollover_alias": alias,
      },
      mappings: { properties },
    },
  };
}

/** Composable index templates by name (`PUT _index_template/<name>`). */
export function indexTemplates(i: TemplateInput): Record<string, Record<string, unknown>> {
  return {
    [ACCESS_ALIAS]: template(ACCESS_ALIAS, i.nodes, { ...COMMON_PROPERTIES, access: accessLogMapping(i.fields) }),
    [LOGS_ALIAS]: template(LOGS_ALIAS, i.nodes, { ...COMMON_PROPERTIES, log: { type: "text" } }),
  };
}

/** The first index behind each write alias, created only when the alias does not exist. */
export function initialIndices(): { alias: string; index: string; body: Record<string, unknown> }[] {
  return [ACCESS_ALIAS, LOGS_ALIAS].map((alias) => ({ alias, index: `${alias}-000001`, body: { aliases: { [alias]: { is_write_index: true } } } }));
}

/** Fluentd may only add documents to the aliases' indices: no deletes, no index creation. */
export function fluentdRole(): Record<string, unknown> {
  return { cluster: ["monitor"], indices: [{ names: [...LOG_INDICES], privileges: ["create_doc"] }] };
}

/**
 * elasticsearch-exporter: cluster health and node stats (cluster `monitor`) and index stats of
 * the log indices (indices `monitor`, for `--es.indices` should it be turned on); it reads no
 * document and changes nothing.
 */
export function monitoringRole(): Record<string, unknown> {
  return { cluster: ["monitor"], indices: [{ names: [...LOG_INDICES], privileges: ["monitor"] }] };
}

/** Grafana's Elasticsearch datasource: search the log indices and read their mappings; no cluster privilege. */
export function grafanaRole(): Record<string, unknown> {
  // cluster monitor: Grafana's datasource reads the cluster's version (GET /) before it queries.
  return { cluster: ["monitor"], indices: [{ names: [...LOG_INDICES], privileges: ["read", "view_index_metadata"] }] };
}

export interface ElasticsearchYmlInput {
  readonly clusterName: string;
  readonly nodes: number;
  readonly names: LoggingNames;
  readonly namespace: string;
  readonly clusterDomain: string;
  /** false: Lucene reads without mmap, so vm.max_map_count need not be raised. */
  readonly allowMmap: boolean;
}

export function elasticsearchYml(i: ElasticsearchYmlInput): string {
  const discovery =
    i.nodes === 1
      ? { "discovery.type": "single-node" }
      : {
          // cluster.initial_master_nodes is not here: the container passes it only to a node that
          // never held cluster state (workloads.ts esCommand), so it is gone once the cluster formed.
          "discovery.seed_hosts": esPodHosts(i.names, i.namespace, i.clusterDomain, i.nodes),
          // node.attr.zone is the node's topology.kubernetes.io/zone (workloads.ts zoneScript):
          // a primary and its replica are kept in different zones when there are several.
          "cluster.routing.allocation.awareness.attributes": "zone",
        };
  const ssl = (layer: "transport" | "http") => ({
    [`xpack.security.${layer}.ssl.enabled`]: true,
    [`xpack.security.${layer}.ssl.key`]: `${ES_CERTS_DIR}/tls.key`,
    [`xpack.security.${layer}.ssl.certificate`]: `${ES_CERTS_DIR}/tls.crt`,
    [`xpack.security.${layer}.ssl.certificate_authorities`]: [`${ES_CERTS_DIR}/ca.crt`],
  });
  const cfg = {
    "cluster.name": i.clusterName,
    "node.name": "${POD_NAME}",
    "network.host": "0.0.0.0",
    "network.publish_host": "${POD_IP}",
    "http.port": ES_HTTP_PORT,
    "transport.port": ES_TRANSPORT_PORT,
    ...discovery,
    "xpack.security.enabled": true,
    ...ssl("transport"),
    // One certificate for every node: nodes check the CA, not each other's host names.
    "xpack.security.transport.ssl.verification_mode": "certificate",
    ...ssl("http"),
    // Writes to a write alias before the bootstrap made it must fail (and be retried by
    // Fluentd), not auto-create a concrete index that takes the alias's name.
    "action.auto_create_index": `-${ACCESS_ALIAS},-${LOGS_ALIAS},+*`,
    ...(i.allowMmap ? {} : { "node.store.allow_mmap": false }),
  };
  return stringify(cfg);
}
