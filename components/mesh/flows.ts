// Every network flow the stack needs, in one table: the NetworkPolicies are generated from it
// (components/k8s/netpol.ts) and the README shows it (npm run docs:readme). Everything else into
// or out of the stack's pods is denied. The table names components by their pods'
// `app.kubernetes.io/name` (or Istio's own labels); ports are the containers' own.
import { bool, type Issue, list, num, obj, oneOf, str } from "../../lib/schema.js";

/** Where a component's pods run: the stack's namespace, its node agents' (privileged) one, or Istio's. */
export type Home = "stack" | "agents" | "istio";

export interface FlowComponent {
  readonly home: Home;
  /** Labels selecting its pods in its namespace. */
  readonly selector: Readonly<Record<string, string>>;
}

const app = (name: string, home: Home = "stack"): FlowComponent => ({ home, selector: { "app.kubernetes.io/name": name } });

/** The stack's pods by the name the table uses. */
export const FLOW_COMPONENTS = {
  istiod: { home: "istio", selector: { app: "istiod" } },
  ingressgateway: { home: "istio", selector: { istio: "ingressgateway" } },
  egressgateway: { home: "istio", selector: { istio: "egressgateway" } },
  prometheus: app("prometheus"),
  alertmanager: app("alertmanager"),
  grafana: app("grafana"),
  kiali: app("kiali"),
  "jaeger-collector": app("jaeger-collector"),
  "jaeger-ingester": app("jaeger-ingester"),
  "jaeger-query": app("jaeger-query"),
  kafka: app("kafka"),
  "kafka-topic": app("kafka-topic"),
  "kafka-exporter": app("kafka-exporter"),
  cassandra: app("cassandra"),
  "cassandra-schema": app("cassandra-schema"),
  elasticsearch: app("elasticsearch"),
  "es-certs": app("es-certs"),
  "es-bootstrap": app("es-bootstrap"),
  "es-exporter": app("es-exporter"),
  "es-cert-exporter": app("es-cert-exporter"),
  kibana: app("kibana"),
  fluentd: app("fluentd", "agents"),
  "es-max-map-count": app("es-max-map-count", "agents"),
} as const satisfies Record<string, FlowComponent>;

export type ComponentName = keyof typeof FLOW_COMPONENTS;
export const COMPONENT_NAMES = Object.keys(FLOW_COMPONENTS) as ComponentName[];

/**
 * Ends of a flow that are not the stack's pods: `mesh` any pod of any namespace (sidecars, apps);
 * `apiserver`, `kubelet` and `external` addresses outside the pod network (any address: the API
 * server's and the nodes' are not selectable by labels).
 */
export const PEERS = ["mesh", "apiserver", "kubelet", "external"] as const;
export type Peer = (typeof PEERS)[number];
export type Endpoint = ComponentName | Peer;

export interface Port {
  readonly port: number;
  readonly protocol?: "TCP" | "UDP";
}

/** What must be on for a flow: a UI published through the ingress gateway, an optional feature. */
export type Condition = "grafana.expose" | "kiali.expose" | "kibana.expose" | "kiali.openid" | "prometheus.remoteWrite" | "alerting.replicas > 1";

export interface Flow {
  readonly from: Endpoint;
  readonly to: Endpoint;
  /** Ports at `to`; none: every port (only towards `mesh`, whose ports are the apps'). */
  readonly ports: readonly Port[];
  readonly why: string;
  readonly when?: Condition;
}

const tcp = (...ports: number[]): Port[] => ports.map((port) => ({ port }));
/** The API server behind the `kubernetes` Service: 443, and 6443 where the policy sees the endpoint's port. */
const API = tcp(443, 6443);

export const FLOWS: readonly Flow[] = [
  // Istio
  { from: "mesh", to: "istiod", ports: tcp(15012), why: "sidecars: configuration (xDS) and workload certificates" },
  { from: "ingressgateway", to: "istiod", ports: tcp(15012), why: "gateway: configuration and certificates" },
  { from: "egressgateway", to: "istiod", ports: tcp(15012), why: "gateway: configuration and certificates" },
  { from: "prometheus", to: "istiod", ports: tcp(15012), why: "Prometheus's sidecar: its certificate for mTLS scraping" },
  { from: "apiserver", to: "istiod", ports: tcp(15017), why: "admission webhooks: sidecar injection, config validation" },
  { from: "istiod", to: "apiserver", ports: API, why: "watches services, pods and Istio config" },
  { from: "external", to: "ingressgateway", ports: tcp(8080, 8443, 15021), why: "users, through the load balancer (15021: its health check)" },
  { from: "ingressgateway", to: "mesh", ports: [], why: "routes to the apps' services" },
  { from: "mesh", to: "egressgateway", ports: tcp(8080, 8443), why: "sidecars routing external services through the egress gateway" },
  { from: "egressgateway", to: "external", ports: [], why: "the registered external services" },
  // the UIs: from outside only through the ingress gateway, and only when published (HTTPS, the UI's own login)
  { from: "ingressgateway", to: "grafana", ports: tcp(3000), why: "Grafana published (obs:grafana.expose)", when: "grafana.expose" },
  { from: "ingressgateway", to: "kiali", ports: tcp(20001), why: "Kiali published (obs:kiali.expose)", when: "kiali.expose" },
  { from: "ingressgateway", to: "kibana", ports: tcp(5601), why: "Kibana published (obs:logging.kibana.expose)", when: "kibana.expose" },
  // metrics
  { from: "prometheus", to: "mesh", ports: [], why: "scrapes the pods of every namespace (Envoy, apps, the stack's own)" },
  { from: "prometheus", to: "kubelet", ports: tcp(10250), why: "kubelet and cAdvisor metrics" },
  { from: "prometheus", to: "apiserver", ports: API, why: "service discovery" },
  { from: "prometheus", to: "external", ports: tcp(443), why: "remote write (obs:prometheus.remoteWrite)", when: "prometheus.remoteWrite" },
  { from: "prometheus", to: "istiod", ports: tcp(15014), why: "scrape: istiod" },
  { from: "prometheus", to: "ingressgateway", ports: tcp(15020, 15090), why: "scrape: gateway (merged agent and Envoy metrics, Envoy's own)" },
  { from: "prometheus", to: "egressgateway", ports: tcp(15020, 15090), why: "scrape: gateway (merged agent and Envoy metrics, Envoy's own)" },
  { from: "prometheus", to: "alertmanager", ports: tcp(9093), why: "alerts; scrape" },
  { from: "prometheus", to: "kiali", ports: tcp(9090), why: "scrape" },
  { from: "prometheus", to: "jaeger-collector", ports: tcp(8888), why: "scrape" },
  { from: "prometheus", to: "jaeger-ingester", ports: tcp(8888), why: "scrape" },
  { from: "prometheus", to: "jaeger-query", ports: tcp(8888), why: "scrape" },
  { from: "prometheus", to: "kafka-exporter", ports: tcp(9308), why: "scrape" },
  { from: "prometheus", to: "es-exporter", ports: tcp(9114), why: "scrape" },
  { from: "prometheus", to: "es-cert-exporter", ports: tcp(9793), why: "scrape" },
  { from: "prometheus", to: "fluentd", ports: tcp(24231), why: "scrape" },
  { from: "alertmanager", to: "alertmanager", ports: [{ port: 9094 }, { port: 9094, protocol: "UDP" }], why: "cluster gossip between replicas", when: "alerting.replicas > 1" },
  { from: "alertmanager", to: "external", ports: tcp(443), why: "receivers (chat, paging, webhooks)" },
  // dashboards and the mesh console
  { from: "grafana", to: "prometheus", ports: tcp(9090), why: "datasource" },
  { from: "grafana", to: "jaeger-query", ports: tcp(16686), why: "datasource" },
  { from: "grafana", to: "elasticsearch", ports: tcp(9200), why: "datasource" },
  { from: "kiali", to: "prometheus", ports: tcp(9090), why: "metrics" },
  { from: "kiali", to: "jaeger-query", ports: tcp(16685, 16686), why: "traces" },
  { from: "kiali", to: "grafana", ports: tcp(3000), why: "dashboard links" },
  { from: "kiali", to: "istiod", ports: tcp(8080, 15014), why: "proxy status and control-plane health" },
  { from: "kiali", to: "apiserver", ports: API, why: "reads the mesh's objects; token login" },
  { from: "kiali", to: "external", ports: tcp(443), why: "OpenID provider (obs:kiali.auth.strategy openid)", when: "kiali.openid" },
  // traces
  { from: "mesh", to: "jaeger-collector", ports: tcp(9411, 4317, 4318), why: "spans from sidecars (Zipkin) and apps (OTLP)" },
  { from: "jaeger-collector", to: "kafka", ports: tcp(9092), why: "writes spans" },
  { from: "jaeger-ingester", to: "kafka", ports: tcp(9092), why: "reads spans" },
  { from: "jaeger-ingester", to: "cassandra", ports: tcp(9042), why: "stores spans" },
  { from: "jaeger-query", to: "cassandra", ports: tcp(9042), why: "reads spans" },
  { from: "kafka", to: "kafka", ports: tcp(9092, 9093), why: "replication, controller quorum" },
  { from: "kafka-topic", to: "kafka", ports: tcp(9092), why: "creates the spans topic" },
  { from: "kafka-exporter", to: "kafka", ports: tcp(9092), why: "consumer lag" },
  { from: "cassandra", to: "cassandra", ports: tcp(7000), why: "gossip, streaming" },
  { from: "cassandra-schema", to: "cassandra", ports: tcp(9042), why: "creates the keyspace" },
  // logs
  { from: "fluentd", to: "elasticsearch", ports: tcp(9200), why: "ships logs" },
  { from: "fluentd", to: "apiserver", ports: API, why: "pod metadata of each log line" },
  { from: "elasticsearch", to: "elasticsearch", ports: tcp(9300), why: "cluster transport" },
  { from: "kibana", to: "elasticsearch", ports: tcp(9200), why: "queries" },
  { from: "es-bootstrap", to: "elasticsearch", ports: tcp(9200), why: "users, index templates, lifecycle policy" },
  { from: "es-exporter", to: "elasticsearch", ports: tcp(9200), why: "cluster health" },
  { from: "es-certs", to: "apiserver", ports: API, why: "writes the certificate Secrets" },
];

/** Allowed to every pod of the stack's namespaces, beside the table: name lookups. */
export const DNS_FLOW = { to: "kube-dns (kube-system)", ports: [{ port: 53, protocol: "UDP" }, { port: 53, protocol: "TCP" }] as const, why: "name lookups" };

const ENDPOINTS: readonly string[] = [...COMPONENT_NAMES, ...PEERS];
const ENDPOINT_DOC = `a component of the stack (${COMPONENT_NAMES.join(", ")}) or ${PEERS.join(", ")}`;

const extraFlow = obj(
  {
    from: str({ doc: `where the flow starts: ${ENDPOINT_DOC}` }),
    to: str({ doc: "where it goes (same names)" }),
    ports: list(num({ doc: "port at `to`", min: 1, max: 65535, integer: true }), { doc: "ports at `to` (none: every port)", default: [] }),
    protocol: oneOf(["TCP", "UDP"] as const, { doc: "protocol of the ports", default: "TCP" }),
    why: str({ doc: "what the flow is for (shown in the policy's annotation)", default: "" }),
  },
  { doc: "a flow beside the table", optional: false },
);

export const networkPolicySchema = obj(
  {
    enabled: bool({ doc: "default-deny NetworkPolicies in the stack's namespaces, with the flows of the README's table", default: true }),
    extraFlows: list(extraFlow, { doc: "more flows to or from the stack's pods, e.g. Alertmanager to an SMTP relay: {from: alertmanager, to: external, ports: [587]}", default: [] }),
  },
  { doc: "network policies" },
);

export type NetworkPolicyConfig = { enabled: boolean; extraFlows: { from: string; to: string; ports: number[]; protocol: "TCP" | "UDP"; why: string }[] };

/** An extra flow names known ends, one of them the stack's own pods (only those get policies). */
export function checkNetworkPolicy(c: NetworkPolicyConfig, issues: Issue[]): void {
  c.extraFlows.forEach((f, i) => {
    const key = `obs:networkPolicy.extraFlows[${i}]`;
    for (const end of ["from", "to"] as const) {
      if (!ENDPOINTS.includes(f[end])) issues.push({ key: `${key}.${end}`, value: f[end], allowed: ENDPOINT_DOC });
    }
    if (ENDPOINTS.includes(f.from) && ENDPOINTS.includes(f.to) && !isComponent(f.from) && !isComponent(f.to)) issues.push({ key, value: { from: f.from, to: f.to }, allowed: "a flow with at least one end in the stack's pods (only those get policies)" });
  });
}

export const isComponent = (e: string): e is ComponentName => (COMPONENT_NAMES as readonly string[]).includes(e);

/** The table's flows with the extra ones, as flows. */
export function allFlows(extra: NetworkPolicyConfig["extraFlows"]): Flow[] {
  return [...FLOWS, ...extra.map((f): Flow => ({ from: f.from as Endpoint, to: f.to as Endpoint, ports: f.ports.map((port) => ({ port, protocol: f.protocol })), why: f.why || "obs:networkPolicy.extraFlows" }))];
}

/** The flows table as Markdown (README). */
export function flowsMarkdown(): string {
  const ports = (p: readonly Port[]) => (p.length ? p.map((x) => `${x.port}${x.protocol === "UDP" ? "/udp" : ""}`).join(", ") : "any");
  const rows = FLOWS.map((f) => `| ${f.from} | ${f.to} | ${ports(f.ports)} | ${f.why}${f.when ? ` (only with ${f.when})` : ""} |`);
  rows.push(`| every pod | ${DNS_FLOW.to} | 53/udp, 53 | ${DNS_FLOW.why} |`);
  return ["| from | to | ports | why |", "| --- | --- | --- | --- |", ...rows].join("\n");
}
