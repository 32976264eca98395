// NetworkPolicies generated from the one flows table (components/mesh/flows.ts), which the README shows.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { networkPolicies, type NetworkPolicyInput } from "../../components/k8s/netpol.js";
import { type ComponentName, type Condition, FLOWS, flowsMarkdown } from "../../components/mesh/flows.js";
import { networkPolicyInput, presentComponents } from "../../config/network.js";
import { parseConfig } from "../../config/index.js";
import { PINNED, problems } from "./config-problems.js";

const input = (present: ComponentName[], active: Condition[] = [], extra: Partial<NetworkPolicyInput> = {}): NetworkPolicyInput => ({
  namespaces: { stack: "obs", istio: "istio-system", agents: "obs-logging" },
  present: new Set(present),
  active: new Set(active),
  flows: FLOWS,
  ...extra,
});
const byName = (objs: ReturnType<typeof networkPolicies>) => Object.fromEntries(objs.map((o) => [`${o.metadata.namespace}/${o.metadata.name}`, o.spec as any]));
const base = () => ({
  kubernetes: { context: "dev" },
  logging: { enabled: false } as Record<string, unknown>,
  grafana: { enabled: false } as Record<string, unknown>,
  kiali: { enabled: false } as Record<string, unknown>,
  jaeger: { kafkaPassword: "test-kafka-password", cassandraPassword: "test-cassandra-password" } as Record<string, unknown>,
  istio: { revisions: [{ name: "1-30", version: "1.30" }] },
});

describe("network policies", () => {
  it("deny every pod's ingress and egress in each namespace of the stack, name lookups excepted", () => {
    const p = byName(networkPolicies(input([])));
    expect(Object.keys(p).sort()).toEqual(["istio-system/default-deny", "obs-logging/default-deny", "obs/default-deny"]);
    expect(p["obs/default-deny"]).toEqual({
      podSelector: {},
      policyTypes: ["Ingress", "Egress"],
      ingress: [],
      egress: [{ to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } }, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }], ports: [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }] }],
    });
  });

  it("open exactly the table's rows of each component: ingress from the rows ending at it, egress to the rows leaving it", () => {
    const p = byName(networkPolicies(input(["jaeger-collector", "jaeger-query", "kafka", "cassandra", "grafana", "prometheus"])));
    const kafka = p["obs/allow-kafka"];
    expect(kafka.podSelector).toEqual({ matchLabels: { "app.kubernetes.io/name": "kafka" } });
    const peer = (name: string) => ({ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "obs" } }, podSelector: { matchLabels: { "app.kubernetes.io/name": name } } });
    expect(kafka.ingress).toEqual([
      { from: [peer("jaeger-collector")], ports: [{ protocol: "TCP", port: 9092 }] },
      { from: [peer("kafka")], ports: [{ protocol: "TCP", port: 9092 }, { protocol: "TCP", port: 9093 }] },
    ]);
    expect(kafka.egress).toEqual([{ to: [peer("kafka")], ports: [{ protocol: "TCP", port: 9092 }, { protocol: "TCP", port: 9093 }] }]);
    // the collector takes spans from any pod of any namespace
    expect(p["obs/allow-jaeger-collector"].ingress).toContainEqual({ from: [{ namespaceSelector: {} }], ports: [9411, 4317, 4318].map((port) => ({ protocol: "TCP", port })) });
    // Grafana reads Prometheus and Jaeger; Elasticsearch is not deployed, so no rule names it
    expect(p["obs/allow-grafana"].egress.map((r: any) => r.to[0].podSelector.matchLabels["app.kubernetes.io/name"])).toEqual(["prometheus", "jaeger-query"]);
    // Prometheus: every pod of every namespace, any port; the kubelet and the API server at any address
    expect(p["obs/allow-prometheus"].egress).toContainEqual({ to: [{ namespaceSelector: {} }] });
    expect(p["obs/allow-prometheus"].egress).toContainEqual({ to: [{ ipBlock: { cidr: "0.0.0.0/0" } }, { ipBlock: { cidr: "::/0" } }], ports: [{ protocol: "TCP", port: 10250 }] });
    // a component the stack does not deploy gets no policy (it would select no pod)
    expect(p["obs/allow-kiali"]).toBeUndefined();
  });

  it("let the ingress gateway reach a UI only while it is published; Jaeger query never", () => {
    const ui = ["ingressgateway", "grafana", "kiali", "kibana", "jaeger-query"] as ComponentName[];
    const closed = byName(networkPolicies(input(ui)));
    const fromGateway = (p: any) => (p?.ingress ?? []).filter((r: any) => r.from[0].podSelector?.matchLabels?.istio === "ingressgateway");
    for (const name of ["grafana", "kiali", "kibana", "jaeger-query"]) expect(fromGateway(closed[`obs/allow-${name}`])).toEqual([]);
    const open = byName(networkPolicies(input(ui, ["grafana.expose"])));
    expect(fromGateway(open["obs/allow-grafana"])).toEqual([{ from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "istio-system" } }, podSelector: { matchLabels: { istio: "ingressgateway" } } }], ports: [{ protocol: "TCP", port: 3000 }] }]);
    expect(fromGateway(open["obs/allow-kiali"])).toEqual([]);
    expect(fromGateway(open["obs/allow-jaeger-query"])).toEqual([]);
  });

  it("follow the stack's config: what it deploys, the extra flows, operator mode's Prometheus from any namespace", () => {
    const cfg = parseConfig("dev", { ...base(), alerting: { enabled: false }, networkPolicy: { extraFlows: [{ from: "jaeger-query", to: "external", ports: [587], why: "smtp" }] } }, PINNED);
    expect([...presentComponents(cfg)]).not.toContain("grafana");
    expect([...presentComponents(cfg)]).toContain("prometheus");
    const p = byName(networkPolicies(networkPolicyInput(cfg)));
    expect(p["observability/allow-jaeger-query"].egress).toContainEqual({ to: [{ ipBlock: { cidr: "0.0.0.0/0" } }, { ipBlock: { cidr: "::/0" } }], ports: [{ protocol: "TCP", port: 587 }] });
    expect(p["observability-logging/default-deny"]).toBeUndefined();
    const op = parseConfig("dev", { ...base(), alerting: { enabled: false }, prometheus: { mode: "operator", mtlsScraping: false } }, PINNED);
    const q = byName(networkPolicies(networkPolicyInput(op)));
    expect(q["observability/allow-prometheus"]).toBeUndefined();
    expect(q["observability/allow-jaeger-query"].ingress).toContainEqual({ from: [{ namespaceSelector: {} }], ports: [{ protocol: "TCP", port: 8888 }] });
  });

  it("refuse an extra flow naming an unknown component, naming key, value and the known names", () => {
    const p = problems({ ...base(), networkPolicy: { extraFlows: [{ from: "grafanna", to: "prometheus", ports: [9090] }, { from: "external", to: "mesh" }] } });
    expect(p).toHaveLength(2);
    expect(p[0]).toMatch(/^obs:networkPolicy\.extraFlows\[0\]\.from = "grafanna": a component of the stack \(istiod, .*grafana.*\) or mesh, apiserver, kubelet, external$/);
    expect(p[1]).toBe('obs:networkPolicy.extraFlows[1] = {"from":"external","to":"mesh"}: a flow with at least one end in the stack\'s pods (only those get policies)');
  });

  it("are shown in the README as the table they come from (npm run docs:readme)", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    expect(readme).toContain(`<!-- network-flows:start -->\n${flowsMarkdown()}\n<!-- network-flows:end -->`);
  });
});
