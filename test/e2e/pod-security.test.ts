// Pod Security admission on the local cluster (the API server's PodSecurity plugin, on by
// default): the local stack's namespaces carry their labels, `up` succeeds with every pod
// admitted under `restricted`, and a pod spec that breaks `restricted` is refused by the API
// server, through `pulumi up` as well as kubectl.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as k8s from "@pulumi/kubernetes";
import type { Stack } from "@pulumi/pulumi/automation/index.js";
import { getJson, inlineStack, kubeconfigPath, kubectl, projectStack, stackWorkDir, stopwatch } from "./helpers.js";
import { readFileSync } from "node:fs";
import { parsePrometheusConfig } from "../../components/prometheus/config.js";
import { statefulSetSpec } from "../../components/prometheus/workload.js";

const { timings, timed } = stopwatch();
const NS = "observability";
const LEVEL = "pod-security.kubernetes.io/enforce";

type Pod = { metadata: { name: string; ownerReferences?: { kind: string; name: string }[] }; spec: Record<string, any> };
const pods = (ns: string): Pod[] => getJson(["get", "pods", "-n", ns]).items;
/** Events of pods the API server refused (a controller's FailedCreate names the PodSecurity violation). */
const refusals = (ns: string): string[] => (getJson(["get", "events", "-n", ns]).items as { reason: string; message: string }[]).filter((e) => /violates PodSecurity/.test(e.message)).map((e) => `${e.reason}: ${e.message}`);

describe("local stack under Pod Security admission", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await projectStack("local", stackWorkDir("local"));
  });
  afterAll(async () => {
    console.log(`[e2e timings, s] ${JSON.stringify(timings)}`);
    if (stack) await timed("destroy", () => stack.destroy());
  });

  it("up succeeds with the stack's namespaces labelled: restricted, the node agents privileged", async () => {
    const res = await timed("up", () => stack.up());
    expect(res.summary.result).toBe("succeeded");
    for (const ns of [NS, "istio-system"]) {
      const labels = getJson(["get", "namespace", ns]).metadata.labels;
      expect(labels, ns).toMatchObject({ [LEVEL]: "restricted", "pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/audit": "restricted" });
    }
    expect(getJson(["get", "namespace", `${NS}-logging`]).metadata.labels[LEVEL]).toBe("privileged");
  });

  it("every pod of the restricted namespaces was admitted: each workload has its pods, none was refused", () => {
    for (const ns of [NS, "istio-system"]) {
      expect(refusals(ns), ns).toEqual([]);
      const workloads = [
        ...getJson(["get", "deployments", "-n", ns]).items.map((d: any) => ({ name: d.metadata.name, want: d.spec.replicas, have: d.status.readyReplicas ?? 0 })),
        ...getJson(["get", "statefulsets", "-n", ns]).items.map((d: any) => ({ name: d.metadata.name, want: d.spec.replicas, have: d.status.readyReplicas ?? 0 })),
      ];
      expect(workloads.length, ns).toBeGreaterThan(0);
      for (const w of workloads) expect(w.have, `${ns}/${w.name}`).toBe(w.want);
    }
    // the admission the pods went through enforces restricted: a server-side dry run of each pod as it is passes
    for (const p of pods(NS)) {
      const copy = { apiVersion: "v1", kind: "Pod", metadata: { name: `${p.metadata.name.slice(0, 40)}-psa`, namespace: NS }, spec: { ...p.spec, nodeName: undefined } };
      kubectl(["create", "--dry-run=server", "-f", "-"], { input: JSON.stringify(copy) });
    }
  });

  it("Prometheus with its mTLS certificate sidecar, injected by the live istiod, passes restricted (no istio-init)", () => {
    const { config } = parsePrometheusConfig({});
    // the StatefulSet's pod as a bare Pod: its claim template's volume becomes an emptyDir
    const template = statefulSetSpec({ config: config!, selector: { app: "p" }, labels: { app: "psa-prometheus" }, serviceName: "prometheus", serviceAccountName: "default", configMapName: "prometheus-config", configHash: "x", mtls: true, istioRevision: "stable", retainOnDelete: false }).template as any;
    const pod = (annotations: Record<string, string>) => JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name: "psa-prometheus", namespace: NS, labels: template.metadata.labels, annotations }, spec: { ...template.spec, volumes: [...template.spec.volumes, { name: "data", emptyDir: {} }] } });
    const admitted = JSON.parse(kubectl(["create", "--dry-run=server", "-o", "json", "-f", "-"], { input: pod(template.metadata.annotations) }));
    const names = [...(admitted.spec.initContainers ?? []), ...admitted.spec.containers].map((c: { name: string }) => c.name);
    // the injector ran (the webhook of tag `stable`), and added no iptables init container
    expect(names).toContain("istio-proxy");
    expect(names).not.toContain("istio-init");
    // without interceptionMode NONE the injector adds istio-init (root, NET_ADMIN), which restricted refuses
    const { ["sidecar.istio.io/interceptionMode"]: _, ...capturing } = template.metadata.annotations;
    expect(() => kubectl(["create", "--dry-run=server", "-f", "-"], { input: pod(capturing) })).toThrow(/violates PodSecurity "restricted:latest".*istio-init/s);
  });

  it("a pod spec that breaks restricted is refused (kubectl and pulumi up alike)", async () => {
    const grafana = getJson(["get", "deployment", "grafana", "-n", NS]).spec.template;
    const broken = structuredClone(grafana.spec);
    broken.containers[0].securityContext = { ...broken.containers[0].securityContext, allowPrivilegeEscalation: true, runAsNonRoot: false, runAsUser: 0 };
    const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "grafana-root", namespace: NS, labels: { app: "psa-test" } }, spec: broken };
    expect(() => kubectl(["create", "--dry-run=server", "-f", "-"], { input: JSON.stringify(pod) })).toThrow(/violates PodSecurity "restricted:latest"/);

    // the same change through the engine and provider: the API server refuses it, the up fails, nothing is left
    const kubeconfig = readFileSync(kubeconfigPath, "utf8");
    const bad = await inlineStack("psa", "psa", async () => {
      const provider = new k8s.Provider("k", { kubeconfig });
      new k8s.core.v1.Pod("grafana-root", { metadata: { name: "grafana-root", namespace: NS }, spec: broken }, { provider });
    });
    await expect(timed("refused up", () => bad.up())).rejects.toThrow(/violates PodSecurity "restricted:latest".*(allowPrivilegeEscalation|runAsNonRoot|runAsUser)/s);
    expect(pods(NS).map((p) => p.metadata.name)).not.toContain("grafana-root");
    await bad.destroy();
  });
});
