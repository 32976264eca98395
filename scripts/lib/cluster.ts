// The embedded local control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler
// and kwok (simulated nodes, pods and volumes, see scripts/cluster/kwok-stages.yaml) on 127.0.0.1,
// and the istiod supervisor (scripts/lib/istiod.ts: one real istiod per revision, and the egress
// proxy that carries the API server's webhook calls to them).
import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { egressSocketPath, isIstiodPid, NODE_ADDRESS, readIstiods, type IstiodEntry } from "./istiod.js";
import { freePort } from "./net.js";
import { runSync } from "./sh.js";
import { KWOK_PORTFORWARD_CRD, localClusterDir, pins, preflight, repoRoot, TOOL_GROUPS, toolPath } from "../../lib/tools.js";

// fixed when this module loads: a process drives one cluster
export const clusterDir = localClusterDir();
export const kubeconfigPath = path.join(clusterDir, "kubeconfig");
const pkiDir = path.join(clusterDir, "pki");
const pidDir = path.join(clusterDir, "pids");
const logDir = path.join(clusterDir, "logs");
const statePath = path.join(clusterDir, "state.json");

/** Components in start order; stopped in reverse. */
export const COMPONENTS = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "istiod-supervisor"] as const;
type Component = (typeof COMPONENTS)[number];

/**
 * The API server's advertise address: written into the `kubernetes` Service's endpoints only
 * (loopback is refused there); clients use the kubeconfig's 127.0.0.1. It must be an address of
 * this machine, so that anything that ever dials it stays here (the API server listens on
 * 127.0.0.1 only, so such a dial is refused locally): the IPv4 address of the interface that
 * holds the default route, never the gateway itself. OBS_CLUSTER_ADVERTISE_ADDRESS overrides.
 */
export function hostAddress(): string {
  const override = process.env.OBS_CLUSTER_ADVERTISE_ADDRESS;
  const own = Object.values(os.networkInterfaces()).flatMap((l) => l ?? []).filter((a) => a.family === "IPv4" && !a.internal);
  if (override) {
    if (!own.some((a) => a.address === override)) throw new Error(`OBS_CLUSTER_ADVERTISE_ADDRESS=${override} is not an address of this machine (its IPv4 addresses: ${own.map((a) => a.address).join(", ") || "none"})`);
    return override;
  }
  const route = defaultRoute();
  const onRoute = route ? (os.networkInterfaces()[route.iface] ?? []).find((a) => a.family === "IPv4" && !a.internal && a.address !== route.gateway) : undefined;
  const found = onRoute ?? own.find((a) => a.address !== route?.gateway);
  if (!found) throw new Error("this machine has no IPv4 address besides loopback for the API server to advertise; set OBS_CLUSTER_ADVERTISE_ADDRESS to one of its own addresses");
  return found.address;
}

/** The interface and gateway of the IPv4 default route (/proc/net/route), when readable. */
function defaultRoute(): { iface: string; gateway: string } | undefined {
  try {
    for (const line of readFileSync("/proc/net/route", "utf8").split("\n").slice(1)) {
      const [iface, dest, gw] = line.trim().split(/\s+/);
      if (iface && dest === "00000000" && gw) return { iface, gateway: (gw.match(/../g) ?? []).reverse().map((h) => parseInt(h, 16)).join(".") };
    }
  } catch {
    /* not Linux */
  }
  return undefined;
}

export const NODE_COUNT = Number(process.env.OBS_CLUSTER_NODES ?? 3);
const STATE_FORMAT = 1;

interface State {
  format: number;
  kubernetesVersion: string;
  /** hostAddress() at `up` (absent in states written before it was recorded). */
  advertiseAddress?: string;
  ports: { etcd: number; etcdPeer: number; apiserver: number; controllerManager: number; scheduler: number; kwok: number };
}

const say = (msg: string) => console.log(`[cluster] ${msg}`);

function readState(): State | undefined {
  try {
    return JSON.parse(readFileSync(statePath, "utf8"));
  } catch {
    return undefined;
  }
}

function pidOf(c: Component): number | undefined {
  try {
    return Number(readFileSync(path.join(pidDir, `${c}.pid`), "utf8").trim()) || undefined;
  } catch {
    return undefined;
  }
}

/** A pid is ours only if it is alive and its command line names the binary we started. */
function ownsPid(c: Component, pid: number): boolean {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    return cmd.includes(c === "etcd" ? "/etcd" : c);
  } catch {
    return false;
  }
}

/** A command with `input` on stdin; its output is kept, never echoed; a failure is a result, not an exception. */
const run = (input?: string) => runSync(input === undefined ? {} : { input });

export function kubectl(args: string[], opts: { input?: string; allowFail?: boolean } = {}): string {
  const r = run(opts.input)`${toolPath("kubectl")} --kubeconfig ${kubeconfigPath} ${args}`;
  if (r.exitCode !== 0 && !opts.allowFail) throw new Error(`kubectl ${args.join(" ")} failed: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

function openssl(args: string[]): void {
  const r = spawnSync("openssl", args, { cwd: pkiDir, encoding: "utf8" });
  if (r.error) throw new Error("openssl is missing: the local cluster generates its certificates with it; install it: apt-get install openssl");
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${r.stderr}`);
}

/** A key and a certificate signed by the cluster's CA, `<name>.key` and `<name>.crt` in the pki folder. */
function signCert(name: string, subj: string, ext?: string): void {
  openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subj]);
  const extArgs: string[] = [];
  if (ext) {
    writeFileSync(path.join(pkiDir, `${name}.ext`), ext);
    extArgs.push("-extfile", `${name}.ext`);
  }
  openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.crt`, "-days", CERT_DAYS, ...extArgs]);
}
const CERT_DAYS = "3650";

function makePki(): void {
  mkdirSync(pkiDir, { recursive: true });
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", CERT_DAYS, "-subj", "/CN=observability-stack-local-ca"]);
  signCert("apiserver", "/CN=kube-apiserver", "subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\nextendedKeyUsage=serverAuth\n");
  signCert("admin", "/O=system:masters/CN=observability-stack-admin", "extendedKeyUsage=clientAuth\n");
  openssl(["genrsa", "-out", "sa.key", "2048"]);
  openssl(["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"]);
}

/**
 * What kwok's kubelet endpoint needs before kwok starts: its serving certificate (for the nodes'
 * address, which the API server verifies against the CA; made here also for a cluster kept from
 * before it existed) and kwok's PortForward kind, kept beside the kwok binary by `npm run tools`.
 */
function prepareKwok(): void {
  if (!existsSync(path.join(pkiDir, "kubelet.crt"))) signCert("kubelet", "/CN=kwok-kubelet", `subjectAltName=IP:${NODE_ADDRESS}\nextendedKeyUsage=serverAuth\n`);
  const crd = path.join(path.dirname(toolPath("kwok")), KWOK_PORTFORWARD_CRD);
  if (!existsSync(crd)) throw new Error(`${crd} is missing (kwok's PortForward CRD, kept beside the kwok binary): run npm run tools`);
  kubectl(["apply", "--server-side", "--force-conflicts", "-f", crd]);
  kubectl(["wait", "--for=condition=Established", "--timeout=60s", "-f", crd]);
}

/** The API server's `cluster` egress (webhooks, aggregated APIs, nodes) goes to the istiod supervisor's CONNECT proxy. */
const egressConfigPath = path.join(clusterDir, "egress-selector.yaml");
function writeEgressConfig(): void {
  const socket = egressSocketPath(clusterDir);
  if (Buffer.byteLength(socket) > 107) throw new Error(`the egress proxy's socket path is too long for a Unix socket (${socket}); use a shorter OBS_CLUSTER_DIR`);
  writeFileSync(
    egressConfigPath,
    `apiVersion: apiserver.k8s.io/v1beta1
kind: EgressSelectorConfiguration
egressSelections:
- name: cluster
  connection:
    proxyProtocol: HTTPConnect
    transport:
      uds:
        udsName: ${socket}
`,
  );
}

function writeKubeconfig(port: number): void {
  const b64 = (f: string) => readFileSync(path.join(pkiDir, f)).toString("base64");
  writeFileSync(
    kubeconfigPath,
    `apiVersion: v1
kind: Config
clusters:
- name: obs-local
  cluster:
    server: https://127.0.0.1:${port}
    certificate-authority-data: ${b64("ca.crt")}
users:
- name: obs-local-admin
  user:
    client-certificate-data: ${b64("admin.crt")}
    client-key-data: ${b64("admin.key")}
contexts:
- name: obs-local
  context: { cluster: obs-local, user: obs-local-admin }
current-context: obs-local
`,
    { mode: 0o600 },
  );
}

function start(c: Component, bin: string, args: string[]): number {
  mkdirSync(logDir, { recursive: true });
  mkdirSync(pidDir, { recursive: true });
  const out = openSync(path.join(logDir, `${c}.log`), "a");
  const child = spawn(bin, args, { detached: true, stdio: ["ignore", out, out], cwd: clusterDir });
  closeSync(out);
  child.unref();
  writeFileSync(path.join(pidDir, `${c}.pid`), String(child.pid));
  return child.pid!;
}

function argsFor(c: Component, s: State): [string, string[]] {
  const p = (f: string) => path.join(pkiDir, f);
  const kc = kubeconfigPath;
  switch (c) {
    case "etcd":
      return [toolPath("etcd"), ["--name=obs-local", `--data-dir=${path.join(clusterDir, "etcd")}`, `--listen-client-urls=http://127.0.0.1:${s.ports.etcd}`, `--advertise-client-urls=http://127.0.0.1:${s.ports.etcd}`, `--listen-peer-urls=http://127.0.0.1:${s.ports.etcdPeer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${s.ports.etcdPeer}`, `--initial-cluster=obs-local=http://127.0.0.1:${s.ports.etcdPeer}`, "--quota-backend-bytes=4294967296", "--log-level=warn"]];
    case "kube-apiserver":
      // Admission webhooks are on: their calls leave through the egress proxy to the real istiods.
      return [toolPath("kube-apiserver"), [`--etcd-servers=http://127.0.0.1:${s.ports.etcd}`, "--bind-address=127.0.0.1", `--advertise-address=${s.advertiseAddress ?? hostAddress()}`, `--egress-selector-config-file=${egressConfigPath}`, `--secure-port=${s.ports.apiserver}`, `--cert-dir=${p("serving")}`, `--tls-cert-file=${p("apiserver.crt")}`, `--tls-private-key-file=${p("apiserver.key")}`, `--client-ca-file=${p("ca.crt")}`, "--service-account-issuer=https://kubernetes.default.svc", `--service-account-key-file=${p("sa.pub")}`, `--service-account-signing-key-file=${p("sa.key")}`, "--service-cluster-ip-range=10.0.0.0/16", "--authorization-mode=RBAC", "--allow-privileged=true", "--kubelet-preferred-address-types=InternalIP", `--kubelet-certificate-authority=${p("ca.crt")}`, "--v=0"]];
    case "kube-controller-manager":
      return [toolPath("kube-controller-manager"), [`--kubeconfig=${kc}`, `--authentication-kubeconfig=${kc}`, `--authorization-kubeconfig=${kc}`, "--bind-address=127.0.0.1", `--secure-port=${s.ports.controllerManager}`, "--leader-elect=false", `--service-account-private-key-file=${p("sa.key")}`, `--root-ca-file=${p("ca.crt")}`, `--cluster-signing-cert-file=${p("ca.crt")}`, `--cluster-signing-key-file=${p("ca.key")}`, "--use-service-account-credentials=true", "--v=0"]];
    case "kube-scheduler":
      return [toolPath("kube-scheduler"), [`--kubeconfig=${kc}`, `--authentication-kubeconfig=${kc}`, `--authorization-kubeconfig=${kc}`, "--bind-address=127.0.0.1", `--secure-port=${s.ports.scheduler}`, "--leader-elect=false", "--v=0"]];
    case "kwok":
      return [toolPath("kwok"), [`--kubeconfig=${kc}`, "--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake", "--cidr=10.244.0.0/16", `--node-ip=${NODE_ADDRESS}`, "--node-lease-duration-seconds=40", `--server-address=127.0.0.1:${s.ports.kwok}`, `--tls-cert-file=${p("kubelet.crt")}`, `--tls-private-key-file=${p("kubelet.key")}`, "--enable-crds=PortForward", `--config=${path.join(repoRoot, "scripts", "cluster", "kwok-stages.yaml")}`]];
    case "istiod-supervisor":
      // TypeScript run by Node through tsx's loader, one process (its command line names the component)
      return [process.execPath, ["--import", pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href, path.join(repoRoot, "scripts", "lib", "istiod.ts"), "istiod-supervisor", clusterDir, String(s.ports.kwok)]];
  }
}

async function waitFor(what: string, seconds: number, check: () => boolean | Promise<boolean>, logFile?: string): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  let tail = "";
  if (logFile && existsSync(logFile)) tail = "\n" + readFileSync(logFile, "utf8").trim().split("\n").slice(-10).join("\n");
  throw new Error(`${what} did not come up within ${seconds}s${logFile ? ` (log: ${logFile})` : ""}${tail}`);
}

function healthy(port: number, p: string): boolean {
  return run()`curl -sk --max-time 2 ${`https://127.0.0.1:${port}${p}`}`.stdout.trim() === "ok";
}

export interface ComponentStatus {
  name: Component;
  pid?: number;
  running: boolean;
}

/** One istiod as the supervisor reports it, and whether its pid is a live pilot-discovery. */
export type IstiodStatus = IstiodEntry & { running: boolean };

export function status(): { up: boolean; healthy: boolean; components: ComponentStatus[]; state?: State; istiods: IstiodStatus[] } {
  const state = readState();
  const components = COMPONENTS.map((name) => {
    const pid = pidOf(name);
    return { name, pid, running: pid !== undefined && ownsPid(name, pid) };
  });
  const up = components.every((c) => c.running);
  const isHealthy = up && !!state && healthy(state.ports.apiserver, "/readyz");
  const istiods = Object.values(readIstiods(clusterDir)?.revisions ?? {}).map((e) => ({ ...e, running: !!e.pid && isIstiodPid(e.pid) }));
  return { up, healthy: isHealthy, components, state, istiods };
}

export async function up(): Promise<void> {
  preflight("local", [...TOOL_GROUPS.local.binaries, "kubectl"]);
  const st = status();
  if (st.up && st.healthy) {
    say(`already up: API server https://127.0.0.1:${st.state!.ports.apiserver}; kubeconfig ${kubeconfigPath}`);
    return;
  }
  if (existsSync(clusterDir)) {
    const s = readState();
    // a dead component comes back on the same data, CA and ports; only a state this code cannot run is wiped
    if (s && compatible(s)) return restart(s, st.components);
    const why = !s ? "no readable state" : `a state from another version (format ${s.format}, Kubernetes ${s.kubernetesVersion}; this code: format ${STATE_FORMAT}, Kubernetes ${pins.kubernetes.version})`;
    say(`${clusterDir} holds ${why}: removing it and starting a fresh, empty cluster`);
    down({ quiet: true, remove: true });
  }
  const t0 = Date.now();
  mkdirSync(clusterDir, { recursive: true });
  makePki();
  const state: State = {
    format: STATE_FORMAT,
    kubernetesVersion: pins.kubernetes.version,
    advertiseAddress: hostAddress(),
    ports: { etcd: await freePort(), etcdPeer: await freePort(), apiserver: await freePort(), controllerManager: await freePort(), scheduler: await freePort(), kwok: await freePort() },
  };
  writeFileSync(statePath, JSON.stringify(state, null, 2));
  writeKubeconfig(state.ports.apiserver);
  writeEgressConfig();
  try {
    await launch("etcd", state, t0);
    say(`etcd ready (${Date.now() - t0} ms)`);
    await launch("kube-apiserver", state, t0);
    say(`kube-apiserver ready on https://127.0.0.1:${state.ports.apiserver} (${Date.now() - t0} ms)`);
    await Promise.all([launch("kube-controller-manager", state, t0), launch("kube-scheduler", state, t0)]);
    say(`controller-manager and scheduler healthy (${Date.now() - t0} ms)`);
    kubectl(["apply", "-f", "-"], { input: bootstrapObjects() });
    await launch("kwok", state, t0);
    await waitFor("the default ServiceAccount", 60, () => kubectl(["get", "serviceaccount", "default", "-n", "default", "-o", "name"], { allowFail: true }).includes("default"), path.join(logDir, "kube-controller-manager.log"));
    await launch("istiod-supervisor", state, t0);
    say(`up in ${((Date.now() - t0) / 1000).toFixed(1)}s: ${NODE_COUNT} nodes; kubeconfig ${kubeconfigPath}`);
  } catch (e) {
    say(`up failed; stopping what started`);
    down({ quiet: true, remove: true, keepLogs: true });
    throw e;
  }
}

/** Starts a component (kwok after what it needs, prepareKwok) and waits until it answers, at `up` and at a restart alike. */
function launch(c: Component, s: State, t0: number): Promise<void> {
  if (c === "kwok") prepareKwok();
  return ready(c, s, start(c, ...argsFor(c, s)), t0);
}

/** Waits until a component just started (pid) answers as it should. */
function ready(c: Component, s: State, pid: number, t0: number): Promise<void> {
  const log = path.join(logDir, `${c}.log`);
  switch (c) {
    case "etcd":
      return waitFor("etcd", 30, () => run()`curl -s --max-time 2 ${`http://127.0.0.1:${s.ports.etcd}/health`}`.stdout.includes('"health":"true"'), log);
    case "kube-apiserver":
      return waitFor("kube-apiserver", 90, () => healthy(s.ports.apiserver, "/readyz"), log);
    case "kube-controller-manager":
      return waitFor(c, 60, () => healthy(s.ports.controllerManager, "/healthz"), log);
    case "kube-scheduler":
      return waitFor(c, 60, () => healthy(s.ports.scheduler, "/healthz"), log);
    case "kwok":
      return waitFor(`${NODE_COUNT} kwok nodes Ready`, 60, () => readyNodes() >= NODE_COUNT, log);
    case "istiod-supervisor":
      return waitIstiods(pid, t0);
  }
}

/** Whether a kept state folder is one this code runs as it is: same format and Kubernetes, its CA and etcd data there. */
function compatible(s: State): boolean {
  return s.format === STATE_FORMAT && s.kubernetesVersion === pins.kubernetes.version && existsSync(path.join(pkiDir, "ca.crt")) && existsSync(path.join(clusterDir, "etcd"));
}

/**
 * Brings a cluster whose components died (a killed run, a crash, a reboot) back as it was: each
 * component that is not running starts again with the same data directory, CA and ports, in
 * start order, and is waited for as at a fresh start. Nothing is wiped, also when this fails.
 */
async function restart(s: State, components: ComponentStatus[]): Promise<void> {
  const t0 = Date.now();
  const dead = components.filter((c) => !c.running).map((c) => c.name);
  say(dead.length ? `${dead.join(", ")} not running: starting ${dead.length === 1 ? "it" : "them"} again on the kept data, CA and ports (${clusterDir})` : `every component runs but the API server is not ready: waiting for it`);
  for (const c of COMPONENTS) {
    if (!dead.includes(c)) continue;
    await launch(c, s, t0);
    // the running API server also, once etcd is back (it may have lost it), before the components that need it
    if (c === "etcd" && !dead.includes("kube-apiserver")) await ready("kube-apiserver", s, 0, t0);
  }
  if (!dead.length) await ready("kube-apiserver", s, 0, t0);
  say(`up again in ${((Date.now() - t0) / 1000).toFixed(1)}s with its data: API server https://127.0.0.1:${s.ports.apiserver}; kubeconfig ${kubeconfigPath}`);
}

/** Stops the cluster and removes its state folder (its data), then starts a fresh one: `npm run cluster -- reset`. */
export async function reset(): Promise<void> {
  if (existsSync(clusterDir)) {
    down({ quiet: true, remove: true });
    say(`removed ${clusterDir} (reset): starting a fresh, empty cluster`);
  }
  await up();
}

/**
 * Waits until the supervisor has listed the cluster's istiod Deployments, then until each of them
 * is ready (a fresh cluster has none; a cluster started over kept data has its revisions').
 */
async function waitIstiods(supervisor: number, t0: number): Promise<void> {
  const log = path.join(logDir, "istiod-supervisor.log");
  await waitFor("the istiod supervisor", 60, () => readIstiods(clusterDir)?.supervisorPid === supervisor && readIstiods(clusterDir)!.synced && existsSync(egressSocketPath(clusterDir)), log);
  const revisions = Object.keys(readIstiods(clusterDir)!.revisions);
  if (!revisions.length) return say(`istiod supervisor and egress proxy running (no istiod Deployment yet) (${Date.now() - t0} ms)`);
  await waitFor(`istiod ${revisions.join(", ")}`, 180, () => Object.values(readIstiods(clusterDir)!.revisions).every((e) => e.state === "ready" || e.state === "failed"), log);
  for (const e of Object.values(readIstiods(clusterDir)!.revisions)) say(e.state === "ready" ? `istiod ${e.revision} ready on 127.0.0.1:${e.ports!.http} (${Date.now() - t0} ms since up began)` : `istiod ${e.revision} cannot start: ${e.detail}`);
}

/** The live istiods of this cluster: the supervisor's record and the pid files. */
function istiodPids(): { revision: string; pid: number }[] {
  const found = new Map<number, string>();
  for (const e of Object.values(readIstiods(clusterDir)?.revisions ?? {})) if (e.pid) found.set(e.pid, e.revision);
  for (const f of existsSync(pidDir) ? readdirSync(pidDir) : []) {
    const rev = /^istiod-(.+)\.pid$/.exec(f)?.[1];
    const pid = rev && pidFileValue(path.join(pidDir, f));
    if (rev && pid) found.set(pid, rev);
  }
  return [...found].filter(([pid]) => isIstiodPid(pid)).map(([pid, revision]) => ({ revision, pid }));
}

function stopIstiods(istiods: { revision: string; pid: number }[], quiet?: boolean): void {
  for (const { revision, pid } of istiods) {
    if (isIstiodPid(pid)) stopProcess(pid, () => isIstiodPid(pid), 15_000);
    if (!quiet) say(`stopped istiod ${revision} (pid ${pid})`);
  }
}

/** SIGTERM, then SIGKILL if it still runs after `graceMs`. */
function stopProcess(pid: number, running: () => boolean, graceMs: number): void {
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return; // gone
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && running()) spawnSync("sleep", ["0.2"]);
  if (running()) process.kill(pid, "SIGKILL");
}

function pidFileValue(file: string): number | undefined {
  try {
    return Number(readFileSync(file, "utf8").trim()) || undefined;
  } catch {
    return undefined;
  }
}

function readyNodes(): number {
  const nodes = JSON.parse(kubectl(["get", "nodes", "-o", "json"]));
  return nodes.items.filter((n: { status?: { conditions?: { type: string; status: string }[] } }) => n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")).length;
}

function bootstrapObjects(): string {
  const nodes = Array.from({ length: NODE_COUNT }, (_, i) => `---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-${i}
  annotations: { kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0" }
  labels: { type: kwok, kubernetes.io/hostname: kwok-node-${i}, kubernetes.io/os: linux, kubernetes.io/arch: amd64, topology.kubernetes.io/zone: local-${String.fromCharCode(97 + (i % 3))} }
status:
  allocatable: { cpu: "32", memory: 256Gi, pods: "110", ephemeral-storage: 1Ti }
  capacity: { cpu: "32", memory: 256Gi, pods: "110", ephemeral-storage: 1Ti }
`);
  return `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations: { storageclass.kubernetes.io/is-default-class: "true" }
provisioner: obs.local/hostpath
reclaimPolicy: Delete
volumeBindingMode: Immediate
allowVolumeExpansion: true
${nodes.join("")}`;
}

/**
 * Stops the processes the cluster started (istiods included). Its state folder (etcd's data, the
 * CA, the ports) stays for the next `up` unless `remove` (`npm run cluster -- delete`, `reset`);
 * `keepLogs` keeps the logs of a removed one.
 */
export function down(opts: { quiet?: boolean; remove?: boolean; keepLogs?: boolean } = {}): void {
  // the supervisor stops its istiods on SIGTERM; any left (it was killed) go by their recorded pids
  const istiods = istiodPids();
  for (const c of [...COMPONENTS].reverse()) {
    const pid = pidOf(c);
    if (pid === undefined) continue;
    if (ownsPid(c, pid)) {
      stopProcess(pid, () => ownsPid(c, pid), 10_000);
      if (!opts.quiet) say(`stopped ${c} (pid ${pid})`);
    } else if (!opts.quiet) say(`${c}: pid ${pid} is not running (stale pid file)`);
  }
  stopIstiods(istiods, opts.quiet);
  if (!opts.remove) {
    if (!opts.quiet && existsSync(clusterDir)) say(`data kept in ${clusterDir}: \`npm run cluster -- up\` starts it again on it, \`delete\` removes it`);
    return;
  }
  if (opts.keepLogs) {
    for (const d of ["etcd", "pki", "pids"]) rmSync(path.join(clusterDir, d), { recursive: true, force: true });
    rmSync(statePath, { force: true });
  } else rmSync(clusterDir, { recursive: true, force: true });
  if (!opts.quiet) say(`removed ${clusterDir}`);
}
