// Remote write, real binaries, no cluster: the pinned Prometheus runs the stack's rendered
// prometheus.yml (remote write with basic auth from its credential file, queue settings, write
// relabelling, the replica external label from POD_NAME) and sends to a second Prometheus with
// the remote-write receiver on, behind a small proxy that checks the basic-auth header. All of it
// listens on 127.0.0.1.
//
// Rewrites of the rendered config, each needed because the test runs outside a pod:
//  1. scrape_configs keep only the `prometheus` job (the Kubernetes jobs would need an API
//     server), its target moved from localhost:9090 to the sender's own 127.0.0.1 port;
//  2. the credential file's directory (SECRETS_DIR) becomes this test's folder.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { JOBS } from "../../components/mesh/metrics.js";
import { parsePrometheusConfig } from "../../components/prometheus/config.js";
import { buildPrometheusConfig, POD_NAME_ENV, type PrometheusFile, REPLICA_LABEL, SECRETS_DIR } from "../../components/prometheus/scrape.js";
import { prometheusArgs } from "../../components/prometheus/workload.js";
import { toolPath } from "../../lib/tools.js";
import { freePorts } from "./pipeline/servers.js";

const USER = "tenant-e2e";
const PASSWORD = "rw-e2e-password";
const POD = "prometheus-1";

let dir: string;
const procs: ChildProcess[] = [];
let proxy: http.Server;
let senderPort: number;
let receiverPort: number;
let renderedYaml = "";
const seenAuth: { authorized: number; refused: number } = { authorized: 0, refused: 0 };

function start(bin: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const p = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  p.stderr!.on("data", (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  p.on("exit", (code) => {
    if (code && code !== 0) console.error(`[remote-write] ${path.basename(bin)} ${args[0]} exited ${code}:\n${log}`);
  });
  procs.push(p);
  return p;
}

async function query(port: number, promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const r = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await r.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  expect(body.status).toBe("success");
  return body.data.result;
}

async function until<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const t0 = Date.now();
  let last: unknown;
  while (Date.now() - t0 < timeoutMs) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}

describe("remote write from the stack's Prometheus to a remote-write receiver", () => {
  let secondsToFirstSample = 0;

  beforeAll(async () => {
    const prometheus = toolPath("prometheus");
    dir = mkdtempSync(path.join(os.tmpdir(), "obs-e2e-remote-write-"));
    const [proxyPort, s, r] = await freePorts(3);
    senderPort = s!;
    receiverPort = r!;

    // the receiver: a second, plain Prometheus with the remote-write receiver on
    writeFileSync(path.join(dir, "receiver.yml"), stringify({ global: { scrape_interval: "1m" } }));
    start(prometheus, [`--config.file=${path.join(dir, "receiver.yml")}`, `--storage.tsdb.path=${path.join(dir, "receiver-data")}`, `--web.listen-address=127.0.0.1:${receiverPort}`, "--web.enable-remote-write-receiver"]);

    // in front of it, the endpoint's basic auth: only the configured user and password pass
    const expected = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}`;
    proxy = http.createServer((req, res) => {
      if (req.headers.authorization !== expected) {
        seenAuth.refused++;
        res.writeHead(401).end();
        return;
      }
      seenAuth.authorized++;
      const up = http.request({ host: "127.0.0.1", port: receiverPort, path: req.url, method: req.method, headers: req.headers }, (u) => {
        res.writeHead(u.statusCode ?? 502, u.headers);
        u.pipe(res);
      });
      up.on("error", () => res.writeHead(502).end());
      req.pipe(up);
    });
    await new Promise<void>((resolve) => proxy.listen(proxyPort, "127.0.0.1", () => resolve()));

    // the sender: the stack's own config and arguments
    const { config, secrets, issues } = parsePrometheusConfig({
      scrapeInterval: "1s",
      scrapeTimeout: "1s",
      replicas: 2,
      remoteWrite: [
        {
          url: `http://127.0.0.1:${proxyPort}/api/v1/write`,
          name: "central",
          basicAuth: { username: USER, password: PASSWORD },
          queue: { batchSendDeadline: "1s", maxShards: 2, minBackoff: "100ms", maxBackoff: "1s" },
          // only what a central store needs: Prometheus's own health, not its HTTP handler series
          writeRelabelConfigs: [{ action: "drop", sourceLabels: ["__name__"], regex: "prometheus_http_.*" }],
        },
      ],
    });
    expect(issues).toEqual([]);
    const rendered: PrometheusFile = buildPrometheusConfig({ config: config!, clusterName: "e2e-cluster", environment: "e2e", meshMtls: "PERMISSIVE", remoteWriteSecrets: Object.keys(secrets!.remoteWrite) });
    const self = rendered.scrape_configs.find((j) => j.job_name === JOBS.prometheus)!;
    expect(self.static_configs).toEqual([{ targets: ["localhost:9090"] }]);
    const local = { ...rendered, scrape_configs: [{ ...self, static_configs: [{ targets: [`127.0.0.1:${senderPort}`] }] }] };
    const yaml = stringify(local).replaceAll(`${SECRETS_DIR}/`, `${dir}/`);
    renderedYaml = yaml;
    for (const [f, v] of Object.entries(secrets!.remoteWrite)) writeFileSync(path.join(dir, f), v);
    writeFileSync(path.join(dir, "prometheus.yml"), yaml);
    writeFileSync(path.join(dir, "istio-rules.yml"), stringify({ groups: [] }));
    const args = prometheusArgs(config!).map((a) => a.replace(/^--config\.file=.*/, `--config.file=${path.join(dir, "prometheus.yml")}`).replace(/^--storage\.tsdb\.path=.*/, `--storage.tsdb.path=${path.join(dir, "sender-data")}`));
    const t0 = Date.now();
    start(prometheus, [...args, `--web.listen-address=127.0.0.1:${senderPort}`], { [POD_NAME_ENV]: POD });
    await until("the sender's own `up` at the receiver", async () => ((await query(receiverPort, `up{job="${JOBS.prometheus}"}`)).length ? true : undefined));
    secondsToFirstSample = (Date.now() - t0) / 1000;
  });

  afterAll(async () => {
    // the sender first: with its receiver gone it would wait out its queue's flush deadline (1m)
    for (const p of [...procs].reverse()) {
      if (p.exitCode !== null) continue;
      const exited = new Promise((r) => p.once("exit", r));
      p.kill("SIGTERM");
      await exited;
    }
    await new Promise<void>((r) => (proxy ? proxy.close(() => r()) : r()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("receives the sender's series with its external labels (cluster, environment, replica = the pod's name)", async () => {
    const [up] = await query(receiverPort, `up{job="${JOBS.prometheus}"}`);
    expect(up!.metric).toEqual({ __name__: "up", job: JOBS.prometheus, instance: `127.0.0.1:${senderPort}`, cluster: "e2e-cluster", environment: "e2e", [REPLICA_LABEL]: POD });
    expect(up!.value[1]).toBe("1");
    console.log(`[remote-write] first sample at the receiver ${secondsToFirstSample.toFixed(1)}s after the sender started (scrape 1s, batchSendDeadline 1s)`);
  });

  it("sent with the basic-auth password from the credential file, never without it", () => {
    expect(seenAuth.authorized).toBeGreaterThan(0);
    expect(seenAuth.refused).toBe(0);
    // the rendered config names the file, not the password
    expect(renderedYaml).toContain(`password_file: ${dir}/remote-write-0-password`);
    expect(renderedYaml).not.toContain(PASSWORD);
  });

  it("applies the write relabelling: the dropped series stay at the sender", async () => {
    expect((await query(senderPort, "prometheus_http_requests_total")).length).toBeGreaterThan(0);
    await until("the receiver to hold the sender's TSDB series", async () => ((await query(receiverPort, `prometheus_tsdb_head_series{${REPLICA_LABEL}="${POD}"}`)).length ? true : undefined));
    expect(await query(receiverPort, `{__name__=~"prometheus_http_.*", ${REPLICA_LABEL}="${POD}"}`)).toEqual([]);
  });

  it("the sender reports its queue for the named endpoint and nothing failed", async () => {
    // its own scrape of itself lags the sends by an interval: wait for a count above 0
    const sent = await until("a sent-samples count", async () => {
      const v = Number((await query(senderPort, 'prometheus_remote_storage_samples_total{remote_name="central"}'))[0]?.value[1] ?? "0");
      return v > 0 ? v : undefined;
    });
    expect(sent).toBeGreaterThan(0);
    const failed = await query(senderPort, 'sum(prometheus_remote_storage_samples_failed_total{remote_name="central"})');
    expect(Number(failed[0]?.value[1] ?? "0")).toBe(0);
  });
});
