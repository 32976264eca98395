// The local cluster's istiods: one pilot-discovery process per istiod Deployment in istio-system,
// run outside the cluster by a detached supervisor (a component of scripts/lib/cluster.ts) that
// watches Deployments and Services through the API and also serves the API server's egress
// proxy (egress-proxy.ts), which sends webhook calls for an istiod Service to its process.
//
// Each istiod gets what its pod would: the Deployment's args and env (fieldRefs resolved), a
// token of its ServiceAccount (TokenRequest, so the stack's RBAC is what it runs with), an empty
// working directory (it reads its mesh and injector ConfigMaps and keeps its CA in a Secret), and
// every listener on a free 127.0.0.1 port. Where they are is in `<cluster dir>/istiods.json`.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { get as httpGet } from "node:http";
import { Agent, request as httpsRequest } from "node:https";
import type { Server } from "node:net";
import os from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { ISTIO_NAMESPACE } from "../../components/k8s/labels.js";
import { findTool, localClusterDir, MissingToolError, pins } from "../../lib/tools.js";
import { quantityBytes, validated } from "../../lib/units.js";
import { startEgressProxy, type Route } from "./egress-proxy.js";
import { freePort, portFree } from "./net.js";

/** What the cluster's `status` and `down` look for on an istiod's command line. */
export const ISTIOD_BINARY = "pilot-discovery";

/** pilot-discovery's listeners: its flag, and the port it binds by default (pilot/cmd/pilot-discovery/app/cmd.go). */
export const LISTENERS = {
  http: { flag: "httpAddr", defaultPort: 8080 },
  grpc: { flag: "grpcAddr", defaultPort: 15010 },
  secureGrpc: { flag: "secureGRPCAddr", defaultPort: 15012 },
  https: { flag: "httpsAddr", defaultPort: 15017 },
  monitoring: { flag: "monitoringAddr", defaultPort: 15014 },
  ctrlz: { flag: "ctrlz_port", defaultPort: 9876 },
} as const;
export type Listener = keyof typeof LISTENERS;
export type Ports = Record<Listener, number>;

/**
 * The simulated nodes' address (kwok's --node-ip) and the kubelet port the API server dials there
 * (its default: the nodes record none). kwok answers that kubelet API (port-forward: `kubectl
 * port-forward`, `istioctl version`) on 127.0.0.1; the egress proxy carries the API server there.
 */
export const NODE_ADDRESS = "10.1.0.1";
export const KUBELET_PORT = 10250;

/** An istiod pod, as the supervisor reads it. */
export interface Pod {
  metadata: { name: string; namespace: string; uid: string; labels?: Record<string, string>; deletionTimestamp?: string };
}

/**
 * kwok's PortForward for an istiod pod: each istiod port (its default, as the pod spec names it)
 * to that revision's listener on 127.0.0.1. Owned by the pod, so it goes with it.
 */
export function portForwardOf(pod: Pod, ports: Ports): Record<string, unknown> {
  return {
    apiVersion: "kwok.x-k8s.io/v1alpha1",
    kind: "PortForward",
    metadata: { name: pod.metadata.name, namespace: pod.metadata.namespace, ownerReferences: [{ apiVersion: "v1", kind: "Pod", name: pod.metadata.name, uid: pod.metadata.uid }] },
    spec: { forwards: (Object.keys(LISTENERS) as Listener[]).map((l) => ({ ports: [LISTENERS[l].defaultPort], target: { address: "127.0.0.1", port: ports[l] } })) },
  };
}

export interface IstiodEntry {
  revision: string;
  /** The pinned Istio minor ("1.30") the Deployment's image tag maps to. */
  version?: string;
  imageTag?: string;
  pid?: number;
  ports?: Ports;
  /** waiting (for its ConfigMaps), starting, ready, restarting (after a crash), failed (cannot start: see detail). */
  state: "waiting" | "starting" | "ready" | "restarting" | "failed";
  detail?: string;
  startedAt?: string;
  /** Seconds from the process start to `/ready` answering 200. */
  readySeconds?: number;
  restarts: number;
  log: string;
}

export interface IstiodsFile {
  format: 1;
  supervisorPid: number;
  egressSocket: string;
  /** The first list of Deployments and Services is done: `revisions` is the cluster's. */
  synced: boolean;
  updatedAt: string;
  revisions: Record<string, IstiodEntry>;
  /** `ClusterIP:port` of each istiod Service, and where the egress proxy sends it. */
  routes: Record<string, string>;
}

/** The supervisor's state file in a cluster folder (default: the local cluster's, OBS_CLUSTER_DIR). */
export const istiodsPath = (dir = localClusterDir()): string => path.join(dir, "istiods.json");
export const egressSocketPath = (dir: string): string => path.join(dir, "egress.sock");
/** A revision's folder: its kubeconfig (a token of its ServiceAccount), token, and working dir `work/`. */
export const istiodHome = (dir: string, rev: string): string => path.join(dir, "istiod", rev);

export function readIstiods(dir = localClusterDir()): IstiodsFile | undefined {
  try {
    return JSON.parse(readFileSync(istiodsPath(dir), "utf8"));
  } catch {
    return undefined;
  }
}

/** Waits until the revision's istiod answers /ready (per the supervisor); throws with its state and log tail. */
export async function waitForIstiod(revision: string, seconds = 120, dir = localClusterDir()): Promise<IstiodEntry> {
  const deadline = Date.now() + seconds * 1000;
  let last: IstiodEntry | undefined;
  while (Date.now() < deadline) {
    last = readIstiods(dir)?.revisions[revision];
    if (last?.state === "ready") return last;
    await sleep(250);
  }
  const tail = last?.log && existsSync(last.log) ? "\n" + readFileSync(last.log, "utf8").trim().split("\n").slice(-8).join("\n") : "";
  throw new Error(`istiod ${revision} was not ready within ${seconds}s (${last ? `${last.state}${last.detail ? `: ${last.detail}` : ""}` : "the supervisor has not seen its Deployment"})${tail}`);
}

/** Waits until the supervisor has stopped the revision's istiod (its Deployment is gone). */
export async function waitForIstiodGone(revision: string, seconds = 60, dir = localClusterDir()): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (!readIstiods(dir)?.revisions[revision]) return;
    await sleep(250);
  }
  throw new Error(`istiod ${revision} still runs ${seconds}s after its Deployment went`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- pure pieces: what an istiod Deployment asks for ----

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string }; resourceFieldRef?: { resource: string; divisor?: string | number; containerName?: string }; configMapKeyRef?: unknown; secretKeyRef?: unknown };
}
interface Container {
  name: string;
  image?: string;
  args?: string[];
  command?: string[];
  env?: EnvVar[];
  ports?: { name?: string; containerPort: number }[];
  resources?: { limits?: Record<string, string>; requests?: Record<string, string> };
}
export interface Deployment {
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; deletionTimestamp?: string; uid?: string };
  spec: { template: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: { serviceAccountName?: string; containers: Container[] } } };
}
export interface Service {
  metadata: { name: string; namespace?: string };
  spec: { clusterIP?: string; clusterIPs?: string[]; selector?: Record<string, string>; ports?: { port: number; targetPort?: number | string }[] };
}

/** The revision an istiod Deployment serves: its istio.io/rev label ("default" without one). */
export const revisionOf = (d: Deployment | Pod): string => d.metadata.labels?.["istio.io/rev"] || "default";
const suffix = (rev: string) => (rev === "default" ? "" : `-${rev}`);
/** The ConfigMaps istiod reads at start (mesh config, injector): started without them it skips injection for good. */
export const configMapsOf = (rev: string): string[] => [`istio${suffix(rev)}`, `istio-sidecar-injector${suffix(rev)}`];

export function discoveryContainer(d: Deployment): Container {
  const cs = d.spec.template.spec.containers;
  const c = cs.find((x) => x.name === "discovery") ?? cs[0];
  if (!c) throw new Error(`deployment ${d.metadata.name} has no container`);
  return c;
}

/** The pinned Istio minor of an istiod Deployment, from its image tag (tools/versions.json istioctl.versions[].imageTag). */
export function istioVersionOf(d: Deployment): { version: string; imageTag: string } {
  const image = discoveryContainer(d).image ?? "";
  const tag = /:([^:/@]+)(?:@.*)?$/.exec(image)?.[1];
  const versions = pins.istioctl.versions;
  const known = Object.entries(versions).map(([v, p]) => `${v} (${p.imageTag})`).join(", ");
  if (!tag) throw new Error(`deployment ${d.metadata.name}: image '${image}' has no tag; pinned Istio versions: ${known}`);
  const exact = Object.keys(versions).find((v) => versions[v]!.imageTag === tag);
  const minor = /^(\d+\.\d+)\./.exec(tag)?.[1];
  const version = exact ?? (minor && versions[minor] ? minor : undefined);
  if (!version) throw new Error(`deployment ${d.metadata.name}: image tag '${tag}' is no pinned Istio version (pinned: ${known})`);
  return { version, imageTag: tag };
}

/** The pod fields an env fieldRef can name, for the process that stands in for the pod. */
export interface PodFacts {
  name: string;
  namespace: string;
  uid: string;
  serviceAccountName: string;
  nodeName: string;
  podIP: string;
  hostIP: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export function podFacts(d: Deployment): PodFacts {
  const t = d.spec.template;
  return {
    name: `${d.metadata.name}-local`,
    namespace: d.metadata.namespace ?? ISTIO_NAMESPACE,
    uid: createHash("sha256").update(d.metadata.uid ?? d.metadata.name).digest("hex").slice(0, 32),
    serviceAccountName: t.spec.serviceAccountName ?? "default",
    nodeName: os.hostname(),
    // the process listens on 127.0.0.1: the one address of "its pod" that is on this machine
    podIP: "127.0.0.1",
    hostIP: "127.0.0.1",
    labels: t.metadata?.labels ?? {},
    annotations: t.metadata?.annotations ?? {},
  };
}

function fieldValue(p: PodFacts, fieldPath: string): string {
  const simple: Record<string, string> = {
    "metadata.name": p.name,
    "metadata.namespace": p.namespace,
    "metadata.uid": p.uid,
    "spec.serviceAccountName": p.serviceAccountName,
    "spec.nodeName": p.nodeName,
    "status.podIP": p.podIP,
    "status.podIPs": p.podIP,
    "status.hostIP": p.hostIP,
    "status.hostIPs": p.hostIP,
  };
  if (fieldPath in simple) return simple[fieldPath]!;
  const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (m) return (m[1] === "labels" ? p.labels : p.annotations)[m[2]!] ?? "";
  throw new Error(`fieldRef '${fieldPath}' is not one a pod can expose`);
}

/** A resourceFieldRef as the kubelet resolves it: the container's limit (else this machine's capacity) over the divisor, rounded up. */
function resourceValue(c: Container, ref: { resource: string; divisor?: string | number }): string {
  const [kind, what] = ref.resource.split(".") as [string, string];
  const divisor = validated(quantityBytes, String(ref.divisor ?? "1"), "divisor");
  const set = (kind === "limits" ? c.resources?.limits : c.resources?.requests)?.[what];
  const capacity = what === "cpu" ? os.cpus().length : what === "memory" ? os.totalmem() : undefined;
  const amount = set !== undefined ? validated(quantityBytes, set, `${ref.resource}`) : kind === "limits" ? capacity : what === "cpu" ? 0 : capacity;
  if (amount === undefined) throw new Error(`resourceFieldRef '${ref.resource}' is not supported`);
  return String(Math.max(what === "cpu" && amount > 0 ? 1 : 0, Math.ceil(amount / divisor)));
}

/** `$(VAR)` as Kubernetes expands it in env values and args: known names only, `$$` escapes. */
export function expandVars(s: string, vars: Record<string, string>): string {
  return s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name?: string) => (m === "$$" ? "$" : name !== undefined && name in vars ? vars[name]! : m));
}

/** The container's env with fieldRefs and resourceFieldRefs resolved; ConfigMap and Secret refs are refused. */
export function resolveEnv(c: Container, pod: PodFacts): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) {
    const from = e.valueFrom;
    if (!from) env[e.name] = expandVars(e.value ?? "", env);
    else if (from.fieldRef) env[e.name] = fieldValue(pod, from.fieldRef.fieldPath);
    else if (from.resourceFieldRef) env[e.name] = resourceValue(c, from.resourceFieldRef);
    else throw new Error(`env ${e.name}: valueFrom ${Object.keys(from).join(", ")} is not supported by the local istiod harness`);
  }
  return env;
}

const LISTENER_FLAGS = new Set<string>([...Object.values(LISTENERS).map((l) => l.flag), "ctrlz_address", "kubeconfig", "shutdownDuration"]);

/**
 * The container's args without the listener flags (either `--f=v` or `--f v`), then ours on
 * 127.0.0.1, the kubeconfig, and a 1 s drain on shutdown (no proxy ever connects to drain).
 */
export function istiodArgs(c: Container, env: Record<string, string>, ports: Ports, kubeconfig: string): string[] {
  const given = (c.args ?? []).map((a) => expandVars(a, env));
  const kept: string[] = [];
  for (let i = 0; i < given.length; i++) {
    const m = /^--?([^=]+)(=.*)?$/.exec(given[i]!);
    if (m && LISTENER_FLAGS.has(m[1]!)) {
      if (m[2] === undefined && i + 1 < given.length && !given[i + 1]!.startsWith("-")) i++;
      continue;
    }
    kept.push(given[i]!);
  }
  const at = (l: Exclude<Listener, "ctrlz">) => `--${LISTENERS[l].flag}=127.0.0.1:${ports[l]}`;
  return [...kept, at("http"), at("grpc"), at("secureGrpc"), at("https"), at("monitoring"), "--ctrlz_address=127.0.0.1", `--ctrlz_port=${ports.ctrlz}`, `--kubeconfig=${kubeconfig}`, "--shutdownDuration=1s"];
}

/** Which listener a container port is (by the defaults pilot-discovery binds), or undefined. */
export function listenerForPort(containerPort: number): Listener | undefined {
  return (Object.keys(LISTENERS) as Listener[]).find((l) => LISTENERS[l].defaultPort === containerPort);
}

/**
 * `ClusterIP:port` → revision and listener, for every Service whose selector picks an istiod
 * Deployment's pods (app=istiod and its istio.io/rev); named targetPorts resolve against the
 * Deployment's container ports.
 */
export function serviceRoutes(services: Service[], deployments: Deployment[]): Map<string, { revision: string; listener: Listener; service: string }> {
  const routes = new Map<string, { revision: string; listener: Listener; service: string }>();
  for (const s of services) {
    const sel = Object.entries(s.spec.selector ?? {});
    // the Deployment whose pods the Service selects
    const d = sel.length ? deployments.find((x) => sel.every(([k, v]) => x.spec.template.metadata?.labels?.[k] === v)) : undefined;
    if (!d) continue;
    const ports = discoveryContainer(d).ports ?? [];
    for (const ip of s.spec.clusterIPs ?? (s.spec.clusterIP ? [s.spec.clusterIP] : [])) {
      if (!ip || ip === "None") continue;
      for (const p of s.spec.ports ?? []) {
        const target = p.targetPort ?? p.port;
        const containerPort = typeof target === "number" ? target : /^\d+$/.test(target) ? Number(target) : ports.find((cp) => cp.name === target)?.containerPort;
        const listener = containerPort === undefined ? undefined : listenerForPort(containerPort);
        if (listener) routes.set(`${ip}:${p.port}`, { revision: revisionOf(d), listener, service: s.metadata.name });
      }
    }
  }
  return routes;
}

// ---- the API, as the supervisor uses it: the admin kubeconfig's client certificate ----

class Api {
  private readonly agent: Agent;
  private readonly base: URL;
  /** The API server and its CA, as the admin kubeconfig names them (istiod's kubeconfig takes both). */
  readonly server: string;
  readonly caData: string;
  constructor(kubeconfig: string) {
    const kc = parse(readFileSync(kubeconfig, "utf8"));
    const ctx = kc.contexts.find((c: { name: string }) => c.name === kc["current-context"]).context;
    const cluster = kc.clusters.find((c: { name: string }) => c.name === ctx.cluster).cluster;
    const user = kc.users.find((u: { name: string }) => u.name === ctx.user).user;
    const b64 = (s: string) => Buffer.from(s, "base64");
    this.server = cluster.server;
    this.caData = cluster["certificate-authority-data"];
    this.base = new URL(cluster.server);
    if (this.base.hostname !== "127.0.0.1") throw new Error(`the supervisor talks only to an API server on 127.0.0.1, not ${cluster.server}`);
    this.agent = new Agent({ keepAlive: true, ca: b64(cluster["certificate-authority-data"]), cert: b64(user["client-certificate-data"]), key: b64(user["client-key-data"]) });
  }

  /** One request; resolves with the status and parsed body (404 is a result, not an error). */
  call(method: string, p: string, body?: unknown, timeoutMs = 20_000, contentType = "application/json"): Promise<{ status: number; body: any }> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest(new URL(p, this.base), { method, agent: this.agent, timeout: timeoutMs, headers: { accept: "application/json", ...(body ? { "content-type": contentType } : {}) } }, (res) => {
        let data = "";
        res.setEncoding("utf8");
        res.on("data", (d) => (data += d));
        res.on("end", () => {
          let parsed: unknown = data;
          try {
            parsed = JSON.parse(data);
          } catch {
            /* plain text */
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      });
      req.on("timeout", () => req.destroy(new Error(`${method} ${p}: timed out`)));
      req.on("error", reject);
      req.end(body ? JSON.stringify(body) : undefined);
    });
  }

  async list(p: string): Promise<{ items: any[]; resourceVersion: string }> {
    const r = await this.call("GET", p);
    if (r.status !== 200) throw new Error(`GET ${p}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    return { items: r.body.items ?? [], resourceVersion: r.body.metadata.resourceVersion };
  }

  /** Streams watch events until the server ends the watch (timeoutSeconds) or it fails. */
  watch(p: string, resourceVersion: string, onEvent: (type: string, obj: any) => void): Promise<void> {
    const sep = p.includes("?") ? "&" : "?";
    const url = new URL(`${p}${sep}watch=1&allowWatchBookmarks=true&timeoutSeconds=300&resourceVersion=${resourceVersion}`, this.base);
    return new Promise((resolve, reject) => {
      const req = httpsRequest(url, { agent: this.agent, headers: { accept: "application/json" } }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return reject(new Error(`watch ${p}: ${res.statusCode}`));
        }
        let buf = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          buf += d;
          let nl: number;
          while ((nl = buf.indexOf("\n")) >= 0) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (!line) continue;
            const ev = JSON.parse(line);
            if (ev.type === "ERROR") return req.destroy(new Error(`watch ${p}: ${ev.object?.message ?? "error"}`));
            onEvent(ev.type, ev.object);
          }
        });
        res.on("end", resolve);
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end();
    });
  }
}

// ---- the supervisor ----

const READY_TIMEOUT_S = 180;
const TOKEN_SECONDS = 24 * 3600;

interface Running {
  child?: ChildProcess;
  stopping?: Promise<void>;
  spec?: string;
  tokenAt?: number;
  backoffMs: number;
  retryTimer?: NodeJS.Timeout;
}

function httpOk(port: number, p: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpGet({ host: "127.0.0.1", port, path: p, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
  });
}

/** Whether a pid is a live pilot-discovery (its command line names the binary). */
export function isIstiodPid(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(ISTIOD_BINARY);
  } catch {
    return false;
  }
}

export class Supervisor {
  private readonly api: Api;
  private readonly file: IstiodsFile;
  private deployments = new Map<string, Deployment>();
  private services: Service[] = [];
  private pods = new Map<string, Pod>();
  /** The PortForward last applied per pod (its JSON), so a change applies only what differs. */
  private forwarded = new Map<string, string>();
  private forwarding: Promise<void> = Promise.resolve();
  private forwardQueued = false;
  private routes = new Map<string, { revision: string; listener: Listener; service: string }>();
  private readonly running = new Map<string, Running>();
  private closed = false;
  private proxy?: Server;
  private syncedKinds = new Set<string>();

  constructor(
    private readonly dir: string,
    /** kwok's kubelet API on 127.0.0.1, where the proxy sends the API server's node connections. */
    private readonly kubeletPort: number,
  ) {
    this.api = new Api(path.join(dir, "kubeconfig"));
    const previous = readIstiods(dir);
    this.file = { format: 1, supervisorPid: process.pid, egressSocket: egressSocketPath(dir), synced: false, updatedAt: new Date().toISOString(), revisions: {}, routes: {} };
    // an istiod left by a supervisor that was killed: stopped here, restarted below on its ports
    for (const [rev, e] of Object.entries(previous?.revisions ?? {})) {
      if (e.pid && isIstiodPid(e.pid)) {
        this.say(`stopping istiod ${rev} (pid ${e.pid}) left by a previous supervisor`);
        try {
          process.kill(e.pid, "SIGKILL");
        } catch {
          /* gone */
        }
      }
      this.file.revisions[rev] = { ...e, pid: undefined, state: "waiting", detail: "restarting under a new supervisor" };
    }
  }

  private say(msg: string): void {
    console.log(`${new Date().toISOString()} [istiods] ${msg}`);
  }

  private save(): void {
    this.file.updatedAt = new Date().toISOString();
    this.file.routes = Object.fromEntries([...this.routes].map(([k, r]) => [k, `${r.service} -> istiod ${r.revision} ${r.listener}${this.file.revisions[r.revision]?.ports ? ` 127.0.0.1:${this.file.revisions[r.revision]!.ports![r.listener]}` : ""}`]));
    const target = istiodsPath(this.dir);
    writeFileSync(`${target}.tmp`, JSON.stringify(this.file, null, 2));
    renameSync(`${target}.tmp`, target);
  }

  private pidFile(rev: string): string {
    return path.join(this.dir, "pids", `istiod-${rev}.pid`);
  }

  async run(): Promise<void> {
    this.proxy = await startEgressProxy({ socketPath: this.file.egressSocket, route: (h, p) => this.route(h, p), log: (l) => this.say(`egress: ${l}`) });
    this.save();
    this.say(`egress proxy on ${this.file.egressSocket}; watching istiod Deployments and Services in ${ISTIO_NAMESPACE}`);
    for (const sig of ["SIGTERM", "SIGINT"] as const) process.on(sig, () => void this.shutdown().then(() => process.exit(0)));
    const tokenTimer = setInterval(() => void this.refreshTokens(), 3600_000);
    tokenTimer.unref();
    await Promise.all([
      this.inform("deployments", `/apis/apps/v1/namespaces/${ISTIO_NAMESPACE}/deployments?labelSelector=app%3Distiod`, (items) => {
        this.deployments = new Map(items.map((d: Deployment) => [d.metadata.name, d]));
      }, (type, d: Deployment) => {
        if (type === "DELETED") this.deployments.delete(d.metadata.name);
        else this.deployments.set(d.metadata.name, d);
      }),
      this.inform("services", `/api/v1/namespaces/${ISTIO_NAMESPACE}/services`, (items) => {
        this.services = items;
      }, (type, s: Service) => {
        this.services = this.services.filter((x) => x.metadata.name !== s.metadata.name);
        if (type !== "DELETED") this.services.push(s);
      }),
      this.inform("pods", `/api/v1/namespaces/${ISTIO_NAMESPACE}/pods?labelSelector=app%3Distiod`, (items) => {
        this.pods = new Map(items.map((p: Pod) => [p.metadata.name, p]));
      }, (type, p: Pod) => {
        if (type === "DELETED") this.pods.delete(p.metadata.name);
        else this.pods.set(p.metadata.name, p);
      }),
    ]);
  }

  /** List, then watch from there; after every end of a watch, list again (cheap: a few objects). */
  private async inform(kind: string, p: string, onList: (items: any[]) => void, onEvent: (type: string, obj: any) => void): Promise<void> {
    while (!this.closed) {
      try {
        const { items, resourceVersion } = await this.api.list(p);
        onList(items);
        this.syncedKinds.add(kind);
        this.changed();
        await this.api.watch(p, resourceVersion, (type, obj) => {
          if (type === "BOOKMARK") return;
          onEvent(type, obj);
          this.changed();
        });
      } catch (e) {
        if (!this.closed) this.say(`${kind}: ${(e as Error).message}; listing again in 2s`);
        await sleep(2000);
      }
    }
  }

  /** Something changed: recompute the routes and bring every revision in line, one operation per revision at a time. */
  private changed(): void {
    this.routes = serviceRoutes(this.services, [...this.deployments.values()]);
    if (this.syncedKinds.has("deployments") && this.syncedKinds.has("services")) {
      for (const rev of new Set([...this.wanted().keys(), ...Object.keys(this.file.revisions), ...this.running.keys()])) this.serial(rev);
      this.file.synced = true;
    }
    this.save();
    this.forward();
  }

  /**
   * Brings the PortForward of every istiod pod in line with its revision's ports, one pass at a
   * time (a pass waiting covers later calls). A failure is said and retried at the next change.
   */
  private forward(): void {
    if (this.forwardQueued) return;
    this.forwardQueued = true;
    this.forwarding = this.forwarding.then(async () => {
      this.forwardQueued = false;
      for (const name of this.forwarded.keys()) if (!this.pods.has(name)) this.forwarded.delete(name);
      for (const pod of this.pods.values()) {
        const ports = this.file.revisions[revisionOf(pod)]?.ports;
        if (!ports || pod.metadata.deletionTimestamp) continue;
        const want = portForwardOf(pod, ports);
        const json = JSON.stringify(want);
        if (this.forwarded.get(pod.metadata.name) === json) continue;
        const p = `/apis/kwok.x-k8s.io/v1alpha1/namespaces/${pod.metadata.namespace}/portforwards/${pod.metadata.name}?fieldManager=obs-istiod-supervisor&force=true`;
        try {
          const r = await this.api.call("PATCH", p, want, 20_000, "application/apply-patch+yaml");
          if (r.status !== 200 && r.status !== 201) throw new Error(`${r.status} ${r.body?.message ?? JSON.stringify(r.body).slice(0, 200)}`);
          this.forwarded.set(pod.metadata.name, json);
          this.say(`port-forward to pod ${pod.metadata.name}: istiod ${revisionOf(pod)}'s listeners on 127.0.0.1 (monitoring ${LISTENERS.monitoring.defaultPort} -> ${ports.monitoring})`);
        } catch (e) {
          this.say(`port-forward to pod ${pod.metadata.name}: ${(e as Error).message}`);
        }
      }
    });
  }

  private wanted(): Map<string, Deployment> {
    const wanted = new Map<string, Deployment>();
    for (const d of this.deployments.values()) if (!d.metadata.deletionTimestamp) wanted.set(revisionOf(d), d);
    return wanted;
  }

  private readonly queues = new Map<string, Promise<void>>();
  private readonly queued = new Set<string>();

  /** Runs sync(rev) after the revision's previous operation; a sync already waiting covers a new request. */
  private serial(rev: string): void {
    if (this.queued.has(rev)) return;
    this.queued.add(rev);
    const q = (this.queues.get(rev) ?? Promise.resolve())
      .then(() => {
        this.queued.delete(rev);
        return this.sync(rev);
      })
      .catch((e) => this.say(`istiod ${rev}: ${(e as Error).message}`));
    this.queues.set(rev, q);
  }

  private async sync(rev: string): Promise<void> {
    const d = this.wanted().get(rev);
    if (this.closed) return;
    if (!d) return this.remove(rev);
    const r = this.running.get(rev) ?? { backoffMs: 1000 };
    this.running.set(rev, r);
    // what a new pod would differ in (containers, account, labels, annotations: `kubectl rollout restart` too)
    const spec = JSON.stringify([d.spec.template.spec.containers, d.spec.template.spec.serviceAccountName, d.spec.template.metadata?.labels, d.spec.template.metadata?.annotations]);
    if (r.child && r.spec === spec) return;
    if (r.child) {
      this.say(`istiod ${rev}: its Deployment changed; restarting`);
      await this.stop(rev, r);
    }
    if (r.retryTimer) return;
    await this.start(rev, d, r, spec);
  }

  private route(host: string, port: number): Route {
    if (host === NODE_ADDRESS && port === KUBELET_PORT) return { port: this.kubeletPort };
    const hit = this.routes.get(`${host}:${port}`);
    if (!hit) return { refused: "not the ClusterIP and port of an istiod Service (the only addresses it serves, on 127.0.0.1)" };
    const e = this.file.revisions[hit.revision];
    if (!e?.ports || !e.pid) return { refused: `istiod ${hit.revision} is not running (${e ? `${e.state}${e.detail ? `: ${e.detail}` : ""}` : "no process"})` };
    return { port: e.ports[hit.listener] };
  }

  private entry(rev: string): IstiodEntry {
    return (this.file.revisions[rev] ??= { revision: rev, state: "waiting", restarts: 0, log: path.join(this.dir, "logs", `istiod-${rev}.log`) });
  }

  private retry(rev: string, r: Running, ms: number): void {
    if (r.retryTimer || this.closed) return;
    r.retryTimer = setTimeout(() => {
      r.retryTimer = undefined;
      this.serial(rev);
    }, ms);
  }

  private async start(rev: string, d: Deployment, r: Running, spec: string): Promise<void> {
    const e = this.entry(rev);
    let version: string;
    let bin: string;
    try {
      ({ version, imageTag: e.imageTag } = istioVersionOf(d));
      e.version = version;
      const tool = findTool(ISTIOD_BINARY, version);
      if (tool instanceof MissingToolError) throw tool;
      bin = tool.path;
    } catch (err) {
      return this.fail(rev, r, (err as Error).message);
    }
    const missing: string[] = [];
    for (const cm of configMapsOf(rev)) if ((await this.api.call("GET", `/api/v1/namespaces/${ISTIO_NAMESPACE}/configmaps/${cm}`)).status === 404) missing.push(cm);
    if (missing.length) {
      e.state = "waiting";
      e.detail = `waiting for ConfigMap(s) ${missing.join(", ")}`;
      this.save();
      return this.retry(rev, r, 1000);
    }
    if (this.closed) return;
    const home = istiodHome(this.dir, rev);
    const work = path.join(home, "work");
    let child: ChildProcess;
    try {
      const pod = podFacts(d);
      const container = discoveryContainer(d);
      const env = resolveEnv(container, pod);
      const kubeconfig = await this.writeKubeconfig(home, pod, r);
      const ports = await this.ports(e.ports);
      rmSync(work, { recursive: true, force: true });
      mkdirSync(work, { recursive: true });
      mkdirSync(path.dirname(e.log), { recursive: true });
      mkdirSync(path.dirname(this.pidFile(rev)), { recursive: true });
      const out = openSync(e.log, "a");
      const args = istiodArgs(container, env, ports, kubeconfig);
      // the pod's env only (no Service env, no in-cluster config): PATH for the Go runtime, HOME in the work dir
      child = spawn(bin, args, { cwd: work, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: work, ...env, KUBECONFIG: kubeconfig }, stdio: ["ignore", out, out] });
      closeSync(out);
      Object.assign(e, { pid: child.pid, ports, state: "starting", detail: `pilot-discovery ${version} (${bin})`, startedAt: new Date().toISOString(), readySeconds: undefined });
      writeFileSync(this.pidFile(rev), String(child.pid));
      r.child = child;
      r.spec = spec;
      this.say(`istiod ${rev}: started ${ISTIOD_BINARY} ${version} (pid ${child.pid}); http 127.0.0.1:${ports.http}, webhooks 127.0.0.1:${ports.https}, monitoring 127.0.0.1:${ports.monitoring}`);
      this.save();
      this.forward();
    } catch (err) {
      return this.fail(rev, r, (err as Error).message);
    }
    const t0 = Date.now();
    child.once("exit", (code, signal) => {
      if (r.child !== child) return;
      r.child = undefined;
      rmSync(this.pidFile(rev), { force: true });
      if (r.stopping || this.closed || !this.file.revisions[rev]) return;
      const ran = Date.now() - t0;
      if (ran > 60_000) r.backoffMs = 1000;
      Object.assign(e, { pid: undefined, state: "restarting", detail: `exited (${signal ?? `code ${code}`}) after ${(ran / 1000).toFixed(1)}s; restarting in ${r.backoffMs / 1000}s`, restarts: e.restarts + 1 });
      this.say(`istiod ${rev}: ${e.detail} (log: ${e.log})`);
      this.save();
      this.retry(rev, r, r.backoffMs);
      r.backoffMs = Math.min(r.backoffMs * 2, 30_000);
    });
    void this.awaitReady(rev, child, t0);
  }

  private fail(rev: string, r: Running, why: string): void {
    const e = this.entry(rev);
    Object.assign(e, { state: "failed", detail: why, pid: undefined });
    this.say(`istiod ${rev}: cannot start: ${why}`);
    this.save();
    this.retry(rev, r, 30_000);
  }

  private async awaitReady(rev: string, child: ChildProcess, t0: number): Promise<void> {
    const e = this.entry(rev);
    while (this.running.get(rev)?.child === child && Date.now() - t0 < READY_TIMEOUT_S * 1000) {
      if (await httpOk(e.ports!.http, "/ready")) {
        if (this.running.get(rev)?.child !== child) return;
        Object.assign(e, { state: "ready", detail: `pilot-discovery ${e.version}`, readySeconds: Number(((Date.now() - t0) / 1000).toFixed(1)) });
        this.say(`istiod ${rev}: ready in ${e.readySeconds}s`);
        this.save();
        return;
      }
      await sleep(250);
    }
    if (this.running.get(rev)?.child === child) {
      e.detail = `not ready after ${READY_TIMEOUT_S}s (log: ${e.log})`;
      this.say(`istiod ${rev}: ${e.detail}`);
      this.save();
    }
  }

  /** The recorded ports when all are still free (a restart keeps its addresses), else new ones. */
  private async ports(previous?: Ports): Promise<Ports> {
    if (previous && (await Promise.all(Object.values(previous).map(portFree))).every(Boolean)) return previous;
    const ports = {} as Ports;
    for (const l of Object.keys(LISTENERS) as Listener[]) ports[l] = await freePort();
    return ports;
  }

  /** A kubeconfig for istiod: the API server and CA of the admin one, and a token of the pod's ServiceAccount (re-read by client-go from tokenFile). */
  private async writeKubeconfig(home: string, pod: PodFacts, r: Running): Promise<string> {
    mkdirSync(home, { recursive: true });
    await this.requestToken(home, pod, r);
    const file = path.join(home, "kubeconfig");
    const user = `${pod.namespace}/${pod.serviceAccountName}`;
    writeFileSync(
      file,
      `apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: { server: "${this.api.server}", certificate-authority-data: "${this.api.caData}" }
users:
- name: "${user}"
  user: { tokenFile: "${path.join(home, "token")}" }
contexts:
- name: istiod
  context: { cluster: local, user: "${user}" }
current-context: istiod
`,
      { mode: 0o600 },
    );
    return file;
  }

  private async requestToken(home: string, pod: PodFacts, r: Running): Promise<void> {
    const p = `/api/v1/namespaces/${pod.namespace}/serviceaccounts/${pod.serviceAccountName}/token`;
    const res = await this.api.call("POST", p, { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: TOKEN_SECONDS } });
    if (res.status !== 201 && res.status !== 200) throw new Error(`TokenRequest for ServiceAccount ${pod.namespace}/${pod.serviceAccountName}: ${res.status} ${res.body?.message ?? ""}`);
    writeFileSync(path.join(home, "token"), res.body.status.token, { mode: 0o600 });
    r.tokenAt = Date.now();
  }

  private async refreshTokens(): Promise<void> {
    for (const [rev, r] of this.running) {
      const d = [...this.deployments.values()].find((x) => revisionOf(x) === rev);
      if (!r.child || !d || Date.now() - (r.tokenAt ?? 0) < (TOKEN_SECONDS / 2) * 1000) continue;
      try {
        await this.requestToken(istiodHome(this.dir, rev), podFacts(d), r);
      } catch (e) {
        this.say(`istiod ${rev}: token refresh failed: ${(e as Error).message}`);
      }
    }
  }

  private stop(rev: string, r: Running): Promise<void> {
    if (r.stopping) return r.stopping;
    const child = r.child;
    r.stopping = new Promise<void>((resolve) => {
      if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
      const kill = setTimeout(() => child.kill("SIGKILL"), 15_000);
      child.once("exit", () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill("SIGTERM");
    }).then(() => {
      r.child = undefined;
      r.stopping = undefined;
      rmSync(this.pidFile(rev), { force: true });
    });
    return r.stopping;
  }

  /** The Deployment went: stop its istiod and forget it. */
  private async remove(rev: string): Promise<void> {
    const r = this.running.get(rev);
    if (r) {
      clearTimeout(r.retryTimer);
      r.retryTimer = undefined;
      if (r.child) this.say(`istiod ${rev}: its Deployment is gone; stopping pid ${r.child.pid}`);
      await this.stop(rev, r);
      this.running.delete(rev);
    }
    if (this.file.revisions[rev] && !this.running.has(rev)) {
      delete this.file.revisions[rev];
      rmSync(istiodHome(this.dir, rev), { recursive: true, force: true });
      this.save();
    }
  }

  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.say("stopping");
    await Promise.all([...this.running].map(([rev, r]) => {
      clearTimeout(r.retryTimer);
      return this.stop(rev, r);
    }));
    this.proxy?.close();
    rmSync(this.file.egressSocket, { force: true });
    for (const e of Object.values(this.file.revisions)) Object.assign(e, { pid: undefined, state: "waiting", detail: "supervisor stopped" });
    this.save();
  }
}

// `node --import tsx scripts/lib/istiod.ts istiod-supervisor <cluster dir> <kwok's port>`: how cluster.ts starts it
if (process.argv[2] === "istiod-supervisor" && process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const [dir, kubeletPort] = [process.argv[3], Number(process.argv[4])];
  if (!dir || !kubeletPort) throw new Error("usage: istiod.ts istiod-supervisor <cluster dir> <kwok's port>");
  new Supervisor(dir, kubeletPort).run().catch((e) => {
    console.error(`[istiods] ${(e as Error).stack ?? e}`);
    process.exit(1);
  });
}
