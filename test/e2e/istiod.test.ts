// Real istiod on the local cluster: the local stack's revision applied, its pilot-discovery
// started by the cluster's supervisor, sidecar injection and config validation at admission
// through the egress proxy, istioctl's runbook checks, istiod's /metrics on 127.0.0.1, and no
// connection of the harness leaving 127.0.0.0/8.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Stack } from "@pulumi/pulumi/automation/index.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { defaultValidator, withoutFailurePolicy } from "../../components/istio/shape.js";
import type { KubeObject } from "../../components/k8s/objects.js";
import { ISTIOD } from "../../components/mesh/metrics.js";
import { revisionObjects } from "../builders/istio-shapes.js";
import { localClusterDir, pins, toolPath } from "../../lib/tools.js";
import { status } from "../../scripts/lib/cluster.js";
import { isIstiodPid, istiodHome, readIstiods, waitForIstiod, waitForIstiodGone, type IstiodEntry } from "../../scripts/lib/istiod.js";
import { getJson, kubectl, projectStack, stackWorkDir, stopwatch } from "./helpers.js";

const REV = "1-30";
const VERSION = "1.30";
const IMAGE_TAG = pins.istioctl.versions[VERSION]!.imageTag;
const { timings, timed } = stopwatch();

/**
 * istiod metrics the stack queries that only connected proxies produce: no Envoy runs here (kwok
 * only reports pods as running), so these need not appear and are checked by name in the pinned
 * Istio source instead. pilot_xds_pushes is not among them: istioctl's xDS request below is a push.
 */
const NEEDS_ENVOY: Record<string, string> = {
  [ISTIOD.xdsInternalErrors]: "counted when building or sending xDS for a connected proxy fails",
  [ISTIOD.xdsRejects]: "counted when a proxy NACKs a config",
  [ISTIOD.xdsClients]: "gauge of connected proxies by version; exported only once one has connected (istioctl's short xDS request may or may not have set it)",
  [ISTIOD.proxyConvergence]: "observed when a push to a proxy completes",
};

const istioctl = (...args: string[]) => spawnSync(toolPath("istioctl", VERSION), ["--kubeconfig", path.join(localClusterDir(), "kubeconfig"), ...args], { encoding: "utf8", timeout: 60_000 });

/** Every TCP and UDP socket of the given pids whose peer is not on this machine's loopback. */
function outsideConnections(pids: Set<number>): string[] {
  const out = execFileSync("ss", ["-tunapH"], { encoding: "utf8" });
  const bad: string[] = [];
  for (const line of out.split("\n")) {
    const owners = [...line.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
    if (!owners.some((p) => pids.has(p))) continue;
    const cols = line.trim().split(/\s+/);
    const peer = cols[5] ?? "";
    const host = peer.replace(/:[^:]*$/, "").replace(/^\[|\]$/g, "").replace(/%.*$/, "");
    if (cols[1] === "LISTEN" || cols[1] === "UNCONN" || host === "*" || host === "0.0.0.0") continue;
    if (!/^(127\.|::1$|::ffff:127\.)/.test(host)) bad.push(line.trim());
  }
  return bad;
}

const harnessPids = () => new Set([...status().components.filter((c) => c.running).map((c) => c.pid!), ...status().istiods.filter((i) => i.running).map((i) => i.pid!)]);

describe(`real istiod ${REV} on the local cluster`, () => {
  let stack: Stack;
  let istiod: IstiodEntry;
  beforeAll(async () => {
    stack = await projectStack("local", stackWorkDir("local"));
  });
  afterAll(() => console.log(`[e2e istiod timings, s] ${JSON.stringify(timings)}`));

  it("up applies the revision; its istiod starts from the pinned binary, ready within a bound, every listener on 127.0.0.1", async () => {
    const t0 = Date.now();
    const res = await timed("up", () => stack.up());
    expect(res.summary.result).toBe("succeeded");
    istiod = await waitForIstiod(REV, 120);
    timings["up start -> istiod ready"] = (Date.parse(istiod.startedAt!) + istiod.readySeconds! * 1000 - t0) / 1000;
    timings["istiod process start -> /ready"] = istiod.readySeconds!;
    expect(istiod).toMatchObject({ revision: REV, version: VERSION, imageTag: IMAGE_TAG, state: "ready" });
    expect(istiod.readySeconds).toBeLessThan(60);
    expect(readFileSync(`/proc/${istiod.pid}/cmdline`, "utf8").split("\0")[0]).toBe(toolPath("pilot-discovery", VERSION));
    // every listening socket of the process is on 127.0.0.1, and the recorded ports are its own
    const listening = execFileSync("ss", ["-tlnpH"], { encoding: "utf8" }).split("\n").filter((l) => l.includes(`pid=${istiod.pid},`));
    const addrs = listening.map((l) => l.trim().split(/\s+/)[3]!);
    expect(addrs.length).toBeGreaterThanOrEqual(6);
    for (const a of addrs) expect(a).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(addrs.map((a) => Number(a.split(":")[1])).sort()).toEqual(expect.arrayContaining(Object.values(istiod.ports!).sort()));
    expect(status().istiods).toEqual([expect.objectContaining({ revision: REV, running: true, state: "ready" })]);
  });

  it("runs as its ServiceAccount, with the stack's RBAC", () => {
    const kc = path.join(istiodHome(localClusterDir(), REV), "kubeconfig");
    const who = JSON.parse(execFileSync(toolPath("kubectl"), ["--kubeconfig", kc, "auth", "whoami", "-o", "json"], { encoding: "utf8" }));
    expect(who.status.userInfo.username).toBe(`system:serviceaccount:istio-system:istiod-${REV}`);
    const can = (verb: string, what: string) => spawnSync(toolPath("kubectl"), ["--kubeconfig", kc, "auth", "can-i", verb, what, "-n", "istio-system"], { encoding: "utf8" }).stdout.trim();
    expect(can("update", "mutatingwebhookconfigurations")).toBe("yes");
    expect(can("delete", "namespaces")).toBe("no");
  });

  it("takes over what istiod owns: caBundle of its webhooks, the validator switched to fail-closed, istio-ca-root-cert", async () => {
    const deadline = Date.now() + 60_000;
    let validator: any;
    while (Date.now() < deadline) {
      validator = getJson(["get", "validatingwebhookconfiguration", `istio-validator-${REV}-istio-system`]);
      if (validator.webhooks.every((w: { failurePolicy: string }) => w.failurePolicy === "Fail")) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    for (const w of validator.webhooks) {
      expect(w.failurePolicy, w.name).toBe("Fail");
      expect(w.clientConfig.caBundle, w.name).toBeTruthy();
    }
    for (const w of getJson(["get", "mutatingwebhookconfiguration", `istio-sidecar-injector-${REV}`]).webhooks) expect(w.clientConfig.caBundle, w.name).toBeTruthy();
    expect(getJson(["get", "configmap", "istio-ca-root-cert", "-n", "demo"]).data["root-cert.pem"]).toContain("BEGIN CERTIFICATE");
  });

  it("the default tag has the shape istioctl gives it (its own `tag generate default` on this cluster): the same injector hooks, and a validator with an object selector that also takes tag-labelled config", () => {
    // --overwrite: the stack has set the default tag already (generate only prints, it changes nothing)
    const r = istioctl("tag", "generate", "default", "--revision", REV, "--overwrite");
    expect(r.status, r.stderr).toBe(0);
    // the injector webhook the stack applied: istioctl's hooks, its legacy istio-injection ones included (names aside; caBundle is istiod's)
    const hooks = (o: KubeObject) => ((o.webhooks as any[]) ?? []).map(({ name: _name, clientConfig: { caBundle: _ca, ...cc }, ...w }) => JSON.stringify({ ...w, clientConfig: cc })).sort();
    const generated = parseAllDocuments(r.stdout).map((d) => d.toJS() as KubeObject);
    const injectorFromIstioctl = generated.find((o) => o?.kind === "MutatingWebhookConfiguration")!;
    const applied = getJson(["get", "mutatingwebhookconfiguration", "istio-revision-tag-default"]) as KubeObject;
    expect(injectorFromIstioctl.metadata.name).toBe(applied.metadata.name);
    // istioctl's object as the API server would store it (its defaults filled in): a server-side dry run under another name
    const asStored = JSON.parse(kubectl(["create", "--dry-run=server", "-o", "json", "-f", "-"], { input: JSON.stringify({ ...injectorFromIstioctl, metadata: { ...injectorFromIstioctl.metadata, name: "istioctl-default-tag-dry-run" } }) })) as KubeObject;
    expect(hooks(applied).length).toBe(4);
    expect(hooks(applied)).toEqual(hooks(asStored));
    expect(applied.metadata.labels).toMatchObject({ "istio.io/rev": REV, "istio.io/tag": "default" });
    const fromIstioctl = generated.find((o) => o?.kind === "ValidatingWebhookConfiguration" && o.metadata.name === "istiod-default-validator")!;
    const rendered = revisionObjects(REV).find((o) => o.kind === "ValidatingWebhookConfiguration" && o.metadata.name === `istio-validator-${REV}-istio-system`)!;
    const v = defaultValidator(REV, [rendered], ["1-31", REV]);
    expect(v.metadata.name).toBe(fromIstioctl.metadata.name);
    expect(v.metadata.labels).toEqual({ ...fromIstioctl.metadata.labels, "app.kubernetes.io/managed-by": "observability-stack" });
    // what the stack applies on a cluster: failurePolicy is istiod's (the initial Ignore goes through its own patch)
    const [ours] = withoutFailurePolicy(v).webhooks as any[];
    // istioctl copies the caBundle istiod wrote into the live injector: istiod's field, which the stack never renders
    const [{ clientConfig: { caBundle, ...clientConfig }, ...theirs }] = fromIstioctl.webhooks as any[];
    expect(caBundle).toBeTruthy();
    expect({ ...ours, objectSelector: undefined }).toEqual({ ...theirs, clientConfig, objectSelector: undefined });
    expect(theirs.objectSelector).toEqual({ matchExpressions: [{ key: "istio.io/rev", operator: "DoesNotExist" }] });
    // NotIn also matches objects without the label: unlabelled config, and config labelled with a tag
    expect(ours.objectSelector).toEqual({ matchExpressions: [{ key: "istio.io/rev", operator: "NotIn", values: ["1-30", "1-31"] }] });
  });

  it("no drift once istiod has patched its fields (caBundle, fail-closed validator): a second preview plans no change and refresh finds none", async () => {
    const validator = getJson(["get", "validatingwebhookconfiguration", `istio-validator-${REV}-istio-system`]);
    expect(validator.webhooks.map((w: { failurePolicy: string }) => w.failurePolicy)).toEqual(validator.webhooks.map(() => "Fail"));
    const preview = await timed("preview after istiod", () => stack.preview());
    expect(Object.entries(preview.changeSummary).filter(([op, n]) => op !== "same" && n > 0)).toEqual([]);
    const refresh = await timed("refresh after istiod", () => stack.refresh());
    expect(Object.entries(refresh.summary.resourceChanges ?? {}).filter(([op, n]) => op !== "same" && (n ?? 0) > 0)).toEqual([]);
    // and the validator is still istiod's: fail-closed, with its caBundle
    const after = getJson(["get", "validatingwebhookconfiguration", `istio-validator-${REV}-istio-system`]);
    for (const w of after.webhooks) expect([w.failurePolicy, !!w.clientConfig.caBundle]).toEqual(["Fail", true]);
  });

  it("injects pods at admission: a workload in the stack's injected namespace, and the stack's ingress gateway", () => {
    kubectl(["create", "deployment", "web", "-n", "demo", "--image=nginx:1.27", "--replicas=2"]);
    kubectl(["rollout", "status", "deployment/web", "-n", "demo", "--timeout=120s"]);
    const pods = getJson(["get", "pods", "-n", "demo", "-l", "app=web"]).items;
    expect(pods.length).toBe(2);
    for (const p of pods) {
      const proxy = p.spec.containers.find((c: { name: string }) => c.name === "istio-proxy");
      expect(proxy, p.metadata.name).toBeDefined();
      expect(proxy.image).toBe(`${pins.istioctl.hub}/proxyv2:${IMAGE_TAG}`);
      const proxyConfig = JSON.parse(proxy.env.find((e: { name: string }) => e.name === "PROXY_CONFIG").value);
      expect(proxyConfig.discoveryAddress).toBe(`istiod-${REV}.istio-system.svc:15012`);
      expect(p.metadata.annotations["istio.io/rev"]).toBe(REV);
      expect(JSON.parse(p.metadata.annotations["sidecar.istio.io/status"]).revision).toBe(REV);
    }
    const gw = getJson(["get", "pods", "-n", "istio-system", "-l", "app=istio-ingressgateway"]).items[0];
    expect(gw.spec.containers.map((c: { name: string; image: string }) => `${c.name} ${c.image}`)).toEqual([`istio-proxy ${pins.istioctl.hub}/proxyv2:${IMAGE_TAG}`]);
    // an injection istiod refuses fails the create (failurePolicy Fail): counted as a failure
    const bad = spawnSync(toolPath("kubectl"), ["--kubeconfig", path.join(localClusterDir(), "kubeconfig"), "run", "bad-template", "-n", "demo", "--image=nginx:1.27", "--annotations=inject.istio.io/templates=no-such-template"], { encoding: "utf8" });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/admission webhook "[a-z.-]*sidecar-injector\.istio\.io" denied the request: .*requested template "no-such-template" not found/);
  });

  it("validates Istio config labelled with the revision: an invalid VirtualService is rejected, a valid one accepted", () => {
    const vs = (name: string, weight: number) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${name}, namespace: demo, labels: { istio.io/rev: "${REV}" } }
spec:
  hosts: [web]
  http: [{ route: [{ destination: { host: web }, weight: ${weight} }] }]
`;
    const bad = spawnSync(toolPath("kubectl"), ["--kubeconfig", path.join(localClusterDir(), "kubeconfig"), "apply", "-f", "-"], { input: vs("invalid", -5), encoding: "utf8" });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('admission webhook "rev.validation.istio.io" denied the request: configuration is invalid: weight -5 < 0');
    kubectl(["apply", "-f", "-"], { input: vs("valid", 100) });
    expect(getJson(["get", "virtualservice", "valid", "-n", "demo"]).metadata.name).toBe("valid");
    kubectl(["delete", "virtualservice", "valid", "-n", "demo"]);
  });

  it("istioctl's runbook checks work with the pinned istioctl: tag list, x precheck, version (a port-forward into the istiod pod), x version over istiod's 127.0.0.1 xDS", () => {
    const tags = istioctl("tag", "list");
    expect(tags.status, tags.stderr).toBe(0);
    expect(tags.stdout).toMatch(new RegExp(`^stable\\s+${REV}\\s+demo\\s*$`, "m"));
    // the default tag the stack sets: istioctl's commands below talk to its revision without --revision
    expect(tags.stdout).toMatch(new RegExp(`^default\\s+${REV}\\s`, "m"));
    const precheck = istioctl("x", "precheck");
    expect(precheck.status, precheck.stderr).toBe(0);
    expect(precheck.stdout + precheck.stderr).toContain("No issues found when checking the cluster");
    // the API server port-forwards into the pod through kwok's kubelet API, to istiod's 127.0.0.1 monitoring port
    const plain = istioctl("version");
    expect(plain.status, plain.stderr).toBe(0);
    expect(plain.stdout).toContain(`control plane version: ${IMAGE_TAG}`);
    const asJson = istioctl("version", "-o", "json");
    expect(asJson.status, asJson.stderr).toBe(0);
    const mesh = JSON.parse(asJson.stdout).meshVersion as { Component: string; Revision: string; Info: { version: string } }[];
    expect(mesh).toEqual([expect.objectContaining({ Component: "istiod", Revision: REV, Info: expect.objectContaining({ version: IMAGE_TAG }) })]);
    const xds = istioctl("x", "version", "--xds-address", `127.0.0.1:${istiod.ports!.secureGrpc}`, "--authority", `istiod-${REV}.istio-system.svc`);
    expect(xds.status, xds.stderr).toBe(0);
    expect(xds.stdout).toContain(`control plane version: ${IMAGE_TAG}`);
  });

  it("/metrics on the 127.0.0.1 monitoring port lists the istiod metrics the stack uses (those only a proxy produces: in the pinned source)", async () => {
    const text = await (await fetch(`http://127.0.0.1:${istiod.ports!.monitoring}/metrics`)).text();
    const families = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    expect(families.size).toBeGreaterThan(20);
    const source = path.join(execFileSync("go", ["env", "GOMODCACHE"], { encoding: "utf8" }).trim() || path.join(os.homedir(), "go", "pkg", "mod"), `istio.io/istio@${pins.istioctl.versions[VERSION]!.moduleVersion}`);
    expect(existsSync(source), source).toBe(true);
    for (const name of Object.values(ISTIOD)) {
      if (NEEDS_ENVOY[name]) {
        const defined = spawnSync("grep", ["-rlF", "--include=*.go", "--exclude=*_test.go", `"${name}"`, path.join(source, "pilot"), path.join(source, "pkg")], { encoding: "utf8" }).stdout.trim();
        expect(defined, `${name} (${NEEDS_ENVOY[name]}) is not defined in ${source}`).not.toBe("");
      } else expect(families.has(name), `${name} is not in istiod's /metrics`).toBe(true);
    }
    expect(text).toMatch(/^sidecar_injection_failure_total [1-9]/m);
    expect(text).toMatch(/^galley_validation_failed\{[^}]*\} [1-9]/m);
  });

  it("nothing the harness runs connects outside 127.0.0.0/8 (ss, per pid)", () => {
    const pids = harnessPids();
    expect(pids.size).toBe(7);
    expect(outsideConnections(pids)).toEqual([]);
    // the proxy did refuse something: the ingress gateway's and the kubelet's addresses are never dialled
    expect(readFileSync(path.join(localClusterDir(), "logs", "istiod-supervisor.log"), "utf8")).toMatch(/egress: CONNECT 10\.0\.\d+\.\d+:443 -> 127\.0\.0\.1:\d+/);
  });

  it("restarts a crashed istiod on the same ports", async () => {
    const before = readIstiods()!.revisions[REV]!;
    process.kill(before.pid!, "SIGKILL");
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && readIstiods()!.revisions[REV]!.pid === before.pid) await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    const after = await waitForIstiod(REV, 120);
    timings["restart after SIGKILL -> ready"] = (Date.now() - t0) / 1000;
    expect(after.pid).not.toBe(before.pid);
    expect(after.ports).toEqual(before.ports);
    expect(after.restarts).toBe(before.restarts + 1);
    expect(isIstiodPid(after.pid!)).toBe(true);
  });

  it("destroy removes the revision and its istiod stops", async () => {
    kubectl(["delete", "deployment", "web", "-n", "demo", "--wait=true"]);
    const pid = readIstiods()!.revisions[REV]!.pid!;
    const res = await timed("destroy", () => stack.destroy());
    expect(res.summary.result).toBe("succeeded");
    await waitForIstiodGone(REV, 60);
    expect(isIstiodPid(pid)).toBe(false);
    expect(status().istiods).toEqual([]);
    await stack.workspace.removeStack("local");
  });
});
