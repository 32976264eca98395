// The Jobs' scripts run for real (bash + curl) against small in-process fakes of the
// Elasticsearch and Kubernetes APIs: the first run creates, a re-run changes nothing.
import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BOOTSTRAP_SCRIPT, BOOTSTRAP_USERS, bootstrapEnv, bootstrapFiles, CERTS_SCRIPT, certDnsNames, certsEnv, certsFiles, USERS_FILE } from "../../../components/logging/bootstrap.js";
import { loggingNames } from "../../../components/logging/names.js";

interface Req {
  method: string;
  path: string;
  user?: string;
  body: string;
}

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

async function serve(handler: (r: Req) => [number, unknown]): Promise<{ url: string; requests: Req[] }> {
  const requests: Req[] = [];
  const server = createServer(async (req: IncomingMessage, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    const auth = req.headers.authorization?.startsWith("Basic ") ? Buffer.from(req.headers.authorization.slice(6), "base64").toString() : undefined;
    const r: Req = { method: req.method!, path: req.url!, user: auth, body };
    requests.push(r);
    const [code, out] = handler(r);
    res.writeHead(code, { "content-type": "application/json" }).end(JSON.stringify(out));
  });
  servers.push(server);
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

function run(script: string, env: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  return new Promise((ok) => {
    execFile("bash", [script], { env: { PATH: process.env.PATH!, RETRY_SECONDS: "0.05", ...env }, timeout: 20_000 }, (e, out, err) => ok({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, out, err }));
  });
}

const writes = (reqs: Req[]) => reqs.filter((r) => r.method !== "GET").map((r) => `${r.method} ${r.path}`);

/** Elasticsearch, as far as the bootstrap needs it: state in maps, basic auth on users. */
function fakeElasticsearch(elasticPassword: string, opts: { unavailable?: number } = {}) {
  const state = { policies: new Map<string, unknown>(), templates: new Map<string, unknown>(), roles: new Map<string, unknown>(), aliases: new Map<string, string>(), users: new Map<string, string>([["elastic", elasticPassword]]), userRoles: new Map<string, unknown>() };
  let unavailable = opts.unavailable ?? 0;
  const handler = (r: Req): [number, unknown] => {
    const [user, ...pw] = (r.user ?? "").split(":");
    if (state.users.get(user!) !== pw.join(":")) return [401, { error: "unauthenticated" }];
    if (unavailable > 0) return (unavailable--, [503, { error: "master_not_discovered_exception" }]);
    const p = r.path.split("?")[0]!;
    let m: RegExpExecArray | null;
    if (r.method === "GET" && p === "/_cluster/health") return [200, { status: "green" }];
    if (r.method === "GET" && p === "/_security/_authenticate") return [200, { username: user }];
    if (r.method === "PUT" && (m = /^\/_ilm\/policy\/(.+)$/.exec(p))) return (state.policies.set(m[1]!, JSON.parse(r.body)), [200, { acknowledged: true }]);
    if (r.method === "PUT" && (m = /^\/_index_template\/(.+)$/.exec(p))) return (state.templates.set(m[1]!, JSON.parse(r.body)), [200, { acknowledged: true }]);
    if (r.method === "PUT" && (m = /^\/_security\/role\/(.+)$/.exec(p))) return (state.roles.set(m[1]!, JSON.parse(r.body)), [200, { role: { created: true } }]);
    if (r.method === "GET" && (m = /^\/_alias\/(.+)$/.exec(p))) return state.aliases.has(m[1]!) ? [200, { [state.aliases.get(m[1]!)!]: {} }] : [404, { error: "alias missing" }];
    if (r.method === "PUT" && (m = /^\/_security\/user\/([^/]+)$/.exec(p))) {
      const body = JSON.parse(r.body);
      state.users.set(m[1]!, body.password);
      state.userRoles.set(m[1]!, body.roles);
      return [200, { created: true }];
    }
    if (r.method === "POST" && (m = /^\/_security\/user\/([^/]+)\/_password$/.exec(p))) return (state.users.set(m[1]!, JSON.parse(r.body).password), [200, {}]);
    if (r.method === "PUT" && (m = /^\/([a-z0-9-]+)$/.exec(p))) {
      const aliases = Object.keys(JSON.parse(r.body).aliases ?? {});
      if (aliases.some((a) => state.aliases.has(a))) return [400, { error: "resource_already_exists_exception" }];
      for (const a of aliases) state.aliases.set(a, m[1]!);
      return [200, { acknowledged: true }];
    }
    return [400, { error: `unexpected ${r.method} ${r.path}` }];
  };
  return { state, handler };
}

function bootstrapDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "es-bootstrap-"));
  for (const [file, text] of Object.entries(bootstrapFiles({ rolloverSize: "10gb", retentionDays: 7, nodes: 1 }))) writeFileSync(path.join(dir, file), text);
  return dir;
}

// Passwords with the characters JSON and the shell care about.
const ELASTIC = 'el@st:c"pw';
const KIBANA = 'kib\\ana "pw" $HOME';
const FLUENTD = "0123456789abcdef0123456789abcdef";
const MONITORING = "fedcba9876543210fedcba9876543210";
const GRAFANA = 'gr"af\\ana';

describe("bootstrap.sh", () => {
  const passwords = { FLUENTD_PASSWORD: FLUENTD, MONITORING_PASSWORD: MONITORING, GRAFANA_PASSWORD: GRAFANA };
  const env = (url: string, dir: string, elastic = ELASTIC) => ({ ...bootstrapEnv(url, "/nonexistent/ca.crt", 10), BOOTSTRAP_DIR: dir, ELASTIC_PASSWORD: elastic, KIBANA_PASSWORD: KIBANA, ...passwords });

  it("passes every user's password variable to the Job and names each user, role and variable once", () => {
    expect(BOOTSTRAP_USERS.map((u) => [u.user, u.role, u.passwordEnv])).toEqual([
      ["fluentd", "fluentd_writer", "FLUENTD_PASSWORD"],
      ["monitoring", "metrics_exporter", "MONITORING_PASSWORD"],
      ["grafana", "logs_reader", "GRAFANA_PASSWORD"],
    ]);
    expect(Object.keys(passwords).sort()).toEqual(BOOTSTRAP_USERS.map((u) => u.passwordEnv).sort());
    for (const key of ["user", "role", "passwordEnv", "credentials"] as const) expect(new Set(BOOTSTRAP_USERS.map((u) => u[key])).size).toBe(BOOTSTRAP_USERS.length);
    const users = bootstrapFiles({ rolloverSize: "10gb", retentionDays: 7, nodes: 1 })[USERS_FILE]!;
    expect(users.trim().split("\n")).toEqual(["fluentd fluentd_writer FLUENTD_PASSWORD Fluentd log shipper", "monitoring metrics_exporter MONITORING_PASSWORD Elasticsearch metrics exporter", "grafana logs_reader GRAFANA_PASSWORD Grafana log reader"]);
  });

  it("puts policy, templates, aliases, role and users; a re-run creates nothing", async () => {
    const es = fakeElasticsearch(ELASTIC);
    const { url, requests } = await serve(es.handler);
    const dir = bootstrapDir();
    const first = await run(path.join(dir, BOOTSTRAP_SCRIPT), env(url, dir));
    expect(first.err).toBe("");
    expect(first.code).toBe(0);
    expect(writes(requests)).toEqual([
      "PUT /_ilm/policy/obs-logs",
      "PUT /_index_template/envoy-access",
      "PUT /_index_template/k8s-logs",
      "PUT /envoy-access-000001",
      "PUT /k8s-logs-000001",
      "PUT /_security/role/fluentd_writer",
      "PUT /_security/role/logs_reader",
      "PUT /_security/role/metrics_exporter",
      "PUT /_security/user/fluentd",
      "PUT /_security/user/monitoring",
      "PUT /_security/user/grafana",
      "POST /_security/user/kibana_system/_password",
    ]);
    expect(es.state.policies.get("obs-logs")).toEqual(JSON.parse(readFileSync(path.join(dir, "ilm-obs-logs.json"), "utf8")));
    expect([...es.state.aliases]).toEqual([
      ["envoy-access", "envoy-access-000001"],
      ["k8s-logs", "k8s-logs-000001"],
    ]);
    // passwords arrive intact through the shell and JSON
    expect(es.state.users.get("kibana_system")).toBe(KIBANA);
    expect(es.state.users.get("fluentd")).toBe(FLUENTD);
    expect(es.state.users.get("monitoring")).toBe(MONITORING);
    expect(es.state.users.get("grafana")).toBe(GRAFANA);
    // each user holds exactly its own role, as the role files define them
    expect(Object.fromEntries(es.state.userRoles)).toEqual({ fluentd: ["fluentd_writer"], monitoring: ["metrics_exporter"], grafana: ["logs_reader"] });
    expect(es.state.roles.get("metrics_exporter")).toEqual({ cluster: ["monitor"], indices: [{ names: ["envoy-access", "envoy-access-*", "k8s-logs", "k8s-logs-*"], privileges: ["monitor"] }] });
    expect(es.state.roles.get("logs_reader")).toEqual({ cluster: ["monitor"], indices: [{ names: ["envoy-access", "envoy-access-*", "k8s-logs", "k8s-logs-*"], privileges: ["read", "view_index_metadata"] }] });
    for (const pw of [KIBANA, FLUENTD, MONITORING, GRAFANA]) expect(first.out).not.toContain(pw);

    requests.length = 0;
    const second = await run(path.join(dir, BOOTSTRAP_SCRIPT), env(url, dir));
    expect(second.code).toBe(0);
    // only the declarative PUTs repeat (no-ops in Elasticsearch for an unchanged body)
    expect(writes(requests)).toEqual([
      "PUT /_ilm/policy/obs-logs",
      "PUT /_index_template/envoy-access",
      "PUT /_index_template/k8s-logs",
      "PUT /_security/role/fluentd_writer",
      "PUT /_security/role/logs_reader",
      "PUT /_security/role/metrics_exporter",
    ]);
    expect(second.out).toContain("alias envoy-access exists");
    for (const user of ["fluentd", "monitoring", "grafana"]) expect(second.out).toContain(`user ${user} is up to date`);
    expect(second.out).toContain("user kibana_system is up to date");
  });

  it("waits while Elasticsearch is unavailable", async () => {
    const es = fakeElasticsearch(ELASTIC, { unavailable: 3 });
    const { url, requests } = await serve(es.handler);
    const dir = bootstrapDir();
    const r = await run(path.join(dir, BOOTSTRAP_SCRIPT), env(url, dir));
    expect(r.code).toBe(0);
    expect(requests.filter((q) => q.path.startsWith("/_cluster/health"))).toHaveLength(4);
  });

  it("resets a user whose password changed (a new elastic password derives new ones) and stops on a missing one", async () => {
    const es = fakeElasticsearch(ELASTIC);
    const { url, requests } = await serve(es.handler);
    const dir = bootstrapDir();
    expect((await run(path.join(dir, BOOTSTRAP_SCRIPT), env(url, dir))).code).toBe(0);
    requests.length = 0;
    const changed = await run(path.join(dir, BOOTSTRAP_SCRIPT), { ...env(url, dir), MONITORING_PASSWORD: "another-one" });
    expect(changed.code).toBe(0);
    expect(writes(requests).filter((w) => w.includes("/_security/user/"))).toEqual(["PUT /_security/user/monitoring"]);
    expect(es.state.users.get("monitoring")).toBe("another-one");

    const { GRAFANA_PASSWORD: _, ...withoutGrafana } = env(url, dir);
    const missing = await run(path.join(dir, BOOTSTRAP_SCRIPT), withoutGrafana);
    expect(missing.code).not.toBe(0);
    expect(missing.err).toContain("GRAFANA_PASSWORD (password of grafana) is not set");
  });

  it("stops at once, with the reason, on a wrong elastic password", async () => {
    const { url, requests } = await serve(fakeElasticsearch("another").handler);
    const dir = bootstrapDir();
    const r = await run(path.join(dir, BOOTSTRAP_SCRIPT), env(url, dir));
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/GET \/_cluster\/health.*: unexpected 401/);
    expect(requests).toHaveLength(1);
  });

  it("gives up at its deadline when nothing answers", async () => {
    const dir = bootstrapDir();
    const started = Date.now();
    const r = await run(path.join(dir, BOOTSTRAP_SCRIPT), { ...env("http://127.0.0.1:9", dir), DEADLINE_SECONDS: "1" });
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/still 000 at the deadline/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe("certs.sh", () => {
  const n = loggingNames("logging");

  /** A service-account directory, a fake certutil writing what the real one zips, and a no-op unzip. */
  function sandbox(): { env: Record<string, string>; dir: string } {
    const dir = mkdtempSync(path.join(tmpdir(), "es-certs-"));
    mkdirSync(path.join(dir, "sa"));
    writeFileSync(path.join(dir, "sa", "namespace"), "obs");
    writeFileSync(path.join(dir, "sa", "token"), "token-123");
    writeFileSync(path.join(dir, "sa", "ca.crt"), "");
    mkdirSync(path.join(dir, "bin"));
    const certutil = path.join(dir, "bin", "certutil");
    writeFileSync(
      certutil,
      `#!/usr/bin/env bash
echo "$*" >> "${dir}/certutil.log"
if [[ $1 == ca ]]; then mkdir -p ca; echo CA-CERT > ca/ca.crt; echo CA-KEY > ca/ca.key; else mkdir -p node; echo NODE-CERT > node/node.crt; echo NODE-KEY > node/node.key; fi
touch "\${@: -1}"
`,
    );
    writeFileSync(path.join(dir, "bin", "unzip"), "#!/usr/bin/env bash\ntrue\n");
    chmodSync(certutil, 0o755);
    chmodSync(path.join(dir, "bin", "unzip"), 0o755);
    writeFileSync(path.join(dir, CERTS_SCRIPT), certsFiles()[CERTS_SCRIPT]!);
    return { dir, env: { ...certsEnv(n, "obs", "cluster.local", 10), SA_DIR: path.join(dir, "sa"), CERTUTIL: certutil, PATH: `${path.join(dir, "bin")}:${process.env.PATH}` } };
  }

  function fakeApi(existing: string[] = []) {
    const secrets = new Map<string, Record<string, string>>(existing.map((s) => [s, {}]));
    const handler = (r: Req): [number, unknown] => {
      const m = /^\/api\/v1\/namespaces\/obs\/secrets(?:\/(.+))?$/.exec(r.path);
      if (!m) return [404, {}];
      if (r.method === "GET") return secrets.has(m[1]!) ? [200, {}] : [404, {}];
      const body = JSON.parse(r.body) as { metadata: { name: string }; data: Record<string, string> };
      if (r.method === "POST") return secrets.has(body.metadata.name) ? [409, {}] : (secrets.set(body.metadata.name, body.data), [201, {}]);
      if (r.method === "PUT") return (secrets.set(m[1]!, body.data), [200, {}]);
      return [405, {}];
    };
    return { secrets, handler };
  }

  it("creates the CA and certificate Secrets once; a re-run keeps them", async () => {
    const api = fakeApi();
    const { url, requests } = await serve(api.handler);
    const { dir, env } = sandbox();
    const first = await run(path.join(dir, CERTS_SCRIPT), { ...env, API_URL: url });
    expect(first.err).toBe("");
    expect(first.code).toBe(0);
    const decode = (d: Record<string, string>) => Object.fromEntries(Object.entries(d).map(([k, v]) => [k, Buffer.from(v, "base64").toString().trim()]));
    expect(decode(api.secrets.get(n.esCa)!)).toEqual({ "ca.crt": "CA-CERT" });
    expect(decode(api.secrets.get(n.esCerts)!)).toEqual({ "ca.crt": "CA-CERT", "tls.crt": "NODE-CERT", "tls.key": "NODE-KEY" });
    const log = readFileSync(path.join(dir, "certutil.log"), "utf8");
    expect(log).toContain(`--dns ${certDnsNames(n, "obs", "cluster.local").join(",")}`);
    expect(certDnsNames(n, "obs", "cluster.local")).toEqual(expect.arrayContaining(["logging-es-http.obs.svc", "logging-es-http.obs.svc.cluster.local", "*.logging-es-headless.obs.svc", "*.logging-es-headless.obs.svc.cluster.local", "localhost"]));
    expect(certDnsNames(n, "obs", "corp.internal")).toEqual(expect.arrayContaining(["logging-es-http.obs.svc.corp.internal", "*.logging-es-headless.obs.svc.corp.internal"]));

    requests.length = 0;
    const second = await run(path.join(dir, CERTS_SCRIPT), { ...env, API_URL: url });
    expect(second.code).toBe(0);
    expect(second.out).toContain(`secret ${n.esCerts} exists; keeping it`);
    expect(writes(requests)).toEqual([]);
    expect(requests.every((r) => r.method === "GET")).toBe(true);
  });

  it("replaces a CA Secret left by a run that failed before the certificate", async () => {
    const api = fakeApi([n.esCa]);
    const { url, requests } = await serve(api.handler);
    const { dir, env } = sandbox();
    const r = await run(path.join(dir, CERTS_SCRIPT), { ...env, API_URL: url });
    expect(r.code).toBe(0);
    expect(writes(requests)).toEqual(["POST /api/v1/namespaces/obs/secrets", `PUT /api/v1/namespaces/obs/secrets/${n.esCa}`, "POST /api/v1/namespaces/obs/secrets"]);
    expect(api.secrets.get(n.esCa)).toHaveProperty("ca.crt");
  });
});
