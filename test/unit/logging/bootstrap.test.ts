// The Jobs' scripts run for real (bash + curl) against small in-process fakes of the
// Elasticsearch and Kubernetes APIs: the first run creates, a re-run changes nothing.
import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { X509Certificate } from "node:crypto";
import { BOOTSTRAP_SCRIPT, BOOTSTRAP_USERS, bootstrapEnv, bootstrapFiles, CERTS_SCRIPT, certDnsNames, certsEnv, certsFiles, renewalCheckDays, renewalPeriod, USERS_FILE } from "../../../components/logging/bootstrap.js";
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
/** The file-realm superuser (certs.sh) holds `adminPassword`; `elastic` starts with a password nobody configured. */
function fakeElasticsearch(adminPassword: string, opts: { unavailable?: number } = {}) {
  const state = { policies: new Map<string, unknown>(), templates: new Map<string, unknown>(), roles: new Map<string, unknown>(), aliases: new Map<string, string>(), users: new Map<string, string>([["obs-internal", adminPassword], ["elastic", "generated-at-first-start"]]), userRoles: new Map<string, unknown>() };
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
const ADMIN = "Gq7internalPw0123456789abcdefXYZ";
const ELASTIC = 'el@st:c"pw';
const KIBANA = 'kib\\ana "pw" $HOME';
const FLUENTD = "0123456789abcdef0123456789abcdef";
const MONITORING = "fedcba9876543210fedcba9876543210";
const GRAFANA = 'gr"af\\ana';

describe("bootstrap.sh", () => {
  const passwords = { FLUENTD_PASSWORD: FLUENTD, MONITORING_PASSWORD: MONITORING, GRAFANA_PASSWORD: GRAFANA };
  const env = (url: string, dir: string, elastic = ELASTIC) => ({ ...bootstrapEnv(url, "/nonexistent/ca.crt", 10), BOOTSTRAP_DIR: dir, ADMIN_PASSWORD: ADMIN, ELASTIC_PASSWORD: elastic, KIBANA_PASSWORD: KIBANA, ...passwords });

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
    const es = fakeElasticsearch(ADMIN);
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
      "POST /_security/user/elastic/_password",
      "POST /_security/user/kibana_system/_password",
    ]);
    // every request acts as the file-realm user: no configured password is needed to reach the cluster
    expect(new Set(requests.filter((q) => !q.path.startsWith("/_security/_authenticate")).map((q) => q.user?.split(":")[0]))).toEqual(new Set(["obs-internal"]));
    expect(es.state.users.get("elastic")).toBe(ELASTIC);
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
    for (const pw of [ADMIN, ELASTIC, KIBANA, FLUENTD, MONITORING, GRAFANA]) expect(first.out).not.toContain(pw);

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
    expect(second.out).toContain("user elastic is up to date");
  });

  it("rotates: a new elastic password is set without its old value, with the users derived from it", async () => {
    const es = fakeElasticsearch(ADMIN);
    const { url, requests } = await serve(es.handler);
    const dir = bootstrapDir();
    expect((await run(path.join(dir, BOOTSTRAP_SCRIPT), env(url, dir))).code).toBe(0);
    requests.length = 0;
    const rotated = await run(path.join(dir, BOOTSTRAP_SCRIPT), { ...env(url, dir, "a-new-elastic-pw"), FLUENTD_PASSWORD: "new-fluentd-pw-0123456789abcdef" });
    expect(rotated.code).toBe(0);
    expect(writes(requests).filter((w) => w.includes("/_security/user/"))).toEqual(["PUT /_security/user/fluentd", "POST /_security/user/elastic/_password"]);
    expect(es.state.users.get("elastic")).toBe("a-new-elastic-pw");
    expect(es.state.users.get("fluentd")).toBe("new-fluentd-pw-0123456789abcdef");
  });

  it("waits while Elasticsearch is unavailable", async () => {
    const es = fakeElasticsearch(ADMIN, { unavailable: 3 });
    const { url, requests } = await serve(es.handler);
    const dir = bootstrapDir();
    const r = await run(path.join(dir, BOOTSTRAP_SCRIPT), env(url, dir));
    expect(r.code).toBe(0);
    expect(requests.filter((q) => q.path.startsWith("/_cluster/health"))).toHaveLength(4);
  });

  it("resets a user whose password changed (a new elastic password derives new ones) and stops on a missing one", async () => {
    const es = fakeElasticsearch(ADMIN);
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

  it("stops at once, with the reason, when the file-realm user is refused", async () => {
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
  const lifetime = { days: 1095, renewBeforeDays: 60 };

  /**
   * A service-account directory, an Elasticsearch home, a certutil that issues real
   * certificates with openssl (as the real one zips them: ca/ca.crt, ca/ca.key, node/node.*)
   * for the days it is asked, an elasticsearch-users writing the file-realm files, a no-op unzip.
   */
  function sandbox(): { env: Record<string, string>; dir: string } {
    const dir = mkdtempSync(path.join(tmpdir(), "es-certs-"));
    mkdirSync(path.join(dir, "sa"));
    writeFileSync(path.join(dir, "sa", "namespace"), "obs");
    writeFileSync(path.join(dir, "sa", "token"), "token-123");
    writeFileSync(path.join(dir, "sa", "ca.crt"), "");
    mkdirSync(path.join(dir, "es", "config"), { recursive: true });
    writeFileSync(path.join(dir, "es", "config", "elasticsearch.yml"), "");
    mkdirSync(path.join(dir, "bin"));
    const tool = (name: string, body: string) => {
      writeFileSync(path.join(dir, "bin", name), `#!/usr/bin/env bash\nset -euo pipefail\n${body}`);
      chmodSync(path.join(dir, "bin", name), 0o755);
    };
    tool(
      "certutil",
      `echo "$*" >> "${dir}/certutil.log"
cmd=$1; shift
while [[ $# -gt 0 ]]; do case $1 in --days) days=$2; shift 2;; --dns) dns=$2; shift 2;; --ca-cert) cacert=$2; shift 2;; --ca-key) cakey=$2; shift 2;; --out) out=$2; shift 2;; *) shift;; esac; done
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$1" 2>/dev/null; }
if [[ $cmd == ca ]]; then
  mkdir -p ca; key ca/ca.key
  openssl req -x509 -new -key ca/ca.key -out ca/ca.crt -days "$days" -subj "/CN=Test CA $RANDOM" 2>/dev/null
else
  mkdir -p node; key node/node.key
  openssl req -new -key node/node.key -out node.csr -subj /CN=node 2>/dev/null
  printf 'subjectAltName=%s\n' "DNS:\${dns//,/,DNS:}" > san.ext
  openssl x509 -req -in node.csr -CA "$cacert" -CAkey "$cakey" -CAcreateserial -days "$days" -extfile san.ext -out node/node.crt 2>/dev/null
fi
touch "$out"
`,
    );
    tool("elasticsearch-users", `[[ $1 == useradd && $3 == -p && $5 == -r ]]; printf '%s:$2a$10$hash-of-%s\\n' "$2" "$4" >> "$ES_PATH_CONF/users"; printf '%s:%s\\n' "$6" "$2" >> "$ES_PATH_CONF/users_roles"\n`);
    tool("unzip", "true\n");
    writeFileSync(path.join(dir, CERTS_SCRIPT), certsFiles()[CERTS_SCRIPT]!);
    const env = { ...certsEnv(n, "obs", "cluster.local", 10, lifetime, "obs-logging"), SA_DIR: path.join(dir, "sa"), ES_HOME: path.join(dir, "es"), CERTUTIL: path.join(dir, "bin", "certutil"), ES_USERS: path.join(dir, "bin", "elasticsearch-users"), PROPAGATE_SECONDS: "0", PATH: `${path.join(dir, "bin")}:${process.env.PATH}` };
    return { dir, env };
  }

  /** The Secrets API of two namespaces; secrets keyed "<namespace>/<name>", data base64 as the API keeps it. */
  function fakeApi(existing: Record<string, Record<string, string>> = {}) {
    const secrets = new Map<string, Record<string, string>>(Object.entries(existing));
    const handler = (r: Req): [number, unknown] => {
      const m = /^\/api\/v1\/namespaces\/([^/]+)\/secrets(?:\/(.+))?$/.exec(r.path);
      if (!m) return [404, {}];
      const key = (name: string) => `${m[1]}/${name}`;
      if (r.method === "GET") return secrets.has(key(m[2]!)) ? [200, { kind: "Secret", metadata: { name: m[2], managedFields: [{ fieldsV1: { "f:data": { "f:tls.crt": {} } } }] }, data: secrets.get(key(m[2]!)) }] : [404, {}];
      const body = JSON.parse(r.body) as { metadata: { name: string }; data: Record<string, string> };
      if (r.method === "POST") return secrets.has(key(body.metadata.name)) ? [409, {}] : (secrets.set(key(body.metadata.name), body.data), [201, {}]);
      if (r.method === "PUT") return (secrets.set(key(m[2]!), body.data), [200, {}]);
      return [405, {}];
    };
    return { secrets, handler };
  }
  const decode = (d: Record<string, string> | undefined) => Object.fromEntries(Object.entries(d ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]));
  const pem = (text: string) => text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const cert = (text: string) => new X509Certificate(text);
  const daysLeft = (c: X509Certificate) => (Date.parse(c.validTo) - Date.now()) / 86_400_000;

  it("creates the CA (kept with its key), the node certificate, the file-realm user and Fluentd's copy of the CA once; a re-run keeps them", async () => {
    const api = fakeApi();
    const { url, requests } = await serve(api.handler);
    const { dir, env } = sandbox();
    const first = await run(path.join(dir, CERTS_SCRIPT), { ...env, API_URL: url });
    expect(first.err).toBe("");
    expect(first.code).toBe(0);
    const certs = decode(api.secrets.get(`obs/${n.esCerts}`));
    const caKey = decode(api.secrets.get(`obs/${n.esCaKey}`));
    expect(Object.keys(certs).sort()).toEqual(["ca.crt", "tls.crt", "tls.key"]);
    expect(Object.keys(caKey).sort()).toEqual(["ca.crt", "ca.key"]);
    // clients trust the CA, in the stack's namespace and in Fluentd's; neither copy holds a key
    for (const ns of ["obs", "obs-logging"]) expect(decode(api.secrets.get(`${ns}/${n.esCa}`))).toEqual({ "ca.crt": caKey["ca.crt"] });
    const node = cert(certs["tls.crt"]!);
    expect(node.verify(cert(caKey["ca.crt"]!).publicKey)).toBe(true);
    expect(daysLeft(node)).toBeGreaterThan(1094);
    expect(node.subjectAltName).toContain("DNS:logging-es-http.obs.svc.cluster.local");
    expect(readFileSync(path.join(dir, "certutil.log"), "utf8")).toContain(`--dns ${certDnsNames(n, "obs", "cluster.local").join(",")}`);
    expect(certDnsNames(n, "obs", "cluster.local")).toEqual(expect.arrayContaining(["logging-es-http.obs.svc", "logging-es-http.obs.svc.cluster.local", "*.logging-es-headless.obs.svc", "*.logging-es-headless.obs.svc.cluster.local", "localhost"]));
    expect(certDnsNames(n, "obs", "corp.internal")).toEqual(expect.arrayContaining(["logging-es-http.obs.svc.corp.internal", "*.logging-es-headless.obs.svc.corp.internal"]));
    const internal = decode(api.secrets.get(`obs/${n.esInternal}`));
    expect(internal.username).toBe("obs-internal");
    expect(internal.password).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(internal.users).toMatch(/^obs-internal:\$2a\$/);
    expect(internal.users_roles!.trim()).toBe("superuser:obs-internal");
    expect(first.out).not.toContain(internal.password);

    requests.length = 0;
    const second = await run(path.join(dir, CERTS_SCRIPT), { ...env, API_URL: url });
    expect(second.code).toBe(0);
    expect(second.out).toContain(`secret ${n.esInternal} exists; keeping it`);
    expect(second.out).toContain("valid for more than 60 days; keeping it");
    expect(writes(requests)).toEqual([]);
  });

  it("renews a node certificate within renewBeforeDays of its end with the same CA (clients keep trusting it)", async () => {
    const api = fakeApi();
    const { url, requests } = await serve(api.handler);
    const { dir, env } = sandbox();
    expect((await run(path.join(dir, CERTS_SCRIPT), { ...env, API_URL: url, CERT_DAYS: "40", RENEW_DAYS: "31" })).code).toBe(0);
    const before = decode(api.secrets.get(`obs/${n.esCerts}`));
    const caBefore = decode(api.secrets.get(`obs/${n.esCa}`));
    requests.length = 0;
    // 40 days left, renewal window 45: renewed (the CA, issued for 80 days, outlives a new 40-day certificate)
    const r = await run(path.join(dir, CERTS_SCRIPT), { ...env, API_URL: url, CERT_DAYS: "40", RENEW_DAYS: "45" });
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const after = decode(api.secrets.get(`obs/${n.esCerts}`));
    expect(after["tls.crt"]).not.toBe(before["tls.crt"]);
    expect(daysLeft(cert(after["tls.crt"]!))).toBeGreaterThan(39.9);
    expect(cert(after["tls.crt"]!).serialNumber).not.toBe(cert(before["tls.crt"]!).serialNumber);
    // the CA stays: no client needs anything new
    expect(decode(api.secrets.get(`obs/${n.esCa}`))).toEqual(caBefore);
    expect(cert(after["tls.crt"]!).verify(cert(caBefore["ca.crt"]!).publicKey)).toBe(true);
    expect(writes(requests)).toEqual(["POST /api/v1/namespaces/obs/secrets", `PUT /api/v1/namespaces/obs/secrets/${n.esCerts}`]);
    expect(readFileSync(path.join(dir, "certutil.log"), "utf8").trim().split("\n").map((l) => l.split(" ")[0])).toEqual(["ca", "cert", "cert"]);
  });

  it("a stack issued before the CA key was kept: a new CA, trusted beside the old one before the node certificate changes", async () => {
    const api = fakeApi();
    const { url } = await serve(api.handler);
    const { dir, env } = sandbox();
    expect((await run(path.join(dir, CERTS_SCRIPT), { ...env, API_URL: url, CERT_DAYS: "40", RENEW_DAYS: "31" })).code).toBe(0);
    const oldCa = decode(api.secrets.get(`obs/${n.esCa}`))["ca.crt"]!;
    api.secrets.delete(`obs/${n.esCaKey}`);
    const r = await run(path.join(dir, CERTS_SCRIPT), { ...env, API_URL: url, RENEW_DAYS: "45" });
    expect(r.code).toBe(0);
    expect(r.out).toContain("new CA published beside the previous one");
    const newCa = decode(api.secrets.get(`obs/${n.esCaKey}`))["ca.crt"]!;
    expect(newCa).not.toBe(oldCa);
    for (const ns of ["obs", "obs-logging"]) expect(pem(decode(api.secrets.get(`${ns}/${n.esCa}`))["ca.crt"]!)).toEqual([...pem(newCa), ...pem(oldCa)]);
    const certs = decode(api.secrets.get(`obs/${n.esCerts}`));
    expect(cert(certs["tls.crt"]!).verify(cert(newCa).publicKey)).toBe(true);
  });

  it("copies the CA to Fluentd's namespace when it is missing there (Fluentd just moved)", async () => {
    const api = fakeApi();
    const { url } = await serve(api.handler);
    const { dir, env } = sandbox();
    expect((await run(path.join(dir, CERTS_SCRIPT), { ...env, API_URL: url })).code).toBe(0);
    const ca = api.secrets.get(`obs/${n.esCa}`);
    api.secrets.delete(`obs-logging/${n.esCa}`);
    const r = await run(path.join(dir, CERTS_SCRIPT), { ...env, API_URL: url });
    expect(r.code).toBe(0);
    expect(r.out).toContain(`copied ${n.esCa} to obs-logging`);
    expect(api.secrets.get(`obs-logging/${n.esCa}`)).toEqual(ca);
  });

  it("renewalCheckDays: an up at least that often renews before the 30-day alert; the period number steps once per check interval", () => {
    expect(renewalCheckDays({ days: 1095, renewBeforeDays: 60 })).toBe(15);
    expect(renewalCheckDays({ days: 1095, renewBeforeDays: 31 })).toBe(1);
    const day = 86_400_000;
    const l = { days: 1095, renewBeforeDays: 60 };
    expect(renewalPeriod(l, 15 * day * 100)).toBe(100);
    expect(renewalPeriod(l, 15 * day * 101 - 1)).toBe(100);
    expect(renewalPeriod(l, 15 * day * 101)).toBe(101);
  });
});
