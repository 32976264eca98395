// Issue 17, the alert pipeline end to end without a cluster: two real Prometheus servers with the
// stack's rendered rule file and `alerting:` section, scraping a tiny HTTP server shaped like
// istiod and Envoy (alert-pipeline/metrics.ts), two real Alertmanagers in a gossip cluster with
// the local stack's rendered alertmanager.yml, and a webhook receiver. Everything listens on
// 127.0.0.1. A missing binary fails the test; never a skip.
//
// What the test changes in the rendered files, and why (nothing else is touched):
// - rules: every alert's `for` is removed, so alerts fire at the first evaluation instead of
//   after 5 or 10 minutes (the measured latency below adds the production `for` back in words).
// - prometheus.yml: scrape and evaluation interval 1s (the stack's is 30s); the scrape jobs are
//   static targets on the tiny server (job names kept, with the labels the stack's relabelling
//   gives: revision, namespace, pod) instead of Kubernetes discovery, which would dial the
//   cluster; the self job scrapes its own 127.0.0.1 port instead of localhost:9090; the
//   Alertmanagers are static 127.0.0.1 targets instead of endpoint-slice discovery (its
//   relabelling is unit-tested). `alert_relabel_configs` and the external labels are the stack's.
// - external labels: the stack's; a `replica` label only where the rendered file has none.
// - alertmanager.yml: the receivers' secret files are in the test's directory (the test's
//   secrets: webhook URLs on 127.0.0.1); the routes, grouping, group_wait and inhibitions are
//   the local stack's.
// - Alertmanager flags: the stack's, with listen, cluster and peer addresses on 127.0.0.1.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { type AlertingConfig, parseAlertingConfig, withReceiverPlaceholders } from "../../components/prometheus/alerting/config.js";
import { receiverSecretFiles, renderAlertmanagerYaml } from "../../components/prometheus/alerting/alertmanager.js";
import { alertmanagerArgs, clusterPeers } from "../../components/prometheus/alerting/workload.js";
import { parsePrometheusConfig } from "../../components/prometheus/config.js";
import { buildPrometheusConfig, RULES_FILE } from "../../components/prometheus/scrape.js";
import { ALERTS, renderRulesYaml, runbookUrl } from "../../components/prometheus/rules.js";
import { JOBS } from "../../components/mesh/metrics.js";
import { projectDir, toolPath } from "../../lib/tools.js";
import { type Counter, durationHistogram, exposition, istiodCounters, requestCounters } from "./alert-pipeline/metrics.js";
import { freePorts, type Proc, start, started, stop, tail, waitFor } from "./pipeline/servers.js";

const root = mkdtempSync(path.join(os.tmpdir(), "obs-e2e-alerts-"));
const INTERVAL = "1s";
const STACK = "local";
const APP_NS = "demo";
// Alertmanager's default --cluster.peer-timeout: the second peer waits this long, then reads the
// gossiped notification log and stays quiet. A duplicate would arrive within it (plus margin).
const PEER_TIMEOUT_MS = 15_000;

type Obj = Record<string, any>;
interface Notification {
  readonly path: string;
  readonly at: number;
  readonly body: { status: string; receiver: string; alerts: { status: string; labels: Record<string, string>; annotations: Record<string, string> }[] };
}

const stackDoc = parse(readFileSync(path.join(projectDir, "config", `Pulumi.${STACK}.yaml`), "utf8")).config as Obj;

/** The local stack's obs:alerting, its secrets (encrypted in the file) replaced by the test's webhook URLs. */
function stackAlerting(hookPort: number): { config: AlertingConfig; secrets: Record<string, string> } {
  const raw = withReceiverPlaceholders(stackDoc["obs:alerting"]) as Obj;
  for (const [name, r] of Object.entries(raw.receivers as Obj)) (r as Obj).url = `http://127.0.0.1:${hookPort}/${name}`;
  const { config, secrets, issues } = parseAlertingConfig(raw);
  expect(issues).toEqual([]);
  return { config: config!, secrets: { ...secrets } };
}

function rulesWithoutFor(): string {
  const file = parse(renderRulesYaml());
  for (const g of file.groups) for (const r of g.rules) delete r.for;
  return stringify(file, { lineWidth: 0 });
}

const state = { t0: Date.now(), failing131: true, down131: false };
const istiod = (revision: string) => ({ revision, namespace: "istio-system", pod: `istiod-${revision}-5c8d7b-abcde` });

function metricsServer(): http.Server {
  const respond = (res: http.ServerResponse, counters: Counter[]) => {
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
    res.end(exposition(counters, state.t0));
  };
  return http.createServer((req, res) => {
    if (req.url === "/istiod/1-30/metrics") return respond(res, istiodCounters(false));
    if (req.url === "/istiod/1-31/metrics") {
      if (state.down131) return void res.writeHead(503).end("istiod is down");
      return respond(res, istiodCounters(state.failing131));
    }
    if (req.url === "/envoy/stats/prometheus") {
      return respond(res, [
        // reviews: 2 requests/s, half of them 503
        ...requestCounters(APP_NS, "reviews-v1", "reviews", { "200": 1, "503": 1 }),
        // details: 1 request/s, every one between 1 s and 5 s (p99 above the 1000 ms threshold)
        ...requestCounters(APP_NS, "details-v1", "details", { "200": 1 }),
        ...durationHistogram(APP_NS, "details-v1", "details", { "100": 0, "1000": 0, "5000": 1, "+Inf": 1 }, 2500),
      ]);
    }
    res.writeHead(404).end();
  });
}

const notifications: Notification[] = [];
function webhookServer(): http.Server {
  return http.createServer((req, res) => {
    let data = "";
    req.on("data", (c) => (data += c));
    req.on("end", () => {
      if (req.method === "POST") notifications.push({ path: req.url ?? "", at: Date.now(), body: JSON.parse(data) });
      res.writeHead(200).end();
    });
  });
}

const listen = (s: http.Server, port: number) => new Promise<void>((r) => s.listen(port, "127.0.0.1", () => r()));
const getJson = async (url: string) => (await fetch(url, { signal: AbortSignal.timeout(3_000) })).json() as Promise<any>;
const firingOf = (alertname: string) => notifications.filter((n) => n.body.alerts.some((a) => a.status === "firing" && a.labels.alertname === alertname));

let ports: { hook: number; metrics: number; prom: number[]; am: number[]; cluster: number[] };
let servers: http.Server[] = [];
const procs: Proc[] = [];
let amConfig: AlertingConfig;
let silenceId = "";
const timings: Record<string, number> = {};

async function startAlertmanagers(): Promise<void> {
  const am = toolPath("alertmanager");
  const { config, secrets } = stackAlerting(ports.hook);
  amConfig = config;
  const secretsDir = path.join(root, "secrets");
  mkdirSync(secretsDir);
  for (const [f, v] of Object.entries(receiverSecretFiles(config, secrets))) writeFileSync(path.join(secretsDir, f), v);
  const file = path.join(root, "alertmanager.yml");
  writeFileSync(file, renderAlertmanagerYaml({ config, secretsDir }));
  // the stack's flags for a clustered set (peers by pod name), with the addresses made local
  const stackArgs = alertmanagerArgs(config, clusterPeers("alertmanager", 2, "observability", "cluster.local"));
  for (const i of [0, 1]) {
    const dir = path.join(root, `am-${i}`);
    mkdirSync(dir);
    const args = stackArgs
      .filter((a) => !/^--(cluster\.(peer|listen-address|advertise-address)|web\.listen-address)=/.test(a))
      .map((a) => a.replace(/^--config\.file=.*/, `--config.file=${file}`).replace(/^--storage\.path=.*/, `--storage.path=${dir}`));
    args.push(`--web.listen-address=127.0.0.1:${ports.am[i]}`, `--cluster.listen-address=127.0.0.1:${ports.cluster[i]}`, `--cluster.advertise-address=127.0.0.1:${ports.cluster[i]}`, `--cluster.peer=127.0.0.1:${ports.cluster[1 - i]}`);
    procs.push(start(`alertmanager-${i}`, am, args, dir));
  }
  for (const i of [0, 1]) {
    await waitFor(`alertmanager-${i} ready with 2 cluster peers`, 60_000, async () => (await getJson(`http://127.0.0.1:${ports.am[i]}/api/v2/status`)).cluster?.peers?.length === 2, procs[i]);
  }
}

function prometheusFile(i: number): Obj {
  const { config, issues } = parsePrometheusConfig({});
  expect(issues).toEqual([]);
  const rendered = buildPrometheusConfig({ config: config!, clusterName: stackDoc["obs:clusterName"], environment: stackDoc["obs:environment"], meshMtls: "PERMISSIVE", alertmanagers: { namespace: "observability", service: "alertmanager", portName: "http-web" } }) as Obj;
  const alerting = structuredClone(rendered.alerting);
  expect(alerting.alertmanagers[0].kubernetes_sd_configs).toBeDefined();
  // rewrite: static 127.0.0.1 Alertmanagers instead of endpoint-slice discovery (and its relabelling)
  alerting.alertmanagers = [{ api_version: alerting.alertmanagers[0].api_version, static_configs: [{ targets: ports.am.map((p) => `127.0.0.1:${p}`) }] }];
  const target = (p: string, labels: Record<string, string>) => ({ targets: [`127.0.0.1:${ports.metrics}`], labels: { __metrics_path__: p, ...labels } });
  return {
    // the replicas' `replica` external label is the stack's (from POD_NAME); set here only if the rendered file has none
    global: { ...rendered.global, external_labels: { replica: `prometheus-${i}`, ...rendered.global.external_labels }, scrape_interval: INTERVAL, scrape_timeout: INTERVAL, evaluation_interval: INTERVAL },
    rule_files: [path.join(root, RULES_FILE)],
    alerting,
    scrape_configs: [
      { job_name: JOBS.prometheus, static_configs: [{ targets: [`127.0.0.1:${ports.prom[i]}`] }] },
      { job_name: JOBS.istiod, static_configs: [target("/istiod/1-30/metrics", istiod("1-30")), target("/istiod/1-31/metrics", istiod("1-31"))] },
      { job_name: JOBS.pods, static_configs: [target("/envoy/stats/prometheus", { namespace: APP_NS, pod: "reviews-v1-7d9f8c-x2x4z" })] },
    ],
  };
}

async function startPrometheus(): Promise<void> {
  const prom = toolPath("prometheus");
  writeFileSync(path.join(root, RULES_FILE), rulesWithoutFor());
  for (const i of [0, 1]) {
    const dir = path.join(root, `prometheus-${i}`);
    mkdirSync(dir);
    const file = path.join(dir, "prometheus.yml");
    writeFileSync(file, stringify(prometheusFile(i), { lineWidth: 0 }));
    // POD_NAME: what the StatefulSet gives each replica, expanded into the `replica` external label
    process.env.POD_NAME = `prometheus-${i}`;
    procs.push(start(`prometheus-${i}`, prom, [`--config.file=${file}`, `--storage.tsdb.path=${path.join(dir, "data")}`, `--web.listen-address=127.0.0.1:${ports.prom[i]}`], dir));
  }
  delete process.env.POD_NAME;
  for (const i of [0, 1]) await waitFor(`prometheus-${i} ready`, 60_000, async () => (await fetch(`http://127.0.0.1:${ports.prom[i]}/-/ready`)).ok, procs[2 + i]);
}

const promQuery = async (i: number, q: string) => (await getJson(`http://127.0.0.1:${ports.prom[i]}/api/v1/query?query=${encodeURIComponent(q)}`)).data.result as { metric: Record<string, string> }[];
const amAlerts = async (i: number) => (await getJson(`http://127.0.0.1:${ports.am[i]}/api/v2/alerts?active=true&silenced=true&inhibited=true`)) as { labels: Record<string, string>; status: { state: string; silencedBy: string[]; inhibitedBy: string[] } }[];

describe("alert pipeline: 2 Prometheus -> 2 Alertmanagers (gossip) -> webhook", () => {
  let flippedAt = 0;
  let promStartedAt = 0;

  beforeAll(async () => {
    const t0 = Date.now();
    const [hook, metrics, p0, p1, a0, a1, c0, c1] = await freePorts(8);
    ports = { hook: hook!, metrics: metrics!, prom: [p0!, p1!], am: [a0!, a1!], cluster: [c0!, c1!] };
    servers = [webhookServer(), metricsServer()];
    await listen(servers[0]!, ports.hook);
    await listen(servers[1]!, ports.metrics);
    state.t0 = Date.now();
    await startAlertmanagers();
    // A silence made with amtool on one replica, before any alert: gossip carries it to the other.
    silenceId = execFileSync(toolPath("amtool"), ["silence", "add", `alertname=${ALERTS.highP99Latency}`, `namespace=${APP_NS}`, "--author=alert-pipeline-test", "--comment=known slow details service", "--duration=1h", `--alertmanager.url=http://127.0.0.1:${ports.am[0]}`], { encoding: "utf8" }).trim();
    expect(silenceId).toMatch(/^[0-9a-f-]{36}$/);
    await waitFor("the silence on the other replica", 30_000, () => execFileSync(toolPath("amtool"), ["silence", "query", "-q", `--alertmanager.url=http://127.0.0.1:${ports.am[1]}`], { encoding: "utf8" }).includes(silenceId));
    promStartedAt = Date.now();
    await startPrometheus();
    timings.startup = (Date.now() - t0) / 1000;
    // revision 1-31 fails its sends and injections; once Prometheus fires on that, its istiod goes down
    await waitFor("IstioXdsPushErrors firing for 1-31 in prometheus-0", 60_000, async () => (await promQuery(0, `ALERTS{alertname="${ALERTS.xdsPushErrors}", alertstate="firing", revision="1-31"}`)).length === 1, procs[2]);
    state.down131 = true;
    flippedAt = Date.now();
  });

  afterAll(async () => {
    for (const p of [...procs].reverse()) await stop(p).catch(() => {});
    started.length = 0;
    await Promise.all(servers.map((s) => new Promise((r) => s.close(() => r(undefined)))));
    rmSync(root, { recursive: true, force: true });
    console.log(`alert pipeline timings (s): ${JSON.stringify(timings)}`);
  });

  it("IstiodDown holds back the injection-failure, xDS and target alerts of its revision in both Alertmanagers", async () => {
    const inhibited = [ALERTS.xdsPushErrors, ALERTS.injectionFailures, ALERTS.targetDown];
    for (const i of [0, 1]) {
      await waitFor(`alertmanager-${i}: IstiodDown active, ${inhibited.join(", ")} of 1-31 inhibited`, 60_000, async () => {
        const alerts = (await amAlerts(i)).filter((a) => a.labels.revision === "1-31");
        const down = alerts.find((a) => a.labels.alertname === ALERTS.istiodDown && a.status.state === "active");
        return !!down && inhibited.every((n) => alerts.some((a) => a.labels.alertname === n && a.status.state === "suppressed" && a.status.inhibitedBy.length > 0));
      }, procs[i]);
    }
  });

  it("the expected alerts arrive once each, despite 2 Prometheus and 2 Alertmanager replicas, with their labels and runbook", async () => {
    await waitFor("IstiodDown, IstioHigh5xxRatio and Watchdog at the webhook", 120_000, () => [ALERTS.istiodDown, ALERTS.high5xxRatio, ALERTS.watchdog].every((n) => firingOf(n).length > 0), procs[0]);
    const down = firingOf(ALERTS.istiodDown)[0]!;
    timings.failingMetricToWebhook = (down.at - flippedAt) / 1000;
    timings.watchdogFromPrometheusStart = (firingOf(ALERTS.watchdog)[0]!.at - promStartedAt) / 1000;
    // the second Alertmanager would send its copy after the peer timeout: wait it out
    await new Promise((r) => setTimeout(r, PEER_TIMEOUT_MS + 10_000));

    // the two Prometheus differ by their replica label, which the alerts then lose
    for (const i of [0, 1]) expect(parse((await getJson(`http://127.0.0.1:${ports.prom[i]}/api/v1/status/config`)).data.yaml).global.external_labels.replica).toBe(`prometheus-${i}`);
    for (const name of [ALERTS.istiodDown, ALERTS.high5xxRatio, ALERTS.watchdog]) {
      const got = firingOf(name);
      expect(got, `${name}: ${JSON.stringify(got.map((n) => n.path))}`).toHaveLength(1);
      const alerts = got[0]!.body.alerts.filter((a) => a.labels.alertname === name);
      expect(alerts, name).toHaveLength(1);
      expect(alerts[0]!.annotations.runbook_url).toBe(runbookUrl(name));
      // the stack's external labels, without the Prometheus replica one (alert_relabel_configs)
      expect(alerts[0]!.labels).toMatchObject({ cluster: stackDoc["obs:clusterName"], environment: stackDoc["obs:environment"] });
      expect(alerts[0]!.labels.replica).toBeUndefined();
    }
    // routes: critical istio-system -> the default receiver; the app namespace -> its team; Watchdog -> the switch
    expect(firingOf(ALERTS.istiodDown)[0]!.path).toBe(`/${amConfig.route.receiver}`);
    expect(firingOf(ALERTS.istiodDown)[0]!.body.alerts[0]!.labels).toMatchObject({ alertname: ALERTS.istiodDown, revision: "1-31", namespace: "istio-system", severity: "critical" });
    expect(firingOf(ALERTS.high5xxRatio)[0]!.path).toBe(`/${amConfig.route.routes.find((r) => r.namespaces.includes(APP_NS))!.receiver}`);
    expect(firingOf(ALERTS.high5xxRatio)[0]!.body.alerts[0]!.labels).toMatchObject({ destination_workload: "reviews-v1", destination_workload_namespace: APP_NS, namespace: APP_NS, severity: "warning" });
    expect(firingOf(ALERTS.watchdog)[0]!.path).toBe(`/${amConfig.deadMansSwitch.receiver}`);
    expect(notifications.filter((n) => n.path === `/${amConfig.deadMansSwitch.receiver}`).flatMap((n) => n.body.alerts.map((a) => a.labels.alertname))).toEqual([ALERTS.watchdog]);
  });

  it("the inhibited and the silenced alerts never arrive", async () => {
    for (const name of [ALERTS.xdsPushErrors, ALERTS.injectionFailures, ALERTS.targetDown, ALERTS.highP99Latency]) expect(firingOf(name), name).toEqual([]);
    // the silenced alert did reach both Alertmanagers: held back by the silence, not missing
    for (const i of [0, 1]) {
      const slow = (await amAlerts(i)).find((a) => a.labels.alertname === ALERTS.highP99Latency);
      expect(slow, `alertmanager-${i}`).toBeDefined();
      expect(slow!.labels).toMatchObject({ destination_workload: "details-v1", namespace: APP_NS });
      expect(slow!.status).toMatchObject({ state: "suppressed", silencedBy: [silenceId] });
    }
  });

  it("the processes ran to the end", () => {
    for (const p of procs) expect(p.child.exitCode, `${p.name}:\n${tail(p)}`).toBeNull();
    expect(notifications.length).toBeGreaterThan(0);
  });
});

describe("amtool check-config", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "obs-e2e-amtool-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(["local", "dev", "staging", "prod"])("accepts the %s stack's rendered alertmanager.yml", (stack) => {
    const raw = parse(readFileSync(path.join(projectDir, "config", `Pulumi.${stack}.yaml`), "utf8")).config["obs:alerting"];
    // the secrets are files the config names; their values are not part of it
    const { config, issues } = parseAlertingConfig(withReceiverPlaceholders(raw));
    expect(issues).toEqual([]);
    const file = path.join(dir, `${stack}.yml`);
    writeFileSync(file, renderAlertmanagerYaml({ config: config! }));
    const out = execFileSync(toolPath("amtool"), ["check-config", file], { encoding: "utf8" });
    expect(out).toContain("SUCCESS");
    expect(out).toMatch(new RegExp(`${Object.keys(config!.receivers).length + 1} receivers`));
  });

  it("promtool accepts the rendered prometheus.yml with its alerting section (endpoint-slice discovery, replica label dropped)", () => {
    const { config } = parsePrometheusConfig({});
    const file = path.join(dir, "prometheus.yml");
    const rendered = buildPrometheusConfig({ config: config!, clusterName: "prod", environment: "prod", meshMtls: "STRICT", alertmanagers: { namespace: "observability", service: "alertmanager", portName: "http-web" } });
    expect(rendered.alerting?.alertmanagers[0]).toHaveProperty("kubernetes_sd_configs");
    writeFileSync(file, stringify(rendered, { lineWidth: 0 }));
    expect(execFileSync(toolPath("promtool"), ["check", "config", "--syntax-only", file], { encoding: "utf8" })).toContain("SUCCESS");
  });

  it("refuses a config whose route names an unknown receiver (what obs:alerting refuses at preview)", () => {
    const file = path.join(dir, "bad.yml");
    const { config } = parseAlertingConfig({});
    const bad = parse(renderAlertmanagerYaml({ config: config! }));
    bad.route.receiver = "nobody";
    writeFileSync(file, stringify(bad));
    const r = spawnSync(toolPath("amtool"), ["check-config", file], { encoding: "utf8" });
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/undefined receiver "nobody"/);
  });
});
