// Composition root: config parsed once, one Kubernetes provider, the components wired together.
import { readFileSync } from "node:fs";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig } from "./config/load.js";
import { ConfigError, type StackConfig } from "./config/index.js";
import { IstioControlPlane } from "./components/istio/index.js";
import { Logging } from "./components/logging/index.js";
import { Prometheus } from "./components/prometheus/index.js";
import { Tracing, zipkinHost as collectorZipkinHost } from "./components/tracing/index.js";
import { namespaceRevisions, removalProblems } from "./components/istio/guard.js";
import { targetOf } from "./config/target.js";
import { observeMesh, type Target } from "./scripts/lib/observe.js";

function provider(cfg: StackConfig, target: Target | undefined): k8s.Provider {
  if (!target) return new k8s.Provider("k8s", { renderYamlToDirectory: cfg.kubernetes.renderDir });
  // file contents, not a path: the state then holds no machine-local path (and it is a secret)
  const kubeconfig = target.kubeconfig ? pulumi.secret(readFileSync(target.kubeconfig, "utf8")) : undefined;
  return new k8s.Provider("k8s", { context: target.context, ...(kubeconfig ? { kubeconfig } : {}) });
}

/** The tag (or revision) whose injector gives Prometheus its workload certificate under mTLS scraping. */
function defaultInjectionTarget(cfg: StackConfig): string | undefined {
  return Object.keys(cfg.istio.tags)[0] ?? cfg.istio.revisions[0]?.name;
}

export default async function main(): Promise<Record<string, unknown>> {
  let cfg: StackConfig;
  try {
    cfg = loadStackConfig();
  } catch (e) {
    // RunError: the message alone, no stack trace
    throw e instanceof ConfigError ? new pulumi.RunError(e.message) : e;
  }
  const target = targetOf(cfg);
  if (target) {
    const problems = removalProblems(cfg.istio, observeMesh(target));
    if (problems.length) throw new pulumi.RunError(`unsafe canary step for stack '${cfg.stack}', nothing was changed:\n  - ${problems.join("\n  - ")}`);
  }
  const k8sProvider = provider(cfg, target);
  const zipkinHost = collectorZipkinHost(cfg.tracing.namespace);

  const istio = new IstioControlPlane("istio", { istio: cfg.istio, zipkinHost, samplingPercent: cfg.tracing.samplingPercent, retainOnDelete: cfg.retainOnDelete }, { providers: { kubernetes: k8sProvider } });

  const observability = new k8s.core.v1.Namespace("observability", { metadata: { name: cfg.tracing.namespace, labels: { "app.kubernetes.io/managed-by": "observability-stack" } } }, { provider: k8sProvider, retainOnDelete: cfg.retainOnDelete });

  const outputs: Record<string, unknown> = {};
  const providers = { providers: { kubernetes: k8sProvider } };
  if (cfg.prometheus.enabled) {
    const prometheus = new Prometheus(
      "prometheus",
      { namespace: observability.metadata.name, config: cfg.prometheus, clusterName: cfg.clusterName, environment: cfg.environment, retainOnDelete: cfg.retainOnDelete, meshMtls: cfg.istio.mtls, scrapeNamespaces: [...Object.keys(cfg.istio.namespaces), cfg.tracing.namespace], istioRevision: defaultInjectionTarget(cfg) },
      providers,
    );
    outputs.prometheusUrl = prometheus.url;
  }
  const tracing = new Tracing("tracing", { namespace: observability.metadata.name, config: cfg.jaeger, retainOnDelete: cfg.retainOnDelete }, providers);
  outputs.jaegerQueryUrl = tracing.queryUrl;
  if (cfg.logging.enabled) {
    const secrets = cfg.secrets.logging!;
    const logging = new Logging(
      "logging",
      { namespace: observability.metadata.name, config: cfg.logging, elasticPassword: pulumi.secret(secrets.elasticPassword), kibanaPassword: pulumi.secret(secrets.kibanaPassword), retainOnDelete: cfg.retainOnDelete, clusterName: cfg.clusterName, meshDependsOn: [istio] },
      { providers: { kubernetes: k8sProvider } },
    );
    outputs.elasticsearchUrl = logging.elasticsearchUrl;
    outputs.kibanaUrl = logging.kibanaUrl;
  }

  return {
    ...outputs,
    environment: cfg.environment,
    istioNamespace: istio.namespace,
    revisions: istio.revisions,
    tags: istio.tags,
    // a change here is a canary step: `npm run up` restarts the workloads of every moved namespace
    namespaceRevisions: namespaceRevisions(cfg.istio),
  };
}
