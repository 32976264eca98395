// The toolchain and the embedded cluster: real engine, real provider, a Deployment made Available by
// kwok; and, on a second cluster of its own, an istiod's life from `up` to `down`.
import * as k8s from "@pulumi/kubernetes";
import { spawn, spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { getJson, inlineStack, kubeconfigPath, kubectl } from "./helpers.js";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { hostAddress, status } from "../../scripts/lib/cluster.js";
import { isIstiodPid, readIstiods, waitForIstiod } from "../../scripts/lib/istiod.js";
import { localClusterDir, pins, toolPath } from "../../lib/tools.js";

/** `npm run cluster -- <cmd>` on another cluster folder, without blocking the test worker. */
function clusterCli(dir: string, ...args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.resolve("node_modules/tsx/dist/cli.mjs"), "scripts/cluster.ts", ...args], { env: { ...process.env, OBS_CLUSTER_DIR: dir } });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("close", (code) => resolve({ code: code ?? 1, out }));
  });
}

describe("embedded local cluster", () => {
  it("is healthy with kwok nodes Ready", () => {
    const s = status();
    expect(s.healthy).toBe(true);
    const nodes = getJson(["get", "nodes"]).items;
    expect(nodes.length).toBeGreaterThanOrEqual(3);
    for (const n of nodes) expect(n.status.conditions.find((c: { type: string }) => c.type === "Ready").status).toBe("True");
    expect(kubectl(["version", "-o", "json"])).toContain('"gitVersion": "v1.34.4"');
  });

  it("advertises an address of this machine (not its gateway) and keeps the API server on 127.0.0.1", () => {
    const endpoints = getJson(["get", "endpoints", "kubernetes", "-n", "default"]);
    const advertised = endpoints.subsets[0].addresses[0].ip;
    expect(advertised).toBe(hostAddress());
    expect(advertised).not.toBe("192.0.2.1");
    const own = spawnSync("ip", ["-4", "-o", "addr", "show"], { encoding: "utf8" }).stdout;
    expect(own).toContain(` ${advertised}/`);
    const apiPort = status().state!.ports.apiserver;
    const listen = spawnSync("ss", ["-tlnH", `sport = :${apiPort}`], { encoding: "utf8" }).stdout.trim().split("\n");
    expect(listen.map((l) => l.trim().split(/\s+/)[3])).toEqual([`127.0.0.1:${apiPort}`]);
  });

  it("every socket a component of the cluster listens on (kwok's kubelet API included) is on 127.0.0.1; istiod's own are checked in istiod.test.ts", () => {
    const pidOf = Object.fromEntries(status().components.map((c) => [c.name, c.pid]));
    const pids = new Set(Object.values(pidOf).filter((p): p is number => !!p));
    // ss -tulnp: one line per listening TCP socket and bound UDP socket, with the processes holding it
    const lines = spawnSync("ss", ["-tulnpH"], { encoding: "utf8" }).stdout.trim().split("\n");
    const ours = lines
      .map((l) => ({ local: l.trim().split(/\s+/)[4]!, pids: [...l.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])) }))
      .filter((x) => x.pids.some((p) => pids.has(p)));
    const holders = new Set(ours.flatMap((x) => x.pids));
    for (const c of ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"]) expect(holders.has(pidOf[c]!), c).toBe(true);
    expect(ours.filter((x) => !/^(127\.0\.0\.1|\[::ffff:127\.0\.0\.1\]):\d+$/.test(x.local))).toEqual([]);
  });

  it("binds a PersistentVolumeClaim and completes a Job", async () => {
    kubectl(["apply", "-f", "-"], {
      input: `apiVersion: v1
kind: PersistentVolumeClaim
metadata: { name: e2e-claim, namespace: default }
spec: { accessModes: [ReadWriteOnce], resources: { requests: { storage: 1Gi } } }
---
apiVersion: batch/v1
kind: Job
metadata: { name: e2e-job, namespace: default }
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{ name: c, image: busybox, command: ["true"] }]
`,
    });
    kubectl(["wait", "--for=jsonpath={.status.phase}=Bound", "pvc/e2e-claim", "-n", "default", "--timeout=60s"]);
    kubectl(["wait", "--for=condition=Complete", "job/e2e-job", "-n", "default", "--timeout=60s"]);
    kubectl(["delete", "job/e2e-job", "pvc/e2e-claim", "-n", "default", "--wait=true", "--timeout=60s"]);
  });

  it("runs a Pulumi program through the Automation API: a Deployment becomes Available, then is destroyed", async () => {
    const stack = await inlineStack("e2e-smoke", "smoke", async () => {
      const provider = new k8s.Provider("local", { kubeconfig: readFileSync(kubeconfigPath, "utf8") });
      const labels = { app: "smoke" };
      const dep = new k8s.apps.v1.Deployment("smoke", {
        metadata: { name: "smoke", namespace: "default" },
        spec: { replicas: 2, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: "app", image: "nginx:1.27" }] } } },
      }, { provider });
      return { name: dep.metadata.name };
    });
    const up = await stack.up();
    expect(up.summary.result).toBe("succeeded");
    const dep = getJson(["get", "deployment", "smoke", "-n", "default"]);
    expect(dep.status.availableReplicas).toBe(2);
    expect(dep.status.conditions.find((c: { type: string }) => c.type === "Available").status).toBe("True");
    const destroy = await stack.destroy();
    expect(destroy.summary.result).toBe("succeeded");
    expect(kubectl(["get", "deployment", "smoke", "-n", "default", "--ignore-not-found"]).trim()).toBe("");
    await stack.workspace.removeStack("smoke");
  });

  it("on a cluster of its own: istioctl's render applied starts an istiod; status lists it; a rollout restarts it; down stops it, also after the supervisor was killed, and keeps the data for the next up; delete removes it", async () => {
    const dir = `${localClusterDir()}-life`;
    const t0 = Date.now();
    const up = await clusterCli(dir, "up");
    expect(up.code, up.out).toBe(0);
    try {
      const kc = path.join(dir, "kubeconfig");
      const render = spawnSync(toolPath("istioctl", "1.30"), ["manifest", "generate", "--set", "profile=minimal", "--set", "revision=1-30"], { encoding: "utf8" });
      expect(render.status, render.stderr).toBe(0);
      const kctl = (args: string[], input?: string) => spawnSync(toolPath("kubectl"), ["--kubeconfig", kc, ...args], { encoding: "utf8", input });
      expect(kctl(["create", "namespace", "istio-system"]).status).toBe(0);
      const applied = kctl(["apply", "-f", "-"], render.stdout);
      expect(applied.status, applied.stderr).toBe(0);
      const tApplied = Date.now();
      const e = await waitForIstiod("1-30", 120, dir);
      console.log(`[e2e cluster] second cluster up ${((tApplied - t0) / 1000).toFixed(1)}s; istiod 1-30 ready ${((Date.now() - tApplied) / 1000).toFixed(1)}s after the render was applied (process start -> /ready ${e.readySeconds}s)`);
      expect(e.imageTag).toBe(pins.istioctl.versions["1.30"]!.imageTag);
      const st = await clusterCli(dir, "status");
      expect(st.code, st.out).toBe(0);
      expect(st.out).toMatch(new RegExp(`istiod 1-30 +1\\.30 ready \\(pid ${e.pid}, ready in [\\d.]+s\\); webhooks 127\\.0\\.0\\.1:${e.ports!.https}, xds 127\\.0\\.0\\.1:${e.ports!.secureGrpc}, monitoring 127\\.0\\.0\\.1:${e.ports!.monitoring}`));
      // a changed pod template (here a rollout restart) restarts the process, on the same ports
      expect(kctl(["rollout", "restart", "deployment/istiod-1-30", "-n", "istio-system"]).status).toBe(0);
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && readIstiods(dir)!.revisions["1-30"]!.pid === e.pid) await new Promise((r) => setTimeout(r, 250));
      const again = await waitForIstiod("1-30", 120, dir);
      expect(again.pid).not.toBe(e.pid);
      expect(isIstiodPid(e.pid!)).toBe(false);
      expect(again.ports).toEqual(e.ports);
      // a killed supervisor leaves its istiod running: down still stops it, by its recorded pid
      process.kill(readIstiods(dir)!.supervisorPid, "SIGKILL");
      await new Promise((r) => setTimeout(r, 500));
      expect(isIstiodPid(again.pid!)).toBe(true);
      const namespaceUid = () => kctl(["get", "namespace", "istio-system", "-o", "jsonpath={.metadata.uid}"]).stdout;
      const uidBefore = namespaceUid();
      expect(uidBefore).not.toBe("");
      const down = await clusterCli(dir, "down");
      expect(down.code, down.out).toBe(0);
      expect(down.out).toContain(`stopped istiod 1-30 (pid ${again.pid})`);
      expect(isIstiodPid(again.pid!)).toBe(false);
      // down keeps the data for the next up: the same cluster comes back, its istiod ready again
      expect(down.out).toContain(`data kept in ${dir}`);
      expect(existsSync(path.join(dir, "etcd"))).toBe(true);
      const t1 = Date.now();
      const back = await clusterCli(dir, "up");
      expect(back.code, back.out).toBe(0);
      const ready = /\[cluster\] istiod 1-30 ready on 127\.0\.0\.1:\d+ \((\d+) ms since up began\)/.exec(back.out);
      expect(ready, back.out).not.toBeNull();
      console.log(`[e2e cluster] up over the data down kept: every istiod ready ${(Number(ready![1]) / 1000).toFixed(1)}s after up began (command ${((Date.now() - t1) / 1000).toFixed(1)}s)`);
      expect(namespaceUid()).toBe(uidBefore);
      expect(readIstiods(dir)!.revisions["1-30"]!.ports).toEqual(again.ports);
      const removed = await clusterCli(dir, "delete");
      expect(removed.code, removed.out).toBe(0);
      expect(existsSync(dir)).toBe(false);
    } finally {
      if (existsSync(dir)) await clusterCli(dir, "delete");
    }
  });
});
