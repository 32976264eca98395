// The toolchain and the embedded cluster: real engine, real provider, a Deployment made Available by kwok.
import * as k8s from "@pulumi/kubernetes";
import { describe, expect, it } from "vitest";
import { getJson, inlineStack, kubeconfigPath, kubectl } from "./helpers.js";
import { readFileSync } from "node:fs";
import { status } from "../../scripts/lib/cluster.js";

describe("embedded local cluster", () => {
  it("is healthy with kwok nodes Ready", () => {
    const s = status();
    expect(s.healthy).toBe(true);
    const nodes = getJson(["get", "nodes"]).items;
    expect(nodes.length).toBeGreaterThanOrEqual(3);
    for (const n of nodes) expect(n.status.conditions.find((c: { type: string }) => c.type === "Ready").status).toBe("True");
    expect(kubectl(["version", "-o", "json"])).toContain('"gitVersion": "v1.34.4"');
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
});
