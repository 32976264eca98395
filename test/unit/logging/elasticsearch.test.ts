// Elasticsearch's desired state: ILM, templates whose access mapping follows the mesh's
// field list (the same list Fluentd types), initial indices and elasticsearch.yml.
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { accessLogMapping, elasticsearchYml, fluentdRole, grafanaRole, ilmPolicy, ILM_POLICY, indexTemplates, initialIndices, monitoringRole } from "../../../components/logging/elasticsearch.js";
import { fluentdTypes } from "../../../components/logging/fluentd.js";
import { esPodHosts, LOG_INDICES, loggingNames } from "../../../components/logging/names.js";
import { ACCESS_LOG_FIELDS, type AccessLogField } from "../../../components/mesh/access-log.js";

const n = loggingNames("logging");
type Template = { index_patterns: string[]; template: { settings: Record<string, unknown>; mappings: { properties: Record<string, any> } } };
const templates = (nodes = 1, fields?: readonly AccessLogField[]) => indexTemplates({ nodes, fields }) as unknown as Record<string, Template>;

describe("ILM policy", () => {
  it("rolls over daily or at the size and deletes retentionDays after rollover", () => {
    expect(ilmPolicy({ rolloverSize: "10gb", retentionDays: 14 })).toEqual({
      policy: {
        _meta: { managed_by: "observability-stack" },
        phases: {
          hot: { min_age: "0ms", actions: { rollover: { max_age: "1d", max_primary_shard_size: "10gb" }, set_priority: { priority: 100 } } },
          delete: { min_age: "14d", actions: { delete: {} } },
        },
      },
    });
  });
});

describe("index templates", () => {
  it("cover the indices behind each write alias, not the alias names, with the ILM policy", () => {
    const t = templates();
    expect(Object.keys(t)).toEqual(["envoy-access", "k8s-logs"]);
    for (const [alias, tpl] of Object.entries(t)) {
      expect(tpl.index_patterns).toEqual([`${alias}-*`]);
      expect(tpl.template.settings).toMatchObject({ "index.lifecycle.name": ILM_POLICY, "index.lifecycle.rollover_alias": alias, "index.number_of_shards": 1 });
      const glob = new RegExp("^" + tpl.index_patterns[0]!.replace("*", ".*") + "$");
      expect(glob.test(alias)).toBe(false);
      expect(glob.test(`${alias}-000001`)).toBe(true);
      expect(tpl.template.mappings.properties).toMatchObject({ "@timestamp": { type: "date" }, kubernetes: { properties: { namespace_name: { type: "keyword" }, pod_name: { type: "keyword" }, container_name: { type: "keyword" }, labels: { type: "flattened" } } } });
    }
  });

  it("keep replicas only where a second node can hold them", () => {
    expect(templates(1)["k8s-logs"]!.template.settings["index.number_of_replicas"]).toBe(0);
    expect(templates(3)["k8s-logs"]!.template.settings["index.number_of_replicas"]).toBe(1);
  });

  it("map every access-log field under access.<name> with its type", () => {
    const props = templates()["envoy-access"]!.template.mappings.properties.access.properties;
    expect(Object.keys(props)).toEqual(ACCESS_LOG_FIELDS.map((f) => f.name));
    for (const f of ACCESS_LOG_FIELDS) expect(props[f.name].type).toBe(f.type);
    expect(props.response_code).toEqual({ type: "long", ignore_malformed: true });
    expect(props.path).toEqual({ type: "keyword", ignore_above: 2048 });
    expect(templates()["k8s-logs"]!.template.mappings.properties).not.toHaveProperty("access");
  });

  it("a field added to the definition appears in both the Fluentd types and the mapping", () => {
    const fields: AccessLogField[] = [...ACCESS_LOG_FIELDS, { name: "downstream_local_address", envoy: "%DOWNSTREAM_LOCAL_ADDRESS%", type: "ip" }, { name: "request_tx_us", envoy: "%REQUEST_TX_DURATION%", type: "long" }];
    const props = templates(1, fields)["envoy-access"]!.template.mappings.properties.access.properties;
    const types = Object.fromEntries(fluentdTypes(fields).split(",").map((t) => t.split(":")));
    for (const f of fields) {
      expect(props[f.name], f.name).toBeDefined();
      expect(types[f.name], f.name).toBeDefined();
    }
    expect(props.downstream_local_address).toEqual({ type: "ip", ignore_malformed: true });
    expect(types.request_tx_us).toBe("integer");
    expect(accessLogMapping(fields)).toEqual(templates(1, fields)["envoy-access"]!.template.mappings.properties.access);
  });
});

describe("write aliases and the users' roles", () => {
  it("start each alias at -000001 as its write index", () => {
    expect(initialIndices()).toEqual([
      { alias: "envoy-access", index: "envoy-access-000001", body: { aliases: { "envoy-access": { is_write_index: true } } } },
      { alias: "k8s-logs", index: "k8s-logs-000001", body: { aliases: { "k8s-logs": { is_write_index: true } } } },
    ]);
  });

  it("let Fluentd only add documents", () => {
    expect(fluentdRole()).toEqual({ cluster: ["monitor"], indices: [{ names: ["envoy-access", "envoy-access-*", "k8s-logs", "k8s-logs-*"], privileges: ["create_doc"] }] });
  });

  it("name every alias and every index the templates and ILM create", () => {
    const glob = (p: string) => new RegExp("^" + p.replace(/[-]/g, "\\-").replace("*", ".*") + "$");
    const covered = (index: string) => LOG_INDICES.some((p) => glob(p).test(index));
    for (const { alias, index } of initialIndices()) {
      expect(covered(alias), alias).toBe(true);
      expect(covered(index), index).toBe(true);
      expect(covered(index.replace("000001", "000042")), "rolled over").toBe(true);
    }
    for (const tpl of Object.values(templates())) for (const p of tpl.index_patterns) expect(LOG_INDICES).toContain(p);
    expect(covered(".security-7")).toBe(false);
    expect(covered("other-logs")).toBe(false);
  });

  it("let the exporter monitor (cluster and log indices) and read no document", () => {
    expect(monitoringRole()).toEqual({ cluster: ["monitor"], indices: [{ names: [...LOG_INDICES], privileges: ["monitor"] }] });
  });

  it("let Grafana search the log indices and read their mappings, nothing else", () => {
    const role = grafanaRole() as { cluster: string[]; indices: { names: string[]; privileges: string[] }[] };
    expect(role).toEqual({ cluster: ["monitor"], indices: [{ names: [...LOG_INDICES], privileges: ["read", "view_index_metadata"] }] });
    // no write, manage or all privilege anywhere
    expect(role.indices.flatMap((i) => i.privileges).filter((p) => /write|create|delete|index|manage|all/.test(p) && p !== "view_index_metadata")).toEqual([]);
    expect(role).not.toHaveProperty("run_as");
  });
});

describe("elasticsearch.yml", () => {
  const yml = (nodes: number, allowMmap = true) => parse(elasticsearchYml({ clusterName: "obs-logs", nodes, names: n, namespace: "obs", clusterDomain: "cluster.local", allowMmap }));

  it("uses single-node discovery for one node", () => {
    const c = yml(1);
    expect(c["discovery.type"]).toBe("single-node");
    expect(c).not.toHaveProperty("discovery.seed_hosts");
    expect(c).not.toHaveProperty("cluster.initial_master_nodes");
  });

  it("seeds from the StatefulSet's pod DNS names for several nodes", () => {
    const c = yml(3);
    expect(c).not.toHaveProperty("discovery.type");
    expect(c["discovery.seed_hosts"]).toEqual(["logging-es-0.logging-es-headless.obs.svc.cluster.local", "logging-es-1.logging-es-headless.obs.svc.cluster.local", "logging-es-2.logging-es-headless.obs.svc.cluster.local"]);
    expect(c["discovery.seed_hosts"]).toEqual(esPodHosts(n, "obs", "cluster.local", 3));
    // not in the file: the container sets it only before the cluster formed (esCommand)
    expect(c).not.toHaveProperty("cluster.initial_master_nodes");
  });

  it("turns on security with TLS on both layers from the certificate Secret", () => {
    const c = yml(3);
    expect(c).toMatchObject({
      "cluster.name": "obs-logs",
      "node.name": "${POD_NAME}",
      "xpack.security.enabled": true,
      "xpack.security.transport.ssl.enabled": true,
      "xpack.security.transport.ssl.verification_mode": "certificate",
      "xpack.security.transport.ssl.certificate_authorities": ["certs/ca.crt"],
      "xpack.security.http.ssl.enabled": true,
      "xpack.security.http.ssl.key": "certs/tls.key",
      "xpack.security.http.ssl.certificate": "certs/tls.crt",
    });
  });

  it("never auto-creates an index under an alias's name", () => {
    const rules = String(yml(1)["action.auto_create_index"]).split(",");
    expect(rules.slice(0, 2)).toEqual(["-envoy-access", "-k8s-logs"]);
    expect(rules.at(-1)).toBe("+*");
  });

  it("reads without mmap when vm.max_map_count is left alone", () => {
    expect(yml(1, true)).not.toHaveProperty("node.store.allow_mmap");
    expect(yml(1, false)["node.store.allow_mmap"]).toBe(false);
  });
});
