// A small model of what Prometheus does with a scrape job: Kubernetes SD label sets for pods,
// endpoint slices and nodes, relabel_configs applied the way Prometheus applies them, and the
// resulting scrape URL and target labels. Enough to test our relabel rules by behaviour.
import type { RelabelConfig, ScrapeConfig } from "../../../components/prometheus/scrape.js";

export type Labels = Record<string, string>;

// Prometheus anchors every regex and lets `.` match newlines.
const compile = (regex: string | undefined) => new RegExp(`^(?:${regex ?? "(.*)"})$`, "s");

/** Go's Regexp.Expand: `$1`, `${1}`, `$name`, `${name}`, `$$`; a name is the longest run of word characters. */
function expand(template: string, match: RegExpExecArray): string {
  return template.replace(/\$(\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))/g, (_, all: string, braced?: string, bare?: string) => {
    if (all === "$") return "$";
    const name = braced ?? bare!;
    const v = /^[0-9]+$/.test(name) ? match[Number(name)] : match.groups?.[name];
    return v ?? "";
  });
}

/** Applies relabel_configs to a label set; undefined when the target is dropped. */
export function relabel(input: Labels, configs: readonly RelabelConfig[]): Labels | undefined {
  const labels: Labels = { ...input };
  for (const c of configs) {
    const re = compile(c.regex);
    const value = (c.source_labels ?? []).map((l) => labels[l] ?? "").join(c.separator ?? ";");
    switch (c.action) {
      case "keep":
        if (!re.test(value)) return undefined;
        break;
      case "drop":
        if (re.test(value)) return undefined;
        break;
      case "replace": {
        const m = re.exec(value);
        if (!m) break;
        const target = expand(c.target_label!, m);
        const result = expand(c.replacement ?? "$1", m);
        if (result === "") delete labels[target];
        else labels[target] = result;
        break;
      }
      case "labelmap":
        for (const [k, v] of Object.entries(labels)) {
          const m = re.exec(k);
          if (m) labels[expand(c.replacement ?? "$1", m)] = v;
        }
        break;
      case "labeldrop":
        for (const k of Object.keys(labels)) if (re.test(k)) delete labels[k];
        break;
      case "labelkeep":
        for (const k of Object.keys(labels)) if (!re.test(k)) delete labels[k];
        break;
    }
  }
  return labels;
}

export interface Target {
  readonly url: string;
  /** The labels its series get (no `__` labels). */
  readonly labels: Labels;
}

/** What Prometheus scrapes for one discovered label set: defaults, relabeling, then the URL. */
export function scrapeTarget(job: ScrapeConfig, discovered: Labels): Target | undefined {
  const withDefaults = { job: job.job_name, __scheme__: job.scheme ?? "http", __metrics_path__: job.metrics_path ?? "/metrics", ...discovered };
  const l = relabel(withDefaults, job.relabel_configs ?? []);
  if (!l || !l.__address__) return undefined;
  const labels = Object.fromEntries(Object.entries(l).filter(([k]) => !k.startsWith("__")));
  labels.instance ??= l.__address__;
  return { url: `${l.__scheme__}://${l.__address__}${l.__metrics_path__}`, labels };
}

/** Every distinct target of a job (Prometheus merges identical ones, e.g. one per container port). */
export function scrapeTargets(job: ScrapeConfig, discovered: readonly Labels[]): Target[] {
  const seen = new Map<string, Target>();
  for (const d of discovered) {
    const t = scrapeTarget(job, d);
    if (t) seen.set(JSON.stringify([t.url, Object.entries(t.labels).sort()]), t);
  }
  return [...seen.values()];
}

const sanitize = (name: string) => name.replace(/[^a-zA-Z0-9_]/g, "_");
function metaMap(prefix: string, kind: "label" | "annotation", m: Labels = {}): Labels {
  const out: Labels = {};
  for (const [k, v] of Object.entries(m)) {
    out[`${prefix}_${kind}_${sanitize(k)}`] = v;
    out[`${prefix}_${kind}present_${sanitize(k)}`] = "true";
  }
  return out;
}

export interface Pod {
  readonly namespace: string;
  readonly name: string;
  readonly ip: string;
  readonly phase?: string;
  readonly labels?: Labels;
  readonly annotations?: Labels;
  readonly containers: readonly { readonly name: string; readonly ports?: readonly { readonly name?: string; readonly port: number }[] }[];
}

const hostPort = (ip: string, port: number) => (ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`);

/** kubernetes_sd role pod: one label set per container port, or one per port-less container. */
export function podTargets(pod: Pod): Labels[] {
  const common: Labels = {
    __meta_kubernetes_namespace: pod.namespace,
    __meta_kubernetes_pod_name: pod.name,
    __meta_kubernetes_pod_ip: pod.ip,
    __meta_kubernetes_pod_phase: pod.phase ?? "Running",
    __meta_kubernetes_pod_ready: "true",
    ...metaMap("__meta_kubernetes_pod", "label", pod.labels),
    ...metaMap("__meta_kubernetes_pod", "annotation", pod.annotations),
  };
  return pod.containers.flatMap((c) => {
    const base = { ...common, __meta_kubernetes_pod_container_name: c.name };
    if (!c.ports?.length) return [{ ...base, __address__: pod.ip }];
    return c.ports.map((p) => ({
      ...base,
      __address__: hostPort(pod.ip, p.port),
      __meta_kubernetes_pod_container_port_name: p.name ?? "",
      __meta_kubernetes_pod_container_port_number: String(p.port),
      __meta_kubernetes_pod_container_port_protocol: "TCP",
    }));
  });
}

export interface ServiceWithEndpoints {
  readonly namespace: string;
  readonly name: string;
  readonly labels?: Labels;
  readonly annotations?: Labels;
  readonly ports: readonly { readonly name: string; readonly port: number }[];
  readonly endpoints: readonly { readonly ip: string; readonly pod?: string }[];
}

/** kubernetes_sd role endpointslice: one label set per endpoint address and port, with the service's labels. */
export function endpointSliceTargets(s: ServiceWithEndpoints): Labels[] {
  const svc: Labels = {
    __meta_kubernetes_namespace: s.namespace,
    __meta_kubernetes_endpointslice_name: `${s.name}-abcde`,
    __meta_kubernetes_service_name: s.name,
    ...metaMap("__meta_kubernetes_service", "label", s.labels),
    ...metaMap("__meta_kubernetes_service", "annotation", s.annotations),
  };
  return s.endpoints.flatMap((e) =>
    s.ports.map((p) => ({
      ...svc,
      __address__: hostPort(e.ip, p.port),
      __meta_kubernetes_endpointslice_port_name: p.name,
      __meta_kubernetes_endpointslice_port: String(p.port),
      __meta_kubernetes_endpointslice_endpoint_conditions_ready: "true",
      ...(e.pod ? { __meta_kubernetes_pod_name: e.pod, __meta_kubernetes_endpointslice_address_target_kind: "Pod", __meta_kubernetes_endpointslice_address_target_name: e.pod } : {}),
    })),
  );
}

/** kubernetes_sd role node: the kubelet address, instance = node name. */
export function nodeTarget(name: string, ip: string, labels?: Labels): Labels {
  return { __address__: `${ip}:10250`, instance: name, __meta_kubernetes_node_name: name, __meta_kubernetes_node_address_InternalIP: ip, ...metaMap("__meta_kubernetes_node", "label", labels) };
}
