// Composition root: config parsed once, one Kubernetes provider, the components wired together.
import { readFileSync } from "node:fs";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig } from "./config/load.js";
import { ConfigError, type StackConfig } from "./config/index.js";
import { IstioControlPlane } from "./components/istio/index.js";
import { ACCESS_ALIAS, Logging, LOGS_ALIAS } from "./components/logging/index.js";
import { Prometheus, PrometheusMonitors } from "./components/prometheus/index.js";
import { Alertmanager } from "./components/prometheus/alerting/index.js";
import { INGESTER_GROUP, NAMES as JAEGER_NAMES, SPANS_TOPIC, Jaeger, zipkinHost as collectorZipkinHost } from "./components/jaeger/index.js";
import { migrationTarget, namespaceRevisions, type ObservedMesh, removalProblems } from "./components/istio/guard.js";
import { IstioMigration, planMigration } from "./components/istio/migration.js";
import { ISTIO_NAMESPACE, MANAGED_BY_LABELS, podSecurityLabels } from "./components/k8s/labels.js";
import { Grafana } from "./components/grafana/index.js";
import { loadDashboards, type StackDashboards } from "./components/grafana/load.js";
import { Kiali } from "./components/kiali/index.js";
import { grafanaDashboardLink } from "./components/kiali/settings.js";
import { formatIssues, type Issue } from "./lib/schema.js";
import { projectDir } from "./lib/tools.js";
import { targetOf } from "./config/target.js";
import { observeMesh } from "./components/istio/observe.js";
import type { Target } from "./lib/kube.js";
import { skipSettleOnlyServiceAwaits } from "./components/k8s/awaits.js";
import { fixedFieldManager, registerObjects } from "./components/k8s/objects.js";
import { networkPolicies } from "./components/k8s/netpol.js";
import { agentNamespace, networkPolicyInput } from "./config/network.js";

function provider(cfg: StackConfig, target: Target | undefined): k8s.Provider {
  // kubeconfig "": the SDK would otherwise take $KUBECONFIG, which the provider refuses beside renderYamlToDirectory
  if (!target) return new k8s.Provider("k8s", { renderYamlToDirectory: cfg.kubernetes.renderDir, kubeconfig: "" });
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
  for (const d of cfg.deprecations) pulumi.log.warn(d);
  // Dashboards are checked against the provisioned datasources before anything is registered.
  let dashboards: StackDashboards | undefined;
  if (cfg.grafana.enabled) {
    const issues: Issue[] = [];
    const jaeger = { spansTopic: SPANS_TOPIC, ingesterGroup: INGESTER_GROUP, cassandra: JAEGER_NAMES.cassandra };
    dashboards = loadDashboards(cfg.grafana, { namespace: cfg.namespace, logging: cfg.logging.enabled, clusterDomain: cfg.clusterDomain, jaeger, externalHosts: cfg.istio.externalServices.flatMap((s) => s.hosts) }, projectDir, issues);
    if (issues.length) throw new pulumi.RunError(`invalid Grafana dashboards for stack '${cfg.stack}', nothing was changed:\n${formatIssues(issues)}`);
  }
  const target = targetOf(cfg);
  // the mesh as the cluster runs it: the guard rails and the workload migration are planned from it
  let observed: ObservedMesh | undefined;
  if (target) {
    observed = await observeMesh(target);
    const problems = removalProblems(cfg.istio, observed);
    if (problems.length) throw new pulumi.RunError(`unsafe canary step for stack '${cfg.stack}', nothing was changed:\n  - ${problems.join("\n  - ")}`);
  }
  // a Service's own await is a fixed 10 s settle; its pods' readiness is awaited by their workload
  pulumi.runtime.registerStackTransformation(skipSettleOnlyServiceAwaits);
  // one server-side-apply field manager: a later run takes over what an interrupted run created
  if (target) pulumi.runtime.registerStackTransformation(fixedFieldManager);
  const k8sProvider = provider(cfg, target);
  const zipkinHost = collectorZipkinHost(cfg.namespace, cfg.clusterDomain);

  const istio = new IstioControlPlane("istio", { istio: cfg.istio, zipkinHost, observabilityNamespace: cfg.namespace, clusterDomain: cfg.clusterDomain, retainOnDelete: cfg.retainOnDelete, liveCluster: target !== undefined, ...(observed ? { liveNamespaces: { legacy: observed.legacyNamespaces ?? {}, adopted: observed.adoptedNamespaces ?? {} } } : {}) }, { providers: { kubernetes: k8sProvider } });
  // the second half of a canary step: workloads whose pods run another revision than their namespace's restart
  if (observed) new IstioMigration("istio-migration", { istio: cfg.istio, plan: planMigration(migrationTarget(cfg.istio, observed), observed, cfg.istio.migration.batchSize), after: [istio] }, { providers: { kubernetes: k8sProvider } });

  const observability = new k8s.core.v1.Namespace("observability", { metadata: { name: cfg.namespace, labels: { ...MANAGED_BY_LABELS, ...podSecurityLabels("restricted") } } }, { provider: k8sProvider, retainOnDelete: cfg.retainOnDelete });

  const outputs: Record<string, unknown> = {};
  const providers = { providers: { kubernetes: k8sProvider } };
  let prometheus: Prometheus | undefined;
  // Before Prometheus: its `alerting:` section discovers these pods (the config refuses alerting without Prometheus).
  const alertmanager = cfg.alerting.enabled ? new Alertmanager("alertmanager", { namespace: cfg.namespace, clusterDomain: cfg.clusterDomain, config: cfg.alerting, secrets: pulumi.secret({ ...cfg.secrets.alerting }), dependsOn: [observability] }, providers) : undefined;
  if (alertmanager) outputs.alertmanagerUrl = alertmanager.url;
  if (cfg.prometheus.enabled && cfg.prometheus.mode === "server") {
    prometheus = new Prometheus(
      "prometheus",
      { namespace: observability.metadata.name, clusterDomain: cfg.clusterDomain, config: cfg.prometheus, clusterName: cfg.clusterName, environment: cfg.environment, retainOnDelete: cfg.retainOnDelete, meshMtls: cfg.istio.mtls, remoteWriteSecrets: Object.fromEntries(Object.entries(cfg.secrets.prometheus?.remoteWrite ?? {}).map(([f, v]) => [f, pulumi.secret(v)])), istioRevision: defaultInjectionTarget(cfg), ...(alertmanager ? { alertmanagers: alertmanager.target } : {}), runbookUrl: cfg.alerting.runbookUrl },
      providers,
    );
    outputs.prometheusUrl = prometheus.url;
  }
  // Operator mode: the same jobs and rules as monitors for an existing Prometheus Operator; Grafana and Kiali query its Prometheus.
  if (cfg.prometheus.enabled && cfg.prometheus.mode === "operator") {
    new PrometheusMonitors("prometheus", { namespace: cfg.namespace, config: cfg.prometheus, meshMtls: cfg.istio.mtls, runbookUrl: cfg.alerting.runbookUrl }, { ...providers, dependsOn: [observability] });
    if (cfg.prometheus.operator.queryUrl) outputs.prometheusUrl = cfg.prometheus.operator.queryUrl;
  }
  const prometheusUrl: pulumi.Input<string> | undefined = prometheus?.url ?? (cfg.prometheus.enabled && cfg.prometheus.operator.queryUrl ? cfg.prometheus.operator.queryUrl : undefined);
  // "tracing": the children's names (`tracing-kafka`, ...) and the objects behind them stay as they are.
  // quorum members (Elasticsearch, Kafka, Cassandra) on distinct nodes as a hard rule where an outage costs most
  const requireSpread = cfg.environment === "staging" || cfg.environment === "prod";
  const tracing = new Jaeger("tracing", { namespace: observability.metadata.name, clusterDomain: cfg.clusterDomain, config: cfg.jaeger, secrets: cfg.secrets.jaeger!, retainOnDelete: cfg.retainOnDelete, requireSpread }, providers);
  outputs.jaegerQueryUrl = tracing.queryUrl;
  let logging: Logging | undefined;
  if (cfg.logging.enabled) {
    const secrets = cfg.secrets.logging!;
    logging = new Logging(
      "logging",
      { namespace: observability.metadata.name, agentNamespace: agentNamespace(cfg), requireSpread, clusterDomain: cfg.clusterDomain, config: cfg.logging, elasticPassword: pulumi.secret(secrets.elasticPassword), kibanaPassword: pulumi.secret(secrets.kibanaPassword), retainOnDelete: cfg.retainOnDelete, clusterName: cfg.clusterName, meshDependsOn: [istio] },
      providers,
    );
    outputs.elasticsearchUrl = logging.elasticsearchUrl;
    outputs.kibanaUrl = logging.kibanaUrl;
  }
  // Grafana and Kiali need Prometheus (the config refuses them without it).
  let grafana: Grafana | undefined;
  if (dashboards && prometheusUrl) {
    grafana = new Grafana(
      "grafana",
      {
        namespace: observability.metadata.name,
        clusterDomain: cfg.clusterDomain,
        config: cfg.grafana,
        adminPassword: pulumi.secret(cfg.secrets.grafana!.adminPassword),
        prometheusUrl,
        scrapeInterval: cfg.prometheus.scrapeInterval,
        jaegerUrl: tracing.queryUrl,
        ...(logging ? { elasticsearch: { url: logging.elasticsearchUrl, user: logging.readerUser, passwordSecret: logging.readerCredentialsSecret, passwordHash: logging.readerPasswordHash, passwordKey: logging.readerPasswordKey, caSecret: logging.caSecret, caKey: logging.caKey, accessIndex: ACCESS_ALIAS, logsIndex: LOGS_ALIAS } } : {}),
        dashboards: dashboards.dashboards,
        extraDashboards: dashboards.extra,
        retainOnDelete: cfg.retainOnDelete,
        meshDependsOn: [istio],
      },
      providers,
    );
    outputs.grafanaUrl = grafana.url;
  }
  if (cfg.kiali.enabled && prometheusUrl) {
    const secrets = cfg.secrets.kiali ?? {};
    const kiali = new Kiali(
      "kiali",
      {
        namespace: observability.metadata.name,
        clusterDomain: cfg.clusterDomain,
        config: cfg.kiali,
        prometheusUrl,
        tracingUrl: tracing.queryUrl,
        ...(grafana ? { grafanaUrl: grafana.url, ...(cfg.grafana.expose ? { grafanaExternalUrl: grafana.publicUrl } : {}), grafanaDashboards: grafana.dashboards.map((d) => grafanaDashboardLink(d.title, d.variables)) } : {}),
        istioNamespace: ISTIO_NAMESPACE,
        ...(secrets.signingKey ? { signingKey: pulumi.secret(secrets.signingKey) } : {}),
        ...(secrets.oidcClientSecret ? { oidcClientSecret: pulumi.secret(secrets.oidcClientSecret) } : {}),
        meshDependsOn: [istio],
      },
      providers,
    );
    outputs.kialiUrl = kiali.url;
  }

  // default deny in the stack's namespaces, and exactly the flows of the README's table (mesh/flows.ts)
  if (cfg.networkPolicy.enabled) registerObjects("netpol", networkPolicies(networkPolicyInput(cfg)), { provider: k8sProvider, dependsOn: [observability, istio, ...(logging ? [logging] : [])] });

  return {
    ...outputs,
    environment: cfg.environment,
    istioNamespace: istio.namespace,
    revisions: istio.revisions,
    tags: istio.tags,
    // a change here is a canary step: the IstioMigration resources restart the workloads of every moved namespace
    namespaceRevisions: namespaceRevisions(cfg.istio),
  };
}
