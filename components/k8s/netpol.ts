// NetworkPolicies from the flows table (mesh/flows.ts): in each of the stack's namespaces a
// default deny of every pod's ingress and egress (name lookups excepted), and per component one
// policy allowing exactly its rows: ingress from the rows that end at it, egress to the rows
// that start from it. Pure: objects in, objects out.
import { type Condition, DNS_FLOW, type Endpoint, FLOW_COMPONENTS, type ComponentName, type Flow, type Home, isComponent, type Port } from "../mesh/flows.js";
import { MANAGED_BY_LABELS } from "./labels.js";
import type { KubeObject } from "./objects.js";

export interface NetworkPolicyInput {
  /** Namespace of each home that exists in this stack (agents: only with logging). */
  readonly namespaces: Partial<Record<Home, string>>;
  /** The components this stack deploys: a policy never selects pods that are not there. */
  readonly present: ReadonlySet<ComponentName>;
  /** The conditions that hold (a published UI, an optional feature). */
  readonly active: ReadonlySet<Condition>;
  readonly flows: readonly Flow[];
}

const ANY_ADDRESS = [{ ipBlock: { cidr: "0.0.0.0/0" } }, { ipBlock: { cidr: "::/0" } }];
const nsSelector = (ns: string) => ({ matchLabels: { "kubernetes.io/metadata.name": ns } });

/** The flows that apply: both ends deployed, the condition on. */
export function activeFlows(i: NetworkPolicyInput): Flow[] {
  const there = (e: Endpoint) => !isComponent(e) || (i.present.has(e) && i.namespaces[FLOW_COMPONENTS[e].home] !== undefined);
  return i.flows.filter((f) => there(f.from) && there(f.to) && (!f.when || i.active.has(f.when)));
}

function peers(e: Endpoint, i: NetworkPolicyInput): Record<string, unknown>[] {
  if (e === "mesh") return [{ namespaceSelector: {} }];
  if (!isComponent(e)) return ANY_ADDRESS;
  const c = FLOW_COMPONENTS[e];
  return [{ namespaceSelector: nsSelector(i.namespaces[c.home]!), podSelector: { matchLabels: { ...c.selector } } }];
}

const ports = (p: readonly Port[]) => (p.length ? { ports: p.map((x) => ({ protocol: x.protocol ?? "TCP", port: x.port })) } : {});

export function networkPolicies(i: NetworkPolicyInput): KubeObject[] {
  const flows = activeFlows(i);
  const out: KubeObject[] = [];
  for (const ns of new Set(Object.values(i.namespaces))) {
    out.push({
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "default-deny", namespace: ns, labels: { ...MANAGED_BY_LABELS } },
      spec: {
        podSelector: {},
        policyTypes: ["Ingress", "Egress"],
        ingress: [],
        egress: [{ to: [{ namespaceSelector: nsSelector("kube-system"), podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }], ports: DNS_FLOW.ports.map((p) => ({ protocol: p.protocol, port: p.port })) }],
      },
    });
  }
  for (const name of [...i.present].sort()) {
    const c = FLOW_COMPONENTS[name];
    const ns = i.namespaces[c.home];
    if (!ns) continue;
    const ingress = flows.filter((f) => f.to === name).map((f) => ({ from: peers(f.from, i), ...ports(f.ports) }));
    const egress = flows.filter((f) => f.from === name).map((f) => ({ to: peers(f.to, i), ...ports(f.ports) }));
    if (!ingress.length && !egress.length) continue;
    out.push({
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: `allow-${name}`, namespace: ns, labels: { ...MANAGED_BY_LABELS } },
      spec: { podSelector: { matchLabels: { ...c.selector } }, policyTypes: ["Ingress", "Egress"], ingress, egress },
    });
  }
  return out;
}
