// The generated prometheus.yml, rule file and rule tests, checked by the real promtool of the
// pinned Prometheus; at the end, discovery against the local cluster (no scraping). A missing promtool fails the test (run: npm run tools).
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parsePrometheusConfig } from "../../components/prometheus/config.js";
import { JOBS } from "../../components/mesh/metrics.js";
import { kubeInjected } from "../builders/istio-shapes.js";
import { buildRuleTests, renderRuleTestsYaml } from "../builders/rule-tests.js";
import { renderRulesYaml } from "../../components/prometheus/rules.js";
import { CONFIG_DIR, CONFIG_FILE, type PrometheusConfigInput, remoteWritePems, renderPrometheusYaml, RULES_FILE, SA_DIR, SECRETS_DIR } from "../../components/prometheus/scrape.js";
import { toolPath } from "../../lib/tools.js";
import { parse, parseAllDocuments, stringify } from "yaml";

// A self-signed certificate, the shape promtool checks a CA file for (PEM, parsed as x509).
const CA = execOpenssl();
let promtool: string;
let dir: string;

function run(...args: string[]): { code: number | null; out: string } {
  const r = spawnSync(promtool, args, { cwd: dir, encoding: "utf8" });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

function expectOk(...args: string[]): string {
  const { code, out } = run(...args);
  expect(code, `promtool ${args.join(" ")}:\n${out}`).toBe(0);
  return out;
}

const input = (over: Record<string, unknown>, rest: Partial<PrometheusConfigInput> = {}): PrometheusConfigInput => {
  const { config, issues } = parsePrometheusConfig(over);
  if (!config) throw new Error(JSON.stringify(issues));
  return { config, clusterName: "e2e", environment: "local", meshMtls: "STRICT", ...rest };
};

describe("promtool on the generated Prometheus files", () => {
  beforeAll(() => {
    promtool = toolPath("promtool");
    dir = mkdtempSync(path.join(os.tmpdir(), "obs-e2e-promtool-"));
    writeFileSync(path.join(dir, RULES_FILE), renderRulesYaml());
    writeFileSync(path.join(dir, "rules.test.yml"), renderRuleTestsYaml(RULES_FILE));
  });

  it("is the pinned Prometheus 3.5.1", () => {
    expect(expectOk("--version")).toMatch(/version 3\.5\.1/);
  });

  it.each([
    ["STRICT mesh, mTLS scraping, excluded namespaces, extra job", input({ excludeNamespaces: ["kube-system", "sandbox"], extraScrapeConfigs: [{ jobName: "edge", staticTargets: ["edge.example.com:9100", "[fd00::1]:9100"], scheme: "https" }] })],
    ["PERMISSIVE mesh, every namespace, kubelets unverified", input({ scrapeInterval: "1m", scrapeTimeout: "1m", kubeletInsecureSkipVerify: true }, { meshMtls: "PERMISSIVE" })],
  ])("check config --syntax-only accepts prometheus.yml (%s)", (_, cfg) => {
    const file = path.join(dir, CONFIG_FILE);
    writeFileSync(file, renderPrometheusYaml(cfg));
    expectOk("check", "config", "--syntax-only", file);
  });

  it("check config accepts prometheus.yml with remote write (basic auth, bearer token, mutual TLS, queue, write relabelling), its credential files present", () => {
    const { config, secrets, issues } = parsePrometheusConfig({
      replicas: 2,
      remoteWrite: [
        { url: "https://mimir.example.com/api/v1/push", name: "mimir", remoteTimeout: "20s", basicAuth: { username: "tenant-1", password: "pw-0123456" }, queue: { capacity: 5000, minShards: 1, maxShards: 20, maxSamplesPerSend: 1000, batchSendDeadline: "5s", minBackoff: "30ms", maxBackoff: "5s" }, writeRelabelConfigs: [{ action: "keep", sourceLabels: ["__name__"], regex: "destination_workload:.*|mesh:.*|up" }, { action: "labeldrop", regex: "pod_template_hash" }, { action: "replace", sourceLabels: ["namespace"], targetLabel: "tenant", regex: "(.+)", replacement: "ns-$1" }] },
        { url: "https://thanos-receive.monitoring:19291/api/v1/receive", bearerToken: "token-4567", tls: { ca: CA, cert: CA, key: "key-pem", serverName: "thanos-receive" } },
      ],
    });
    expect(issues).toEqual([]);
    // The credential files as the pod mounts them: the only rewrite is their directory (the pod's
    // SECRETS_DIR and CONFIG_DIR become this test's folder), so promtool finds the files it checks;
    // the ServiceAccount's token and CA directory likewise. PERMISSIVE, so no job reads the Istio
    // certificate files that only the pod has.
    mkdirSync(path.join(dir, "sa"), { recursive: true });
    writeFileSync(path.join(dir, "sa", "token"), "e2e-token");
    writeFileSync(path.join(dir, "sa", "ca.crt"), CA);
    for (const [f, v] of [...Object.entries(secrets!.remoteWrite), ...Object.entries(remoteWritePems(config!))]) writeFileSync(path.join(dir, f), v);
    const yaml = renderPrometheusYaml({ config: config!, clusterName: "e2e", environment: "local", meshMtls: "PERMISSIVE", remoteWriteSecrets: Object.keys(secrets!.remoteWrite) }).replaceAll(`${SECRETS_DIR}/`, `${dir}/`).replaceAll(`${CONFIG_DIR}/`, `${dir}/`).replaceAll(`${SA_DIR}/`, `${dir}/sa/`);
    const file = path.join(dir, "remote-write.yml");
    writeFileSync(file, yaml);
    expect(yaml).toContain("remote_write:");
    expectOk("check", "config", file);
  });

  it("check rules accepts the rule file", () => {
    expect(expectOk("check", "rules", path.join(dir, RULES_FILE))).toMatch(/SUCCESS: \d+ rules found/);
  });

  it("test rules: the recording rules compute the expected values and the alerts fire", () => {
    expectOk("test", "rules", path.join(dir, "rules.test.yml"));
  });

  it("test rules fails on a wrong expectation (the tests do assert)", () => {
    const tests = structuredClone(buildRuleTests(RULES_FILE)) as any;
    tests.tests[0].promql_expr_test.find((t: { expr: string }) => t.expr.includes("5xx:ratio")).exp_samples[1].value = 0.4;
    tests.tests[0].alert_rule_test = tests.tests[0].alert_rule_test.filter((a: { alertname: string }) => a.alertname !== "IstiodDown").concat([{ eval_time: "15m", alertname: "IstiodDown", exp_alerts: [] }]);
    writeFileSync(path.join(dir, "broken.test.yml"), stringify(tests));
    const { code, out } = run("test", "rules", path.join(dir, "broken.test.yml"));
    expect(code).not.toBe(0);
    expect(out).toContain("IstiodDown");
    expect(out).toContain("5xx:ratio_rate5m");
  });
});

function execOpenssl(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), "obs-e2e-ca-"));
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=e2e", "-keyout", path.join(d, "k.pem"), "-out", path.join(d, "c.pem")], { stdio: "ignore" });
  return readFileSync(path.join(d, "c.pem"), "utf8");
}

// Discovery against the local cluster, never a scrape: `promtool check service-discovery` runs the
// rendered jobs' Kubernetes discovery and relabelling and prints the targets it would scrape. The
// pods are the real kube-inject output of the pinned istioctl 1.30 (test/builders/istio-shapes.ts).
// The one rewrite: each kubernetes_sd_configs entry gets `kubeconfig_file` (the local cluster's
// admin kubeconfig), since promtool runs outside a pod.
describe("promtool check service-discovery against the local cluster (no scraping)", () => {
  const TAGGED = "team-tagged";
  const EXCLUDED = "sandbox-excluded";
  let sdDir: string;
  let kubectl: (args: string[], opts?: { input?: string; allowFail?: boolean }) => string;

  type SdTarget = { discoveredLabels: Record<string, string>; labels: Record<string, string> | null };
  // the shape of promtool's JSON (cmd/promtool/sd.go sdCheckResult): a dropped target's labels are {}
  // promtool waits out its timeout collecting discovery updates: one run per job
  const found = new Map<string, SdTarget[]>();
  const discover = (file: string, job: string): SdTarget[] => {
    if (!found.has(job)) {
      const r = spawnSync(promtool, ["check", "service-discovery", "--timeout=5s", file, job], { cwd: sdDir, encoding: "utf8" });
      expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
      found.set(job, JSON.parse(r.stdout) as SdTarget[]);
    }
    return found.get(job)!;
  };

  beforeAll(async () => {
    promtool ??= toolPath("promtool");
    dir ??= mkdtempSync(path.join(os.tmpdir(), "obs-e2e-promtool-"));
    const helpers = await import("./helpers.js");
    kubectl = helpers.kubectl;
    sdDir = mkdtempSync(path.join(os.tmpdir(), "obs-e2e-sd-"));
    const docs = parseAllDocuments(kubeInjected("1.30")).map((d) => d.toJS());
    const web = docs.find((d) => d?.metadata?.name === "web" && d.kind === "Deployment");
    // a namespace labelled with a revision tag, as an app team would (no stack config names it), and an excluded one
    kubectl(["apply", "-f", "-"], { input: JSON.stringify({ apiVersion: "v1", kind: "List", items: [TAGGED, EXCLUDED].map((name) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name, labels: { "istio.io/rev": "prod-stable" } } })) }) });
    for (const ns of [TAGGED, EXCLUDED]) {
      const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "web-0", namespace: ns, labels: web.spec.template.metadata.labels, annotations: web.spec.template.metadata.annotations }, spec: web.spec.template.spec };
      // the namespace's default ServiceAccount appears shortly after the namespace
      for (let i = 0; i < 30 && kubectl(["get", "serviceaccount", "default", "-n", ns], { allowFail: true }) === ""; i++) await new Promise((r) => setTimeout(r, 500));
      kubectl(["apply", "-f", "-"], { input: JSON.stringify(pod) });
    }
    for (const ns of [TAGGED, EXCLUDED]) kubectl(["wait", "--for=condition=Ready", "--timeout=120s", "-n", ns, "pod/web-0"]);
  });

  afterAll(() => {
    kubectl?.(["delete", "namespace", TAGGED, EXCLUDED, "--wait=false"], { allowFail: true });
  });

  it("finds the injected pod of a tag-labelled namespace in exactly one job, and none in an excluded namespace", async () => {
    const { kubeconfigPath } = await import("./helpers.js");
    const { config } = parsePrometheusConfig({ excludeNamespaces: [EXCLUDED] });
    const rendered = parse(renderPrometheusYaml({ config: config!, clusterName: "e2e", environment: "local", meshMtls: "STRICT" })) as { scrape_configs: { job_name: string; kubernetes_sd_configs?: Record<string, unknown>[] }[] };
    const sdJobs = rendered.scrape_configs.filter((j) => j.kubernetes_sd_configs && ["pod", "endpointslice"].includes(j.kubernetes_sd_configs[0]!.role as string) && !j.kubernetes_sd_configs[0]!.namespaces);
    expect(sdJobs.map((j) => j.job_name)).toEqual([JOBS.envoy, JOBS.pods, JOBS.podsMtls, JOBS.serviceEndpoints]);
    for (const j of rendered.scrape_configs) for (const s of j.kubernetes_sd_configs ?? []) s.kubeconfig_file = kubeconfigPath;
    const file = path.join(sdDir, "prometheus.yml");
    writeFileSync(file, stringify(rendered));

    const podIp = JSON.parse(kubectl(["get", "pod", "web-0", "-n", TAGGED, "-o", "json"])).status.podIP as string;
    // one discovered entry per container port; Prometheus scrapes identical label sets once (promtool lists each)
    const kept = (job: string, ns: string) => {
      // a dropped target has no labels ({}); promtool also lists each update of a pod, hence the set
      const targets = discover(file, job).filter((t) => Object.keys(t.labels ?? {}).length > 0 && t.discoveredLabels.__meta_kubernetes_namespace === ns);
      return [...new Map(targets.map((t) => [JSON.stringify(Object.entries(t.labels!).sort()), t])).values()];
    };
    // merged metrics: the agent's 15020 carries the app's, Envoy's and its own series
    expect(kept(JOBS.pods, TAGGED).map((t) => [t.labels!.__address__, t.labels!.__metrics_path__, t.labels!.namespace, t.labels!.pod])).toEqual([[`${podIp}:15020`, "/stats/prometheus", TAGGED, "web-0"]]);
    // ... so neither Envoy's 15090 nor the mTLS job takes the same pod again
    expect(kept(JOBS.envoy, TAGGED)).toEqual([]);
    expect(kept(JOBS.podsMtls, TAGGED)).toEqual([]);
    // the excluded namespace: discovered, dropped by every job
    for (const job of [JOBS.pods, JOBS.envoy, JOBS.podsMtls]) {
      expect(discover(file, job).some((t) => t.discoveredLabels.__meta_kubernetes_namespace === EXCLUDED), job).toBe(true);
      expect(kept(job, EXCLUDED), job).toEqual([]);
    }
  });
});
