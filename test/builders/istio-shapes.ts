// Shapes from the real istioctl, generated when a test asks for them (never committed): the
// objects the stack renders for revisions 1-30 (Istio 1.30) and 1-31 (1.31) of the local stack's
// config, and what the pinned istioctl's `kube-inject` makes of a Deployment, a StatefulSet, a
// DaemonSet and a Deployment that opts out (sidecar.istio.io/inject: "false"), injected with the
// injector and mesh config each revision renders (its istio-sidecar-injector-<rev> and
// istio-<rev> ConfigMaps). Needs the pinned istioctl of both versions (npm run tools -- --only istioctl).
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { readStackConfig } from "../../config/target.js";
import { renderRevisions } from "../../components/istio/index.js";
import type { KubeObject } from "../../components/k8s/objects.js";
import { toolPath } from "../../lib/tools.js";
import { workloadsYaml } from "./workloads.js";

const APPS = workloadsYaml([
  { kind: "Deployment", name: "web", namespace: "shop", image: "nginx:1.27", replicas: 2 },
  { kind: "StatefulSet", name: "db", namespace: "shop", image: "postgres:17" },
  { kind: "DaemonSet", name: "agent", namespace: "shop", image: "busybox:1.37" },
  { kind: "Deployment", name: "batch", namespace: "shop", image: "busybox:1.37", podLabels: { "sidecar.istio.io/inject": "false" } },
]);

/** Revision name per pinned Istio version. */
const REVISIONS: Record<string, string> = { "1.30": "1-30", "1.31": "1-31" };

let rendered: ReturnType<typeof renderRevisions> | undefined;
/** What the stack renders for 1-30 and 1-31 with the local stack's config (istioctl manifest generate, through the render cache). */
export function localRevisions(): ReturnType<typeof renderRevisions> {
  const cfg = readStackConfig("local");
  const revisions = Object.entries(REVISIONS).map(([version, name]) => ({ name, version }));
  rendered ??= renderRevisions({ istio: { ...cfg.istio, revisions } as typeof cfg.istio, zipkinHost: "jaeger-collector.observability.svc.cluster.local" });
  return rendered;
}

/** The objects the stack renders for one revision ("1-30", "1-31"). */
export function revisionObjects(revision: string): KubeObject[] {
  const r = localRevisions().find((x) => x.revision === revision);
  if (!r) throw new Error(`no rendered revision ${revision} (have: ${localRevisions().map((x) => x.revision).join(", ")})`);
  return r.objects;
}

const injected = new Map<string, string>();
/** `istioctl kube-inject` of the sample workloads by the pinned istioctl of `version` ("1.30", "1.31"), as YAML. */
export function kubeInjected(version: string): string {
  const known = injected.get(version);
  if (known) return known;
  const revision = REVISIONS[version];
  if (!revision) throw new Error(`no revision for Istio ${version} (have: ${Object.keys(REVISIONS).join(", ")})`);
  const data = (name: string) => (revisionObjects(revision).find((o) => o.kind === "ConfigMap" && o.metadata.name === name) as { data?: Record<string, string> } | undefined)?.data;
  const injector = data(`istio-sidecar-injector-${revision}`);
  const mesh = data(`istio-${revision}`);
  if (!injector?.config || !injector.values || !mesh?.mesh) throw new Error(`revision ${revision} renders no injector or mesh ConfigMap`);
  const work = mkdtempSync(path.join(os.tmpdir(), "obs-kube-inject-"));
  try {
    const f = (n: string) => path.join(work, n);
    writeFileSync(f("apps.yaml"), APPS);
    writeFileSync(f("inject.yaml"), injector.config);
    writeFileSync(f("values.json"), injector.values);
    writeFileSync(f("mesh.yaml"), mesh.mesh);
    const out = execFileSync(toolPath("istioctl", version), ["kube-inject", "-f", f("apps.yaml"), "--injectConfigFile", f("inject.yaml"), "--valuesFile", f("values.json"), "--meshConfigFile", f("mesh.yaml"), "--revision", revision], { encoding: "utf8", env: { ...process.env, KUBECONFIG: "/dev/null" } });
    injected.set(version, out);
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
