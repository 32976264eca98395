// Composition root: config parsed once, one Kubernetes provider, the components wired together.
import { readFileSync } from "node:fs";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig } from "./config/load.js";
import type { StackConfig } from "./config/index.js";
import { IstioControlPlane } from "./components/istio/index.js";
import { LOCAL_CONTEXT, localKubeconfig } from "./config/local.js";

function provider(cfg: StackConfig): k8s.Provider {
  const k = cfg.kubernetes;
  if (k.renderDir) return new k8s.Provider("k8s", { renderYamlToDirectory: k.renderDir });
  const kubeconfig = k.context === LOCAL_CONTEXT && !k.kubeconfig ? localKubeconfig() : k.kubeconfig || undefined;
  return new k8s.Provider("k8s", { context: k.context, ...(kubeconfig ? { kubeconfig: readKubeconfig(kubeconfig) } : {}) });
}

// The provider's kubeconfig input takes file contents; reading it here keeps paths machine-local.
function readKubeconfig(path: string): pulumi.Output<string> {
  return pulumi.secret(readFileSync(path.replace(/^~(?=\/)/, process.env.HOME ?? "~"), "utf8"));
}

export default async function main(): Promise<Record<string, unknown>> {
  const cfg = loadStackConfig();
  const k8sProvider = provider(cfg);
  const zipkinHost = `jaeger-collector.${cfg.tracing.namespace}.svc.cluster.local`;

  const istio = new IstioControlPlane("istio", { istio: cfg.istio, zipkinHost, samplingPercent: cfg.tracing.samplingPercent, retainOnDelete: cfg.retainOnDelete }, { providers: { kubernetes: k8sProvider } });

  return {
    environment: cfg.environment,
    istioNamespace: istio.namespace,
    revisions: istio.revisions,
    tags: istio.tags,
  };
}
