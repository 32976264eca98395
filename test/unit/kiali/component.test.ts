// Kiali under Pulumi mocks: which objects are created, under which parent and provider, and
// with which inputs; exposed and not, token and anonymous.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { Issue } from "../../../lib/schema.js";
import { type KialiConfig, kialiSchema } from "../../../components/kiali/config.js";
import { type Created, recordResources } from "../mocks.js";

const created: Created[] = [];
const output = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));
const config = (raw: unknown): KialiConfig => {
  const issues: Issue[] = [];
  const c = kialiSchema.parse(raw, "obs:kiali", issues);
  if (!c) throw new Error(JSON.stringify(issues));
  return c;
};
const of = (prefix: string) => created.filter((c) => c.name.startsWith(`${prefix}-`) || c.name === prefix);
const one = (prefix: string, type: string) => {
  const c = of(prefix).filter((x) => x.type === type);
  expect(c, `${prefix} ${type}`).toHaveLength(1);
  return c[0]!.inputs;
};

const common = {
  clusterDomain: "cluster.local",
  namespace: "observability",
  prometheusUrl: "http://prometheus.observability.svc:9090",
  tracingUrl: "http://jaeger-query.observability.svc.cluster.local:16686",
  istioNamespace: "istio-system",
};

let kiali: InstanceType<typeof import("../../../components/kiali/index.js").Kiali>;
let providerUrn: string;

beforeAll(async () => {
  await recordResources(created);
  const k8s = await import("@pulumi/kubernetes");
  const { Kiali } = await import("../../../components/kiali/index.js");
  const provider = new k8s.Provider("k8s", { kubeconfig: "{}" });
  providerUrn = await output(provider.urn);
  kiali = new Kiali(
    "kiali",
    {
      ...common,
      config: config({ expose: true, host: "kiali.example.com" }),
      signingKey: pulumi.secret("0123456789abcdef"),
      grafanaUrl: pulumi.output("http://grafana.observability.svc:3000"),
      grafanaDashboards: [{ name: "Mesh overview" }],
    },
    { providers: [provider] },
  );
  const local = new Kiali("local", { ...common, config: config({ auth: { strategy: "anonymous" }, viewOnly: false }) }, { providers: [provider] });
  // registrations wait for their inputs: wait until every child is registered
  for (const k of [kiali, local]) for (const r of [k.serviceAccount, k.clusterRole, k.clusterRoleBinding, k.configMap, k.deployment, k.service, k.gateway, k.virtualService]) if (r) await output(r.urn);
});

describe("Kiali component", () => {
  it("creates its objects as children, on the parent's provider", async () => {
    expect(of("kiali").map((c) => `${c.type} ${c.name}`).sort()).toEqual(
      [
        "obs:kiali:Kiali kiali",
        "kubernetes:core/v1:ServiceAccount kiali-serviceaccount",
        "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole kiali-clusterrole",
        "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding kiali-clusterrolebinding",
        "kubernetes:core/v1:ConfigMap kiali-config",
        "kubernetes:core/v1:Secret kiali-signing-key",
        "kubernetes:apps/v1:Deployment kiali-deployment",
        "kubernetes:core/v1:Service kiali-service",
        "kubernetes:networking.istio.io/v1:Gateway kiali-gateway",
        "kubernetes:networking.istio.io/v1:VirtualService kiali-route",
      ].sort(),
    );
    for (const r of [kiali.serviceAccount, kiali.clusterRole, kiali.clusterRoleBinding, kiali.configMap, kiali.deployment, kiali.service]) expect(await output(r.urn)).toContain("::obs:kiali:Kiali$kubernetes:");
    for (const c of created.filter((x) => x.type.startsWith("kubernetes:"))) expect(c.provider, c.name).toMatch(new RegExp(`^${providerUrn.replace(/[$]/g, "\\$")}::`));
    expect(await output(kiali.url)).toBe("http://kiali.observability.svc.cluster.local:20001/kiali");
    expect(await output(kiali.publicUrl)).toBe("https://kiali.example.com/kiali");
  });

  it("binds a read-only ClusterRole to the ServiceAccount", () => {
    const binding = one("kiali", "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding");
    // cluster-scoped: a fixed name carrying the stack's namespace
    expect(binding.metadata.name).toBe("observability-kiali");
    expect(binding.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "observability-kiali" });
    expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "kiali", namespace: "observability" }]);
    const verbs = one("kiali", "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole").rules.flatMap((r: { verbs: string[] }) => r.verbs);
    expect(verbs).not.toContain("patch");
    expect(verbs).not.toContain("delete");
  });

  it("puts the generated config.yaml in the ConfigMap", () => {
    const s = parse(one("kiali", "kubernetes:core/v1:ConfigMap").data["config.yaml"]);
    expect(s.auth.strategy).toBe("token");
    expect(s.external_services.prometheus.url).toBe(common.prometheusUrl);
    expect(s.external_services.tracing.internal_url).toBe(common.tracingUrl);
    expect(s.external_services.grafana).toMatchObject({ enabled: true, internal_url: "http://grafana.observability.svc:3000", dashboards: [{ name: "Mesh overview" }] });
    expect(s.deployment.namespace).toBe("observability");
  });

  it("runs the pinned image non-root, without a sidecar, with probes, the config hash and the signing key file", async () => {
    const spec = one("kiali", "kubernetes:apps/v1:Deployment").spec;
    const pod = spec.template;
    const c = pod.spec.containers[0];
    expect(c.image).toBe("quay.io/kiali/kiali:v2.26.0");
    expect(c.ports).toEqual([{ name: "http", containerPort: 20001 }, { name: "http-metrics", containerPort: 9090 }]);
    expect(c.readinessProbe.httpGet).toEqual({ path: "/kiali/healthz", port: "http" });
    expect(c.readinessProbe.httpGet).toEqual({ path: "/kiali/healthz", port: "http" });
    // not the readiness check again (kube-score pod-probes-identical): a slow healthz takes it out of the Service, no restart
    expect(c.livenessProbe).toMatchObject({ tcpSocket: { port: "http" } });
    expect(c.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
    expect(pod.spec.securityContext.runAsNonRoot).toBe(true);
    expect(pod.metadata.labels["sidecar.istio.io/inject"]).toBe("false");
    expect(pod.metadata.annotations["checksum/config"]).toMatch(/^[0-9a-f]{64}$/);
    expect(pod.spec.serviceAccountName).toBe("kiali");
    expect(c.volumeMounts).toContainEqual({ name: "signing-key", mountPath: "/kiali-override-secrets/login-token-signing-key", readOnly: true });
    expect(pod.spec.volumes).toContainEqual({ name: "signing-key", secret: { secretName: "kiali-signing-key" } });
    expect(pod.spec.volumes).toContainEqual({ name: "config", configMap: { name: "kiali" } });
    const secret = one("kiali", "kubernetes:core/v1:Secret");
    // a Pulumi secret (the mock monitor keeps the secret wrapper) in the file Kiali reads: a 32-byte AES key derived from the configured one
    const { sessionKey } = await import("../../../components/kiali/workload.js");
    expect(sessionKey("0123456789abcdef")).toMatch(/^[0-9a-f]{32}$/);
    expect(secret.stringData).toEqual({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value: { "value.txt": sessionKey("0123456789abcdef") } });
  });

  it("rolls the pods when the config changes", async () => {
    const { configHash } = await import("../../../components/kiali/workload.js");
    const data = one("kiali", "kubernetes:core/v1:ConfigMap").data["config.yaml"];
    expect(one("kiali", "kubernetes:apps/v1:Deployment").spec.template.metadata.annotations["checksum/config"]).toBe(configHash(data));
  });

  it("serves 20001 and 9090 through a ClusterIP Service selecting the pods", () => {
    const svc = one("kiali", "kubernetes:core/v1:Service").spec;
    const dep = one("kiali", "kubernetes:apps/v1:Deployment").spec;
    expect(svc.type).toBe("ClusterIP");
    expect(svc.ports.map((p: { port: number }) => p.port)).toEqual([20001, 9090]);
    expect(dep.selector.matchLabels).toEqual(svc.selector);
    expect(dep.template.metadata.labels).toMatchObject(svc.selector);
  });

  it("exposed: HTTPS Gateway with the TLS Secret, VirtualService to the Service, / sent to /kiali/", () => {
    const gw = one("kiali", "kubernetes:networking.istio.io/v1:Gateway");
    expect(gw.spec).toEqual({ selector: { istio: "ingressgateway" }, servers: [{ port: { number: 443, name: "https-kiali", protocol: "HTTPS" }, hosts: ["kiali.example.com"], tls: { mode: "SIMPLE", credentialName: "kiali-tls" } }] });
    const vs = one("kiali", "kubernetes:networking.istio.io/v1:VirtualService");
    expect(vs.spec.gateways).toEqual(["observability/kiali"]);
    expect(vs.spec.http[0]).toEqual({ match: [{ uri: { exact: "/" } }], redirect: { uri: "/kiali/" } });
    expect(vs.spec.http[1]).toEqual({ route: [{ destination: { host: "kiali.observability.svc.cluster.local", port: { number: 20001 } } }] });
  });

  it("anonymous, writable, not exposed: no signing key, no Gateway, the write verbs, Grafana off", () => {
    const local = of("local");
    expect(local.map((c) => c.type)).not.toContain("kubernetes:core/v1:Secret");
    expect(local.map((c) => c.type)).not.toContain("kubernetes:networking.istio.io/v1:Gateway");
    const rules = local.find((c) => c.type === "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")!.inputs.rules;
    expect(rules.flatMap((r: { verbs: string[] }) => r.verbs)).toEqual(expect.arrayContaining(["create", "delete", "patch"]));
    const s = parse(local.find((c) => c.type === "kubernetes:core/v1:ConfigMap")!.inputs.data["config.yaml"]);
    expect(s.auth.strategy).toBe("anonymous");
    expect(s.deployment.view_only_mode).toBe(false);
    expect(s.external_services.grafana).toEqual({ enabled: false });
    const pod = local.find((c) => c.type === "kubernetes:apps/v1:Deployment")!.inputs.spec.template.spec;
    expect(pod.volumes).toEqual([{ name: "config", configMap: { name: "local" } }]);
  });

  it("refuses a non-anonymous strategy without a signing key", async () => {
    const { Kiali } = await import("../../../components/kiali/index.js");
    expect(() => new Kiali("nokey", { ...common, config: config({}) })).toThrow(/auth\.strategy token needs a signingKey \(obs:kiali\.signingKey\)/);
  });
});
