// Writes test/unit/fixtures/injected/kube-inject-<version>.yaml: the real output of the pinned
// istioctl's `kube-inject` (1.30 and 1.31) for a Deployment, a StatefulSet, a DaemonSet and a
// Deployment that opts out (sidecar.istio.io/inject: "false"), injected with the injector and mesh
// config each revision renders for the local stack (its istio-sidecar-injector-<rev> and
// istio-<rev> ConfigMaps). The unit tests of the guard, `canary status` and the migration plan
// build their pods from these templates, so the annotations they read are the injector's own.
// Run: npx tsx test/builders/injected-pods.ts
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { readStackConfig } from "../../config/target.js";
import { renderRevisions } from "../../components/istio/index.js";
import { toolPath } from "../../lib/tools.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const outDir = path.join(root, "test", "unit", "fixtures", "injected");
const APPS = `apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: shop }
spec:
  replicas: 2
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec: { containers: [{ name: web, image: "nginx:1.27" }] }
---
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: db, namespace: shop }
spec:
  serviceName: db
  replicas: 1
  selector: { matchLabels: { app: db } }
  template:
    metadata: { labels: { app: db } }
    spec: { containers: [{ name: db, image: "postgres:17" }] }
---
apiVersion: apps/v1
kind: DaemonSet
metadata: { name: agent, namespace: shop }
spec:
  selector: { matchLabels: { app: agent } }
  template:
    metadata: { labels: { app: agent } }
    spec: { containers: [{ name: agent, image: "busybox:1.37" }] }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: batch, namespace: shop }
spec:
  replicas: 1
  selector: { matchLabels: { app: batch } }
  template:
    metadata: { labels: { app: batch, sidecar.istio.io/inject: "false" } }
    spec: { containers: [{ name: batch, image: "busybox:1.37" }] }
`;

const cfg = readStackConfig("local");
const revisions = [
  { name: "1-30", version: "1.30" },
  { name: "1-31", version: "1.31" },
];
const istio = { ...cfg.istio, revisions } as typeof cfg.istio;
const work = mkdtempSync(path.join(os.tmpdir(), "obs-kube-inject-"));
writeFileSync(path.join(work, "apps.yaml"), APPS);
mkdirSync(outDir, { recursive: true });
for (const r of renderRevisions({ istio, zipkinHost: "jaeger-collector.observability.svc.cluster.local" })) {
  const data = (name: string) => (r.objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === name) as { data?: Record<string, string> } | undefined)?.data;
  const injector = data(`istio-sidecar-injector-${r.revision}`);
  const mesh = data(`istio-${r.revision}`);
  if (!injector?.config || !injector.values || !mesh?.mesh) throw new Error(`revision ${r.revision} renders no injector or mesh ConfigMap`);
  const f = (n: string) => path.join(work, `${r.revision}-${n}`);
  writeFileSync(f("inject.yaml"), injector.config);
  writeFileSync(f("values.json"), injector.values);
  writeFileSync(f("mesh.yaml"), mesh.mesh);
  const istioctl = toolPath("istioctl", r.version);
  const version = execFileSync(istioctl, ["version", "--remote=false", "--short"], { encoding: "utf8" }).trim();
  const out = execFileSync(istioctl, ["kube-inject", "-f", path.join(work, "apps.yaml"), "--injectConfigFile", f("inject.yaml"), "--valuesFile", f("values.json"), "--meshConfigFile", f("mesh.yaml"), "--revision", r.revision], { encoding: "utf8", env: { ...process.env, KUBECONFIG: "/dev/null" } });
  const file = path.join(outDir, `kube-inject-${r.version}.yaml`);
  writeFileSync(file, `# istioctl ${version.replace(/^client version: /, "")} kube-inject --revision ${r.revision} (written by test/builders/injected-pods.ts; do not edit)\n${out}`);
  console.log(`${path.relative(root, file)}: istioctl ${version}`);
}
