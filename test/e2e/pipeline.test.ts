// Issue 7, the pipeline end to end without a cluster: a real Kafka (KRaft, one node) and a real
// Cassandra (one node) from Maven Central on this machine's Java, the topic and the project's
// generated schema CQL, then the real jaeger binary in its three roles with the configs from
// components/jaeger/jaeger-config.ts (only hosts and ports rewritten to 127.0.0.1 and free
// ports). One Zipkin v2 span goes in as Envoy sends it; the query API must return its trace.
// With authentication on as in the cluster (issue 16): Kafka's listener takes SASL/PLAIN only,
// Cassandra runs PasswordAuthenticator with the roles the schema Job sets up, and the jaeger
// roles log in with the passwords their env carries (`${env:...}` in the rendered configs).
// Nothing is stood in for. A missing jaeger binary, Java or Maven fails the test; never a skip.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { AUTH_USER, CASSANDRA_DEFAULT_ROLE, cassandraBootstrapCql, cassandraLockdownCql, kafkaBrokerJaas, kafkaClientProperties, PASSWORD_ENV } from "../../components/jaeger/auth.js";
import { RACK, schemaCql } from "../../components/jaeger/cassandra.js";
import { parseJaegerConfig, type JaegerConfig } from "../../components/jaeger/config.js";
import { collectorConfig, HEALTH_PATH, ingesterConfig, type OtelcolConfig, queryConfig, STORAGE_NAME } from "../../components/jaeger/jaeger-config.js";
import { SPANS_TOPIC } from "../../components/jaeger/topology.js";
import { toolPath } from "../../lib/tools.js";
import {
  type CassandraServer, createTopic, fetchArtifacts, freePorts, type KafkaServer, runCql, start, started, startCassandra, startKafka, stopAll, tail, topicCommand, waitFor,
} from "./pipeline/servers.js";

const TRACE_WAIT_MS = 120_000;
const root = mkdtempSync(path.join(os.tmpdir(), "obs-e2e-pipeline-"));
const timings: Record<string, number> = {};

function config(raw: Record<string, unknown>): JaegerConfig {
  const { config: c, issues } = parseJaegerConfig(raw);
  expect(issues).toEqual([]);
  return c!;
}

const cfg = config({});
// fresh per run, as `obs:jaeger.kafkaPassword` / `.cassandraPassword` would be
const passwords = { kafka: randomBytes(18).toString("base64url"), cassandra: randomBytes(18).toString("base64url") };
const auth: Record<string, boolean> = {};
const input = { namespace: "observability", clusterDomain: "cluster.local", config: cfg };

interface RolePorts { health: number; metrics: number }

type Obj = Record<string, any>;

/** The generated config with only its listeners and its Kafka/Cassandra addresses made local. */
function localize(c: OtelcolConfig, p: RolePorts, kafka: KafkaServer, cass: CassandraServer): OtelcolConfig {
  const out = structuredClone(c) as OtelcolConfig;
  const ext = out.extensions as Obj;
  ext.healthcheckv2.http.endpoint = `127.0.0.1:${p.health}`;
  const reader = (out.service.telemetry as Obj).metrics.readers[0].pull.exporter.prometheus;
  reader.host = "127.0.0.1";
  reader.port = p.metrics;
  const conn = ext.jaeger_storage?.backends?.[STORAGE_NAME]?.cassandra?.connection;
  if (conn) {
    conn.servers = [cass.host];
    conn.port = cass.port;
  }
  const rk = (out.receivers as Obj).kafka;
  if (rk) rk.brokers = [kafka.bootstrap];
  const ek = (out.exporters as Obj).kafka;
  if (ek) ek.brokers = [kafka.bootstrap];
  return out;
}

function refused(f: () => void): boolean {
  try {
    f();
    return false;
  } catch {
    return true;
  }
}

async function httpOk(url: string): Promise<boolean> {
  const r = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  return r.ok;
}

const t = async <T>(name: string, f: () => Promise<T> | T): Promise<T> => {
  const t0 = Date.now();
  try {
    return await f();
  } finally {
    timings[name] = (Date.now() - t0) / 1000;
  }
};

let zipkinUrl = "";
let queryUrl = "";

describe("pipeline: Zipkin span -> collector -> Kafka -> ingester -> Cassandra -> query", () => {
  beforeAll(async () => {
    const jaeger = toolPath("jaeger");
    const [kafkaCp, cassCp] = await t("maven", () => [fetchArtifacts("kafka"), fetchArtifacts("cassandra")]);

    const [kafka, cass] = await t("kafka+cassandra start", () =>
      Promise.all([
        startKafka(path.join(root, "kafka"), kafkaCp, { jaas: kafkaBrokerJaas(passwords.kafka), clientProperties: kafkaClientProperties(passwords.kafka) }),
        startCassandra(path.join(root, "cassandra"), cassCp, { clusterName: cfg.cassandra.clusterName, datacenter: cfg.cassandra.datacenter, rack: RACK }),
      ]),
    );

    await t("topic + roles + schema", async () => {
      createTopic(kafka, SPANS_TOPIC, cfg.kafka.partitions, cfg.kafka.replicationFactor);
      // what the schema Job does on a new cluster: as the default superuser (once it exists), the
      // jaeger role; as jaeger, the default superuser locked; then the schema
      const asDefault = { user: CASSANDRA_DEFAULT_ROLE, password: CASSANDRA_DEFAULT_ROLE };
      const asJaeger = { user: AUTH_USER, password: passwords.cassandra };
      await waitFor("the default superuser", 60_000, () => (runCql(cass, cassandraBootstrapCql(passwords.cassandra), asDefault), true));
      runCql(cass, cassandraLockdownCql(passwords.cassandra), asJaeger);
      runCql(cass, schemaCql(cfg.cassandra), asJaeger);
      // the refusals that make it authentication
      auth.cassandraAnonymousRefused = refused(() => runCql(cass, "SELECT release_version FROM system.local;"));
      auth.cassandraDefaultLocked = refused(() => runCql(cass, "SELECT release_version FROM system.local;", asDefault));
      auth.kafkaWrongPasswordRefused = refused(() => {
        const wrong = path.join(root, "kafka", "wrong.properties");
        writeFileSync(wrong, kafkaClientProperties(`${passwords.kafka}-wrong`));
        topicCommand(kafka, ["--describe", "--topic", SPANS_TOPIC], wrong, 90_000);
      });
      auth.kafkaTopicListed = topicCommand(kafka, ["--describe", "--topic", SPANS_TOPIC]).includes(`PartitionCount: ${cfg.kafka.partitions}`);
    });

    // health, metrics per role; zipkin, otlp grpc/http for the collector; http/grpc for the query
    const ports = await freePorts(11);
    const next = () => ports.shift()!;
    const collector = localize(collectorConfig(input), { health: next(), metrics: next() }, kafka, cass);
    const zipkinPort = next();
    const recv = collector.receivers as Obj;
    recv.zipkin.endpoint = `127.0.0.1:${zipkinPort}`;
    recv.otlp.protocols.grpc.endpoint = `127.0.0.1:${next()}`;
    recv.otlp.protocols.http.endpoint = `127.0.0.1:${next()}`;
    const ingester = localize(ingesterConfig(input), { health: next(), metrics: next() }, kafka, cass);
    const query = localize(queryConfig(input), { health: next(), metrics: next() }, kafka, cass);
    const queryPort = next();
    const jq = (query.extensions as Obj).jaeger_query;
    jq.http.endpoint = `127.0.0.1:${queryPort}`;
    jq.grpc.endpoint = `127.0.0.1:${next()}`;

    await t("jaeger roles start", async () => {
      const dir = path.join(root, "jaeger");
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      const roles = { ingester, query, collector };
      await Promise.all(
        Object.entries(roles).map(async ([role, c]) => {
          const file = path.join(dir, `${role}.yaml`);
          writeFileSync(file, stringify(c));
          // the Deployments' env from the Secrets: the files hold `${env:...}` only
          const p = start(`jaeger-${role}`, jaeger, ["--config", file], dir, { [PASSWORD_ENV.kafka]: passwords.kafka, [PASSWORD_ENV.cassandra]: passwords.cassandra });
          const health = (c.extensions as Obj).healthcheckv2.http.endpoint as string;
          await waitFor(`jaeger ${role} healthy`, 90_000, () => httpOk(`http://${health}${HEALTH_PATH}`), p);
        }),
      );
    });
    zipkinUrl = `http://127.0.0.1:${zipkinPort}/api/v2/spans`;
    queryUrl = `http://127.0.0.1:${queryPort}`;
  });

  afterAll(async () => {
    // by pid, last started first: the jaeger roles, then Cassandra and Kafka
    await stopAll();
    console.log(`[pipeline] timings (s): ${JSON.stringify(timings)}`);
    rmSync(root, { recursive: true, force: true });
  });

  it("Kafka and Cassandra refuse clients without the right password, and the rendered configs carry none", () => {
    expect(auth).toEqual({ cassandraAnonymousRefused: true, cassandraDefaultLocked: true, kafkaWrongPasswordRefused: true, kafkaTopicListed: true });
    for (const c of [collectorConfig(input), ingesterConfig(input), queryConfig(input)]) {
      const text = stringify(c);
      expect(text).not.toContain(passwords.kafka);
      expect(text).not.toContain(passwords.cassandra);
    }
    expect(stringify(ingesterConfig(input))).toContain(`\${env:${PASSWORD_ENV.kafka}}`);
    expect(stringify(ingesterConfig(input))).toContain(`\${env:${PASSWORD_ENV.cassandra}}`);
  });

  it("a Zipkin v2 span POSTed to the collector comes back from the query API", async () => {
    const traceId = `${(1 + (randomBytes(1)[0]! % 15)).toString(16)}${randomBytes(16).toString("hex").slice(1)}`;
    const spanId = randomBytes(8).toString("hex").replace(/^0/, "1");
    const nowUs = Date.now() * 1000;
    // As Envoy's Zipkin tracer (collector_endpoint_version HTTP_JSON) sends it.
    const span = [{
      traceId,
      id: spanId,
      name: "ingress",
      kind: "SERVER",
      timestamp: nowUs - 5_000,
      duration: 4_000,
      localEndpoint: { serviceName: "pipeline-test.default", ipv4: "10.0.0.1" },
      tags: { "http.method": "GET", "http.url": "http://example/", "http.status_code": "200", component: "proxy", "node_id": "sidecar~10.0.0.1~pipeline-test.default~default.svc.cluster.local" },
      shared: false,
    }];
    const post = await fetch(zipkinUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(span), signal: AbortSignal.timeout(10_000) });
    expect(post.status, await post.text()).toBe(202);

    const t0 = Date.now();
    let last = "";
    let found: Obj | undefined;
    await waitFor(`trace ${traceId} from the query API`, TRACE_WAIT_MS, async () => {
      const r = await fetch(`${queryUrl}/api/traces/${traceId}`, { signal: AbortSignal.timeout(5_000) });
      last = `${r.status} ${(await r.text().then((b) => ((found = r.ok ? JSON.parse(b) : undefined), b))).slice(0, 300)}`;
      return r.ok && Array.isArray(found?.data) && found.data.length > 0 && found.data[0].spans?.length > 0;
    }).catch((e: Error) => {
      throw new Error(`${e.message}\nlast answer: ${last}\n${started.map((p) => `--- ${p.name}\n${tail(p, 15)}`).join("\n")}`);
    });
    timings["span to query"] = (Date.now() - t0) / 1000;

    const trace = found!.data[0];
    expect(trace.traceID.replace(/^0+/, "")).toBe(traceId.replace(/^0+/, ""));
    expect(trace.spans).toHaveLength(1);
    const s = trace.spans[0];
    expect(s.spanID.replace(/^0+/, "")).toBe(spanId.replace(/^0+/, ""));
    expect(s.operationName).toBe("ingress");
    expect(s.duration).toBe(4_000);
    expect(trace.processes[s.processID].serviceName).toBe("pipeline-test.default");
    expect(s.tags).toEqual(expect.arrayContaining([expect.objectContaining({ key: "http.status_code" })]));
  });
});
