// The scrape jobs by behaviour: Kubernetes SD label sets go through our relabel rules (as
// Prometheus applies them) and we look at what would be scraped, and with which labels.
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parsePrometheusConfig, type PrometheusConfig } from "../../../components/prometheus/config.js";
import { JOBS } from "../../../components/mesh/metrics.js";
import { buildPrometheusConfig, type MeshMtls, type PrometheusConfigInput, renderPrometheusYaml, type ScrapeConfig } from "../../../components/prometheus/scrape.js";
import { endpointSliceTargets, type Labels, nodeTarget, type Pod, podTargets, relabel, scrapeTargets } from "./relabel.js";

const defaults = (over: Record<string, unknown> = {}): PrometheusConfig => {
  const { config, issues } = parsePrometheusConfig(over);
  if (!config) throw new Error(JSON.stringify(issues));
  return config;
};

const input = (over: Partial<PrometheusConfigInput> = {}): PrometheusConfigInput => ({ config: defaults(), clusterName: "eu-1", environment: "prod", meshMtls: "STRICT", ...over });

function job(name: string, over: Partial<PrometheusConfigInput> = {}): ScrapeConfig {
  const j = buildPrometheusConfig(input(over)).scrape_configs.find((s) => s.job_name === name);
  if (!j) throw new Error(`no job ${name}`);
  return j;
}

const urls = (j: ScrapeConfig, ...pods: Pod[]) => scrapeTargets(j, pods.flatMap(podTargets)).map((t) => t.url).sort();

// What the injector leaves on a pod: the status annotation, Envoy's prom port, and with
// metrics merging the prometheus.io annotations pointing at the agent.
const SIDECAR_STATUS = { "sidecar.istio.io/status": '{"initContainers":["istio-init"],"containers":["istio-proxy"]}' };
const MERGED = { "prometheus.io/scrape": "true", "prometheus.io/port": "15020", "prometheus.io/path": "/stats/prometheus" };
const istioProxy = { name: "istio-proxy", ports: [{ name: "http-envoy-prom", port: 15090 }] };
const app = (port = 8080) => ({ name: "app", ports: [{ name: "http", port }, { name: "grpc", port: 9000 }] });

const plainPod = (annotations: Labels, extra: Partial<Pod> = {}): Pod => ({ namespace: "shop", name: "cart-5d8f-abc12", ip: "10.1.2.3", annotations, containers: [app()], ...extra });
const mergedPod: Pod = { namespace: "shop", name: "checkout-7f9c-xyz98", ip: "10.1.2.4", labels: { app: "checkout" }, annotations: { ...SIDECAR_STATUS, ...MERGED }, containers: [app(), istioProxy] };
// merge-metrics "false": the injector leaves the app's own annotations alone.
const unmergedPod: Pod = { namespace: "shop", name: "payments-6c4b-qwe45", ip: "10.1.2.5", annotations: { ...SIDECAR_STATUS, "prometheus.istio.io/merge-metrics": "false", "prometheus.io/scrape": "true", "prometheus.io/port": "9102" }, containers: [app(9102), istioProxy] };

describe("relabel evaluator", () => {
  it("applies replace with Go-style references, and a replace to '' removes the label", () => {
    expect(relabel({ a: "x", b: "1" }, [{ action: "replace", source_labels: ["a", "b"], regex: "(.*);(.*)", target_label: "c", replacement: "${2}-$1" }])).toEqual({ a: "x", b: "1", c: "1-x" });
    expect(relabel({ a: "x" }, [{ action: "replace", source_labels: ["a"], regex: "x", target_label: "a", replacement: "" }])).toEqual({});
    // regexes are anchored: 'true' does not match 'untrue'
    expect(relabel({ a: "untrue" }, [{ action: "keep", source_labels: ["a"], regex: "true" }])).toBeUndefined();
  });
});

describe("kubernetes-pods (annotated pods)", () => {
  const pods = job(JOBS.pods);

  it("scrapes the pod IP on the annotated port and path, one target however many ports", () => {
    const [t, ...rest] = scrapeTargets(pods, podTargets(plainPod({ "prometheus.io/scrape": "true", "prometheus.io/port": "9102", "prometheus.io/path": "/custom" })));
    expect(rest).toEqual([]);
    expect(t!.url).toBe("http://10.1.2.3:9102/custom");
    expect(t!.labels).toEqual({ job: "kubernetes-pods", namespace: "shop", pod: "cart-5d8f-abc12", instance: "10.1.2.3:9102" });
  });

  it("brackets IPv6 pod IPs and honours prometheus.io/scheme", () => {
    expect(urls(pods, plainPod({ "prometheus.io/scrape": "true", "prometheus.io/port": "8443", "prometheus.io/scheme": "https" }, { ip: "fd00:10::7" }))).toEqual(["https://[fd00:10::7]:8443/metrics"]);
  });

  it("without a port annotation scrapes each declared port on /metrics", () => {
    expect(urls(pods, plainPod({ "prometheus.io/scrape": "true" }))).toEqual(["http://10.1.2.3:8080/metrics", "http://10.1.2.3:9000/metrics"]);
  });

  it("drops pods with prometheus.io/scrape false or absent, and pods not running", () => {
    expect(urls(pods, plainPod({ "prometheus.io/scrape": "false", "prometheus.io/port": "9102" }))).toEqual([]);
    expect(urls(pods, plainPod({}))).toEqual([]);
    expect(urls(pods, plainPod({ "prometheus.io/scrape": "true" }, { phase: "Succeeded" }))).toEqual([]);
    expect(urls(pods, plainPod({ "prometheus.io/scrape": "true" }, { phase: "Pending" }))).toEqual([]);
  });

  it("covers Istio-merged pods on 15020 /stats/prometheus, over plaintext even under STRICT", () => {
    expect(urls(pods, mergedPod)).toEqual(["http://10.1.2.4:15020/stats/prometheus"]);
  });

  it("leaves istiod to its own job", () => {
    const istiodPod: Pod = { namespace: "istio-system", name: "istiod-1-27-5c8d-abcde", ip: "10.1.0.5", labels: { app: "istiod", "istio.io/rev": "1-27" }, annotations: { "prometheus.io/scrape": "true", "prometheus.io/port": "15014" }, containers: [{ name: "discovery", ports: [{ name: "http-monitoring", port: 15014 }] }] };
    expect(urls(pods, istiodPod)).toEqual([]);
  });

  it("under STRICT with mtlsScraping, leaves injected unmerged pods to the mTLS job", () => {
    expect(urls(pods, unmergedPod)).toEqual([]);
    // a plain (not injected) pod is still here
    expect(urls(pods, plainPod({ "prometheus.io/scrape": "true", "prometheus.io/port": "9102" }))).toEqual(["http://10.1.2.3:9102/metrics"]);
  });

  it.each<[MeshMtls, boolean]>([
    ["PERMISSIVE", true],
    ["STRICT", false],
  ])("with mesh %s and mtlsScraping %s, scrapes injected unmerged pods in plaintext", (meshMtls, mtlsScraping) => {
    const j = job(JOBS.pods, { meshMtls, config: defaults({ mtlsScraping }) });
    expect(urls(j, unmergedPod)).toEqual(["http://10.1.2.5:9102/metrics"]);
    expect(buildPrometheusConfig(input({ meshMtls, config: defaults({ mtlsScraping }) })).scrape_configs.map((s) => s.job_name)).not.toContain(JOBS.podsMtls);
  });
});

describe("kubernetes-pods-istio-secure (mTLS)", () => {
  const secure = job(JOBS.podsMtls);

  it("scrapes injected unmerged pods over https with the Istio workload certificate", () => {
    expect(urls(secure, unmergedPod)).toEqual(["https://10.1.2.5:9102/metrics"]);
    expect(secure.tls_config).toEqual({ ca_file: "/etc/prom-certs/root-cert.pem", cert_file: "/etc/prom-certs/cert-chain.pem", key_file: "/etc/prom-certs/key.pem", insecure_skip_verify: true });
  });

  it("leaves merged pods, pods without a sidecar and unannotated pods alone", () => {
    expect(urls(secure, mergedPod)).toEqual([]);
    expect(urls(secure, plainPod({ "prometheus.io/scrape": "true", "prometheus.io/port": "9102" }))).toEqual([]);
    expect(urls(secure, { ...unmergedPod, annotations: { ...SIDECAR_STATUS } })).toEqual([]);
  });
});

describe("envoy-stats", () => {
  const envoy = job(JOBS.envoy);

  it("keeps the *-envoy-prom port (15090, /stats/prometheus) and drops the other ports", () => {
    const targets = scrapeTargets(envoy, podTargets(unmergedPod));
    expect(targets.map((t) => t.url)).toEqual(["http://10.1.2.5:15090/stats/prometheus"]);
    expect(targets[0]!.labels).toMatchObject({ job: "envoy-stats", namespace: "shop", pod: "payments-6c4b-qwe45" });
  });

  it("scrapes a gateway without prometheus.io annotations", () => {
    const gw: Pod = { namespace: "istio-system", name: "istio-ingressgateway-58d-x1", ip: "10.1.0.9", labels: { istio: "ingressgateway" }, containers: [{ name: "istio-proxy", ports: [{ name: "http2", port: 8080 }, { name: "https", port: 8443 }, { name: "http-envoy-prom", port: 15090 }] }] };
    expect(urls(envoy, gw)).toEqual(["http://10.1.0.9:15090/stats/prometheus"]);
  });

  it("skips merged pods, whose Envoy stats kubernetes-pods already collects on 15020", () => {
    expect(urls(envoy, mergedPod)).toEqual([]);
    expect(urls(envoy, plainPod({ "prometheus.io/scrape": "true" }))).toEqual([]);
  });
});

describe("istiod", () => {
  const istiod = job(JOBS.istiod);
  const service = (name: string, rev: string) =>
    endpointSliceTargets({
      namespace: "istio-system",
      name,
      labels: { app: "istiod", "istio.io/rev": rev },
      ports: [
        { name: "grpc-xds", port: 15010 },
        { name: "https-dns", port: 15012 },
        { name: "https-webhook", port: 15017 },
        { name: "http-monitoring", port: 15014 },
      ],
      endpoints: [{ ip: "10.1.0.5", pod: `${name}-5c8d-abcde` }],
    });

  it("keeps only http-monitoring (15014) of every revision's istiod service, labelled with the revision", () => {
    const targets = scrapeTargets(istiod, [...service("istiod-1-27", "1-27"), ...service("istiod-1-28", "1-28"), ...service("istiod", "default")]);
    expect(targets.map((t) => [t.url, t.labels.revision])).toEqual([
      ["http://10.1.0.5:15014/metrics", "1-27"],
      ["http://10.1.0.5:15014/metrics", "1-28"],
      ["http://10.1.0.5:15014/metrics", "default"],
    ]);
    expect(targets[0]!.labels).toEqual({ job: "istiod", revision: "1-27", namespace: "istio-system", pod: "istiod-1-27-5c8d-abcde", instance: "10.1.0.5:15014" });
  });

  it("ignores other services' monitoring ports and looks only in istio-system", () => {
    expect(scrapeTargets(istiod, endpointSliceTargets({ namespace: "istio-system", name: "kiali", ports: [{ name: "http-monitoring", port: 9090 }], endpoints: [{ ip: "10.1.0.8" }] }))).toEqual([]);
    expect(istiod.kubernetes_sd_configs).toEqual([{ role: "endpointslice", namespaces: { names: ["istio-system"] } }]);
  });
});

describe("cluster jobs", () => {
  it("kubernetes-service-endpoints: annotated services on the annotated port", () => {
    const j = job(JOBS.serviceEndpoints);
    const svc = (annotations: Labels) => endpointSliceTargets({ namespace: "shop", name: "catalog", annotations, ports: [{ name: "http", port: 8080 }], endpoints: [{ ip: "10.1.3.1", pod: "catalog-1" }, { ip: "fd00::3:2", pod: "catalog-2" }] });
    const t = scrapeTargets(j, svc({ "prometheus.io/scrape": "true", "prometheus.io/port": "9102", "prometheus.io/path": "/m" }));
    expect(t.map((x) => x.url)).toEqual(["http://10.1.3.1:9102/m", "http://[fd00::3:2]:9102/m"]);
    expect(t[0]!.labels).toEqual({ job: JOBS.serviceEndpoints, namespace: "shop", service: "catalog", pod: "catalog-1", instance: "10.1.3.1:9102" });
    expect(scrapeTargets(j, svc({ "prometheus.io/scrape": "false" }))).toEqual([]);
    expect(scrapeTargets(j, svc({}))).toEqual([]);
  });

  it("kubernetes-apiservers: only default/kubernetes:https, with the service account's credentials", () => {
    const j = job(JOBS.apiservers);
    const t = scrapeTargets(j, [...endpointSliceTargets({ namespace: "default", name: "kubernetes", ports: [{ name: "https", port: 6443 }], endpoints: [{ ip: "192.168.0.10" }] }), ...endpointSliceTargets({ namespace: "default", name: "other", ports: [{ name: "https", port: 443 }], endpoints: [{ ip: "10.1.9.9" }] })]);
    expect(t.map((x) => x.url)).toEqual(["https://192.168.0.10:6443/metrics"]);
    expect(j.authorization).toEqual({ credentials_file: "/var/run/secrets/kubernetes.io/serviceaccount/token" });
    expect(j.tls_config).toEqual({ ca_file: "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt" });
  });

  it("kubelet and cAdvisor on the kubelet's own port (10250, nodes/metrics), not through the API server's node proxy", () => {
    for (const [name, path] of [
      [JOBS.nodes, "/metrics"],
      [JOBS.cadvisor, "/metrics/cadvisor"],
    ] as const) {
      const j = job(name);
      const t = scrapeTargets(j, [nodeTarget("node-a", "192.168.0.21"), nodeTarget("node-b", "192.168.0.22")]);
      expect(t.map((x) => x.url)).toEqual([`https://192.168.0.21:10250${path}`, `https://192.168.0.22:10250${path}`]);
      expect(t[0]!.labels).toEqual({ job: name, instance: "node-a", node: "node-a" });
      expect(j.authorization).toEqual({ credentials_file: "/var/run/secrets/kubernetes.io/serviceaccount/token" });
      expect(j.tls_config).toEqual({ ca_file: "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt" });
      expect(JSON.stringify(j)).not.toContain("proxy");
      expect(job(name, { config: defaults({ kubeletInsecureSkipVerify: true }) }).tls_config).toEqual({ ca_file: "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt", insecure_skip_verify: true });
    }
  });
});

describe("buildPrometheusConfig", () => {
  it("sets the global intervals, external labels and the rule file", () => {
    const c = buildPrometheusConfig(input({ config: defaults({ scrapeInterval: "15s", scrapeTimeout: "5s" }) }));
    expect(c.global).toEqual({ scrape_interval: "15s", scrape_timeout: "5s", evaluation_interval: "15s", external_labels: { cluster: "eu-1", environment: "prod", replica: "${POD_NAME}" } });
    expect(c.rule_files).toEqual(["istio-rules.yml"]);
  });

  it("has every job once, the extra static jobs last", () => {
    const c = buildPrometheusConfig(input({ config: defaults({ extraScrapeConfigs: [{ jobName: "blackbox", staticTargets: ["blackbox.monitoring:9115"], scheme: "https", metricsPath: "/probe" }] }) }));
    expect(c.scrape_configs.map((s) => s.job_name)).toEqual(["prometheus", "istiod", "envoy-stats", "kubernetes-pods", "kubernetes-pods-istio-secure", "kubernetes-service-endpoints", "kubernetes-apiservers", "kubernetes-nodes", "kubernetes-cadvisor", "blackbox"]);
    expect(c.scrape_configs.at(-1)).toEqual({ job_name: "blackbox", scheme: "https", metrics_path: "/probe", static_configs: [{ targets: ["blackbox.monitoring:9115"] }] });
  });

  it("discovers pods and services in every namespace, so a namespace labelled later (a revision tag) is monitored", () => {
    const c = buildPrometheusConfig(input());
    for (const j of [JOBS.envoy, JOBS.pods, JOBS.podsMtls, JOBS.serviceEndpoints]) expect(c.scrape_configs.find((s) => s.job_name === j)!.kubernetes_sd_configs, j).toEqual([{ role: j === JOBS.serviceEndpoints ? "endpointslice" : "pod" }]);
    // a namespace no config names, labelled with a tag: its injected pod's Envoy and its merged metrics are scraped
    const tagged: Pod = { ...mergedPod, namespace: "team-a" };
    expect(urls(job(JOBS.pods), tagged)).toEqual(["http://10.1.2.4:15020/stats/prometheus"]);
    expect(urls(job(JOBS.envoy), { ...unmergedPod, namespace: "team-a" })).toEqual(["http://10.1.2.5:15090/stats/prometheus"]);
  });

  it("leaves the excluded namespaces out of every cluster-wide job, and no others", () => {
    const config = defaults({ excludeNamespaces: ["kube-system", "team"] });
    const annotated = (namespace: string) => plainPod({ "prometheus.io/scrape": "true", "prometheus.io/port": "9102" }, { namespace });
    for (const name of [JOBS.pods, JOBS.envoy, JOBS.podsMtls]) {
      const j = job(name, { config });
      for (const p of [annotated("kube-system"), { ...unmergedPod, namespace: "kube-system" }, { ...mergedPod, namespace: "kube-system" }]) expect(urls(j, p), name).toEqual([]);
    }
    expect(urls(job(JOBS.pods, { config }), annotated("team-b"))).toEqual(["http://10.1.2.3:9102/metrics"]);
    const svc = (namespace: string) => endpointSliceTargets({ namespace, name: "dns", annotations: { "prometheus.io/scrape": "true", "prometheus.io/port": "9153" }, ports: [{ name: "metrics", port: 9153 }], endpoints: [{ ip: "10.1.0.2" }] });
    expect(scrapeTargets(job(JOBS.serviceEndpoints, { config }), svc("kube-system"))).toEqual([]);
    expect(scrapeTargets(job(JOBS.serviceEndpoints, { config }), svc("default"))).toHaveLength(1);
  });

  it("scrapes no target twice: every pod port and service endpoint lands in one job at most", () => {
    const c = buildPrometheusConfig(input());
    const pods = [mergedPod, unmergedPod, plainPod({ "prometheus.io/scrape": "true", "prometheus.io/port": "9102" }), plainPod({}), { ...mergedPod, namespace: "team-a", name: "tagged-1", ip: "10.1.7.1" }];
    const addresses = c.scrape_configs.filter((s) => s.kubernetes_sd_configs?.[0]?.role === "pod").flatMap((s) => scrapeTargets(s, pods.flatMap(podTargets)).map((t) => t.url.replace(/^https?:\/\//, "")));
    expect(addresses.length).toBeGreaterThan(3);
    expect(new Set(addresses).size).toBe(addresses.length);
  });

  it("names the replica in an external label from the pod's name, and sends to the remote-write endpoints with credentials as files", () => {
    const { config, secrets, issues } = parsePrometheusConfig({
      remoteWrite: [
        { url: "https://mimir.example.com/api/v1/push", name: "mimir", basicAuth: { username: "tenant-1", password: "pw-0123" }, queue: { maxShards: 10, batchSendDeadline: "5s" }, writeRelabelConfigs: [{ action: "keep", sourceLabels: ["__name__"], regex: "destination_workload:.*|up" }] },
        { url: "http://thanos-receive.monitoring:19291/api/v1/receive", bearerToken: "token-4567", tls: { insecureSkipVerify: true } },
      ],
    });
    expect(issues).toEqual([]);
    expect(secrets).toEqual({ remoteWrite: { "remote-write-0-password": "pw-0123", "remote-write-1-bearer-token": "token-4567" } });
    const c = buildPrometheusConfig(input({ config: config!, remoteWriteSecrets: Object.keys(secrets!.remoteWrite) }));
    expect(renderPrometheusYaml(input({ config: config!, remoteWriteSecrets: Object.keys(secrets!.remoteWrite) }))).not.toMatch(/pw-0123|token-4567/);
    expect(c.global.external_labels).toEqual({ cluster: "eu-1", environment: "prod", replica: "${POD_NAME}" });
    expect(c.remote_write).toEqual([
      {
        url: "https://mimir.example.com/api/v1/push",
        name: "mimir",
        basic_auth: { username: "tenant-1", password_file: "/etc/prometheus-secrets/remote-write-0-password" },
        queue_config: { max_shards: 10, batch_send_deadline: "5s" },
        write_relabel_configs: [{ action: "keep", source_labels: ["__name__"], regex: "destination_workload:.*|up" }],
      },
      { url: "http://thanos-receive.monitoring:19291/api/v1/receive", authorization: { type: "Bearer", credentials_file: "/etc/prometheus-secrets/remote-write-1-bearer-token" }, tls_config: { insecure_skip_verify: true } },
    ]);
    expect(buildPrometheusConfig(input()).remote_write).toBeUndefined();
  });

  it("renders YAML that reads back to the same object, without anchors", () => {
    const text = renderPrometheusYaml(input());
    expect(text).not.toMatch(/[&*]a[0-9]/);
    expect(parse(text)).toEqual(JSON.parse(JSON.stringify(buildPrometheusConfig(input()))));
  });
});
