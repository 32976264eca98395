// What the NetworkPolicies of a stack cover: the components its config deploys, the conditions
// that hold, the namespaces, and the flows (the table's, plus obs:networkPolicy.extraFlows).
import type { NetworkPolicyInput } from "../components/k8s/netpol.js";
import { allFlows, type ComponentName, type Condition, type Flow } from "../components/mesh/flows.js";
import { ISTIO_NAMESPACE } from "../components/k8s/labels.js";
import type { StackConfig } from "./index.js";

/** The components a stack's config deploys (their pods exist once `up` is done). */
export function presentComponents(cfg: StackConfig): Set<ComponentName> {
  const on = new Set<ComponentName>();
  const add = (when: boolean, ...names: ComponentName[]) => when && names.forEach((n) => on.add(n));
  const istio = cfg.istio.revisions.length > 0;
  add(istio, "istiod");
  add(istio && cfg.istio.gateways.ingress, "ingressgateway");
  add(istio && cfg.istio.gateways.egress, "egressgateway");
  const server = cfg.prometheus.enabled && cfg.prometheus.mode === "server";
  add(server, "prometheus");
  add(cfg.alerting.enabled, "alertmanager");
  add(cfg.grafana.enabled, "grafana");
  add(cfg.kiali.enabled, "kiali");
  add(true, "jaeger-collector", "jaeger-ingester", "jaeger-query", "kafka", "kafka-topic", "kafka-exporter", "cassandra", "cassandra-schema");
  add(cfg.logging.enabled, "elasticsearch", "es-certs", "es-bootstrap", "es-exporter", "es-cert-exporter", "kibana", "fluentd", "es-max-map-count");
  return on;
}

export function activeConditions(cfg: StackConfig): Set<Condition> {
  const on = new Set<Condition>();
  if (cfg.grafana.enabled && cfg.grafana.expose) on.add("grafana.expose");
  if (cfg.kiali.enabled && cfg.kiali.expose) on.add("kiali.expose");
  if (cfg.logging.enabled && cfg.logging.kibana.expose) on.add("kibana.expose");
  if (cfg.kiali.enabled && cfg.kiali.auth.strategy === "openid") on.add("kiali.openid");
  if (cfg.prometheus.enabled && cfg.prometheus.remoteWrite.length) on.add("prometheus.remoteWrite");
  if (cfg.alerting.enabled && cfg.alerting.replicas > 1) on.add("alerting.replicas > 1");
  return on;
}

/** The namespace of the node agents (Fluentd), beside the stack's own; it exists with logging only. */
export const agentNamespace = (cfg: StackConfig): string => `${cfg.namespace}-logging`;

export function networkPolicyInput(cfg: StackConfig): NetworkPolicyInput {
  let flows: Flow[] = allFlows(cfg.networkPolicy.extraFlows);
  // operator mode: the operator's Prometheus, in a namespace of its own, scrapes the metrics ports
  if (cfg.prometheus.enabled && cfg.prometheus.mode === "operator") flows = flows.map((f) => (f.from === "prometheus" ? { ...f, from: "mesh" } : f));
  return {
    namespaces: { stack: cfg.namespace, istio: ISTIO_NAMESPACE, ...(cfg.logging.enabled ? { agents: agentNamespace(cfg) } : {}) },
    present: presentComponents(cfg),
    active: activeConditions(cfg),
    flows,
  };
}
