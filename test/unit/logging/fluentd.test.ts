// fluent.conf: its structure, and above all that the CRI regexp, the partial-line joining
// and the routing rules it carries do what they claim on real-looking lines.
import { describe, expect, it } from "vitest";
import { BUFFER_DIR, buildFluentdConfig, bufferLimitPerOutput, CRI_TIME_FORMAT, type FluentdConfigInput, fluentdTypes, METRICS_PATH, METRICS_PORT, POS_DIR } from "../../../components/logging/fluentd.js";
import { fluentdBytes, validated } from "../../../lib/units.js";
import { ACCESS_LOG_FIELDS, type AccessLogField } from "../../../components/mesh/access-log.js";
import { find, one, parseFluentConf, regexpParam, type Section } from "./fluentconf.js";

const input: FluentdConfigInput = { esHost: "logging-es-http.obs.svc", caFile: "/etc/elasticsearch-ca/ca.crt", bufferLimit: "2GB", namespace: "obs" };
const conf = (i: Partial<FluentdConfigInput> = {}) => parseFluentConf(buildFluentdConfig({ ...input, ...i }));

// Sample lines as containerd writes them under /var/log/pods.
const FULL = "2025-03-14T09:26:53.589793238Z stdout F GET /healthz 200";
const OFFSET = "2025-03-14T10:26:53.5+01:00 stderr F panic: boom";
const EMPTY = "2025-03-14T09:26:53.000000001Z stdout F ";
const access = { start_time: "2025-03-14T09:26:53.123Z", method: "GET", path: "/api/items?page=2", response_code: 200, bytes_sent: 5120, duration: 12, upstream_service_time: "-", user_agent: "curl/8.5.0 (x86_64) \"quoted\"" };
const accessJson = JSON.stringify(access);
// A long access line the runtime split into three pieces: P, P, F.
const pieces = [accessJson.slice(0, 40), accessJson.slice(40, 90), accessJson.slice(90)];
const SPLIT = pieces.map((p, i) => `2025-03-14T09:26:53.58979323${i}Z stdout ${i < 2 ? "P" : "F"} ${p}`);

function criRegexp(c: Section): RegExp {
  const tail = byType(c, "source", "tail");
  return regexpParam(one(tail, "parse").params.expression);
}

function byType(c: Section, name: string, type: string): Section {
  const all = find(c, name).filter((s) => s.params["@type"] === type);
  expect(all).toHaveLength(1);
  return all[0]!;
}

/** concat's partial_key mode: buffer records while logtag == partial_value, per stream; join on the next. */
function concat(records: Record<string, string>[], f: Section): Record<string, string>[] {
  const p = f.params;
  const buffers = new Map<string, Record<string, string>[]>();
  const out: Record<string, string>[] = [];
  for (const r of records) {
    const id = r[p.stream_identity_key!]!;
    const buf = [...(buffers.get(id) ?? []), r];
    if (r[p.partial_key!] === p.partial_value) buffers.set(id, buf);
    else {
      buffers.delete(id);
      const { [p.partial_key!]: _, ...first } = buf[0]!;
      out.push({ ...first, [p.key!]: buf.map((x) => x[p.key!]).join(JSON.parse(p.separator!)) });
    }
  }
  return out;
}

/** rewrite_tag_filter: the first rule that matches (or, inverted, does not match) names the tag. */
function route(record: Record<string, unknown>, rules: Section[]): string | undefined {
  for (const rule of rules) {
    const path = rule.params.key!.startsWith("$.") ? rule.params.key!.slice(2).split(".") : [rule.params.key!];
    const value = String(path.reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], record) ?? "");
    const invert = rule.params.invert === "true";
    if (!value && !invert) continue;
    if (regexpParam(rule.params.pattern).test(value) === invert) continue;
    return rule.params.tag;
  }
  return undefined;
}

/** A Ruby strptime format as a regexp for the directives it uses. */
function strptimeRegexp(format: string): RegExp {
  const d: Record<string, string> = { "%Y": "\\d{4}", "%m": "\\d{2}", "%d": "\\d{2}", "%H": "\\d{2}", "%M": "\\d{2}", "%S": "\\d{2}", "%N": "\\d{1,9}", "%:z": "(?:Z|[+-]\\d{2}:\\d{2})" };
  return new RegExp("^" + format.replace(/%:z|%[A-Za-z]/g, (x) => d[x] ?? x).replace(/\./g, "\\.") + "$");
}

describe("Fluentd config", () => {
  it("is well formed: every section closes, every label it routes to exists", () => {
    const c = conf();
    const labels = find(c, "label").map((l) => l.arg);
    expect(labels).toEqual(["@CONCAT", "@ENRICH", "@OUTPUT"]);
    const referenced = [...find(c, "source"), ...find(c, "match"), ...find(c, "filter")].flatMap((s) => [s.params["@label"], s.params.timeout_label]).filter(Boolean);
    expect(new Set(referenced)).toEqual(new Set(labels));
    expect(c.children.map((s) => `<${s.name} ${s.arg}> ${s.params["@type"] ?? ""}`.trim())).toEqual([
      "<system >",
      "<source > monitor_agent",
      "<source > prometheus",
      "<source > prometheus_output_monitor",
      "<source > tail",
      "<label @CONCAT>",
      "<label @ENRICH>",
      "<label @OUTPUT>",
    ]);
    // every plugin id is unique (Fluentd refuses duplicates)
    const ids = find(c, "source").concat(find(c, "match"), find(c, "filter")).map((s) => s.params["@id"]).filter(Boolean);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("serves Prometheus metrics on 24231 /metrics on every address, with the outputs' buffer and retry status", () => {
    const c = conf();
    const prom = byType(c, "source", "prometheus");
    expect(prom.params).toEqual({ "@type": "prometheus", "@id": "in_prometheus", bind: "0.0.0.0", port: String(METRICS_PORT), metrics_path: METRICS_PATH });
    expect([METRICS_PORT, METRICS_PATH]).toEqual([24231, "/metrics"]);
    // the output monitor is what emits fluentd_output_status_* for each output (plugin_id label)
    const monitor = byType(c, "source", "prometheus_output_monitor");
    expect(monitor.params["@id"]).toBe("in_prometheus_output_monitor");
    expect(monitor.params).not.toHaveProperty("@label");
    // both Elasticsearch outputs carry an @id, so their series are told apart by plugin_id
    expect(find(c, "match").filter((m) => m.params["@type"] === "elasticsearch").map((m) => m.params["@id"])).toEqual(["out_es_envoy_access", "out_es_k8s_logs"]);
    // the metrics port differs from the monitor_agent's
    expect(byType(c, "source", "monitor_agent").params.port).not.toBe(prom.params.port);
  });

  it("tails the node's container logs with a pos_file on the node, skipping its own log", () => {
    const tail = byType(conf(), "source", "tail");
    expect(tail.params).toMatchObject({ path: "/var/log/containers/*.log", pos_file: `${POS_DIR}/containers.log.pos`, tag: "kubernetes.*", read_from_head: "true", follow_inodes: "true" });
    expect(JSON.parse(tail.params.exclude_path!)).toEqual(["/var/log/containers/*_obs_fluentd-*.log"]);
    expect(one(tail, "parse").params).toMatchObject({ "@type": "regexp", time_key: "time", time_format: "%Y-%m-%dT%H:%M:%S.%N%:z" });
  });

  it("parses full, partial, offset and empty CRI lines with its regexp, and refuses other text", () => {
    const re = criRegexp(conf());
    expect(re.exec(FULL)!.groups).toEqual({ time: "2025-03-14T09:26:53.589793238Z", stream: "stdout", logtag: "F", log: "GET /healthz 200" });
    expect(re.exec(OFFSET)!.groups).toEqual({ time: "2025-03-14T10:26:53.5+01:00", stream: "stderr", logtag: "F", log: "panic: boom" });
    expect(re.exec(EMPTY)!.groups!.log).toBe("");
    expect(re.exec(SPLIT[0]!)!.groups).toMatchObject({ logtag: "P", log: pieces[0] });
    // a message keeps its own spaces; only the first three fields are split off
    expect(re.exec("2025-03-14T09:26:53Z stdout F  two  spaces ")!.groups!.log).toBe(" two  spaces ");
    for (const bad of ["plain text", "2025-03-14T09:26:53Z stdin F x", "2025-03-14T09:26:53Z stdout X x", '{"log":"docker json-file"}']) expect(re.test(bad)).toBe(false);
    const time = strptimeRegexp(CRI_TIME_FORMAT);
    for (const line of [FULL, OFFSET, EMPTY, ...SPLIT]) expect(re.exec(line)!.groups!.time).toMatch(time);
  });

  it("rejoins a line the runtime split (P, P, F) into the original JSON, per stream", () => {
    const c = conf();
    const f = byType(c, "filter", "concat");
    expect(f.params).toMatchObject({ key: "log", partial_key: "logtag", partial_value: "P", separator: '""', stream_identity_key: "stream", timeout_label: "@ENRICH" });
    const re = criRegexp(c);
    const interleaved = [SPLIT[0]!, OFFSET, SPLIT[1]!, SPLIT[2]!, FULL].map((l) => ({ ...re.exec(l)!.groups! }));
    const joined = concat(interleaved, f);
    expect(joined.map((r) => r.log)).toEqual(["panic: boom", accessJson, "GET /healthz 200"]);
    expect(JSON.parse(joined[1]!.log!)).toEqual(access);
    expect(joined[1]).not.toHaveProperty("logtag");
  });

  it("routes istio-proxy JSON lines to the access log and everything else to the app logs", () => {
    const c = conf();
    // metadata first (container_name), in the label the concat step hands over to
    const enrich = one(c, "label", "@ENRICH");
    expect(enrich.children.map((s) => s.params["@type"])).toEqual(["kubernetes_metadata", "rewrite_tag_filter"]);
    expect(enrich.children[0]!.params).toMatchObject({ skip_labels: "false", skip_namespace_metadata: "false" });
    const rewrite = byType(c, "match", "rewrite_tag_filter");
    expect(rewrite.params["@label"]).toBe("@OUTPUT");
    const rules = find(rewrite, "rule");
    const rec = (container: string | undefined, log: string) => ({ log, kubernetes: container ? { container_name: container, namespace_name: "apps" } : {} });
    expect(route(rec("istio-proxy", accessJson), rules)).toBe("envoy.access");
    expect(route(rec("istio-proxy", "  " + accessJson), rules)).toBe("envoy.access");
    expect(route(rec("istio-proxy", "2025-03-14T09:26:53.589Z info Envoy proxy is ready"), rules)).toBe("k8s.logs");
    expect(route(rec("istio-proxy", ""), rules)).toBe("k8s.logs");
    expect(route(rec("app", accessJson), rules)).toBe("k8s.logs");
    expect(route(rec(undefined, "no metadata"), rules)).toBe("k8s.logs");
    // both tags have an output
    expect(find(c, "match").map((m) => m.arg)).toEqual(expect.arrayContaining(["envoy.access", "k8s.logs"]));
  });

  it("parses the access log into `access` with a type for every ACCESS_LOG_FIELDS field", () => {
    const parser = find(conf(), "filter", "envoy.access")[0]!;
    expect(parser.params).toMatchObject({ "@type": "parser", key_name: "log", hash_value_field: "access", reserve_data: "true", reserve_time: "true" });
    const parse = one(parser, "parse").params;
    expect(parse["@type"]).toBe("json");
    const types = Object.fromEntries(parse.types!.split(",").map((t) => t.split(":")));
    expect(Object.keys(types)).toEqual(ACCESS_LOG_FIELDS.map((f) => f.name));
    for (const f of ACCESS_LOG_FIELDS) expect(types[f.name]).toBe(f.type === "long" ? "integer" : "string");
    expect(regexpParam(parse.null_value_pattern).test("-")).toBe(true);
  });

  it("types a field added to the access-log definition", () => {
    const fields: AccessLogField[] = [...ACCESS_LOG_FIELDS, { name: "grpc_status", envoy: "%GRPC_STATUS%", type: "keyword" }, { name: "request_tx_us", envoy: "%REQUEST_TX_DURATION%", type: "long" }];
    expect(fluentdTypes(fields)).toMatch(/,grpc_status:string,request_tx_us:integer$/);
    const parse = one(find(conf({ fields }), "filter", "envoy.access")[0]!, "parse");
    expect(parse.params.types).toBe(fluentdTypes(fields));
  });

  it("ships both streams to Elasticsearch over verified TLS with credentials from the environment", () => {
    const outputs = find(conf(), "match").filter((m) => m.params["@type"] === "elasticsearch");
    expect(outputs.map((o) => [o.arg, o.params.index_name])).toEqual([
      ["envoy.access", "envoy-access"],
      ["k8s.logs", "k8s-logs"],
    ]);
    for (const o of outputs) {
      expect(o.params).toMatchObject({ host: "logging-es-http.obs.svc", port: "9200", scheme: "https", ssl_verify: "true", ca_file: "/etc/elasticsearch-ca/ca.crt", user: `"#{ENV['FLUENT_ELASTICSEARCH_USER']}"`, password: `"#{ENV['FLUENT_ELASTICSEARCH_PASSWORD']}"`, include_timestamp: "true" });
      expect(o.params).not.toHaveProperty("write_operation");
    }
  });

  it("buffers on the node's disk within the configured bound and retries without limit (capped backoff): only a full buffer pauses reading", () => {
    const buffers = find(conf({ bufferLimit: "3GB" }), "buffer");
    expect(buffers).toHaveLength(2);
    expect(new Set(buffers.map((b) => b.params.path)).size).toBe(2);
    let total = 0;
    for (const b of buffers) {
      expect(b.params.path!.startsWith(`${BUFFER_DIR}/`)).toBe(true);
      expect(b.params).toMatchObject({ "@type": "file", retry_forever: "true", retry_type: "exponential_backoff", retry_max_interval: "300s", overflow_action: "block" });
      // a retry limit (or a timeout) would drop every buffered chunk once reached
      expect(b.params).not.toHaveProperty("retry_max_times");
      expect(b.params).not.toHaveProperty("retry_timeout");
      // nothing is thrown away when the buffer is full: neither the oldest chunk nor the new records
      expect(b.params.overflow_action).not.toMatch(/drop/);
      total += validated(fluentdBytes, b.params.total_limit_size!);
    }
    expect(total).toBeLessThanOrEqual(validated(fluentdBytes, "3GB"));
    expect(total).toBeGreaterThan(validated(fluentdBytes, "3GB") * 0.99);
    expect(bufferLimitPerOutput("2GB")).toBe("1024m");
  });
});
