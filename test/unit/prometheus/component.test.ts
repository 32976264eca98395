// Prometheus under Pulumi mocks: which objects are created, under which parent and provider,
// and with which inputs.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parsePrometheusConfig } from "../../../components/prometheus/config.js";
import { type Created, recordResources } from "../mocks.js";

const created: Created[] = [];

beforeAll(async () => {
  await recordResources(created);
});

const output = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));
const find = (type: string) => {
  const c = created.filter((x) => x.type === type);
  expect(c, type).toHaveLength(1);
  return c[0]!;
};

describe("Prometheus component", () => {
  it("creates RBAC, config, Service and StatefulSet as its children, on the parent's provider", async () => {
    const k8s = await import("@pulumi/kubernetes");
    const { Prometheus } = await import("../../../components/prometheus/index.js");
    const provider = new k8s.Provider("k8s", { kubeconfig: "{}" });
    const { config, secrets } = parsePrometheusConfig({ retentionTime: "7d", storageSize: "20Gi", retentionSize: "16GB", replicas: 2, remoteWrite: [{ url: "https://mimir.example.com/api/v1/push", bearerToken: "rw-token-value" }] });
    const remoteWriteSecrets = Object.fromEntries(Object.entries(secrets!.remoteWrite).map(([k, v]) => [k, pulumi.secret(v)]));
    const prom = new Prometheus("prometheus", { namespace: "observability", clusterDomain: "cluster.local", config: config!, clusterName: "dev-eu", environment: "dev", retainOnDelete: false, meshMtls: "STRICT", remoteWriteSecrets }, { providers: [provider] });

    expect(await output(prom.url)).toBe("http://prometheus.observability.svc.cluster.local:9090");
    expect(await output(prom.serviceName)).toBe("prometheus");
    expect(prom.configHash).toMatch(/^[0-9a-f]{64}$/);

    // Parent: the component's type sits in each child's URN.
    for (const r of [prom.serviceAccount, prom.clusterRole, prom.clusterRoleBinding, prom.configMap, prom.secret!, prom.service, prom.statefulSet]) {
      expect(await output(r.urn)).toContain("::obs:prometheus:Prometheus$kubernetes:");
    }
    const providerUrn = await output(provider.urn);
    for (const c of created.filter((x) => x.type.startsWith("kubernetes:"))) expect(c.provider, c.name).toMatch(new RegExp(`^${providerUrn.replace(/[$]/g, "\\$")}::`));

    expect(created.filter((x) => x.type !== "pulumi:providers:kubernetes").map((c) => `${c.type} ${c.name}`).sort()).toEqual(
      [
        "obs:prometheus:Prometheus prometheus",
        "kubernetes:core/v1:ServiceAccount prometheus-serviceaccount",
        "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole prometheus-clusterrole",
        "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding prometheus-clusterrolebinding",
        "kubernetes:core/v1:ConfigMap prometheus-config",
        "kubernetes:core/v1:Secret prometheus-remote-write",
        "kubernetes:core/v1:Service prometheus-service",
        "kubernetes:apps/v1:StatefulSet prometheus-statefulset",
        "kubernetes:policy/v1:PodDisruptionBudget prometheus-pdb",
      ].sort(),
    );
  });

  it("binds the ClusterRole to the ServiceAccount", () => {
    const binding = find("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding").inputs;
    // cluster-scoped: a fixed name carrying the stack's namespace
    expect(binding.metadata.name).toBe("observability-prometheus");
    expect(binding.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "observability-prometheus" });
    expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "prometheus", namespace: "observability" }]);
    expect(find("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole").inputs.rules).toContainEqual({ apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["get", "list", "watch"] });
  });

  it("puts the rendered config and rules in the ConfigMap", () => {
    const data = find("kubernetes:core/v1:ConfigMap").inputs.data;
    const prom = parse(data["prometheus.yml"]);
    expect(prom.global.external_labels).toEqual({ cluster: "dev-eu", environment: "dev", replica: "${POD_NAME}" });
    expect(prom.scrape_configs.map((s: { job_name: string }) => s.job_name)).toContain("kubernetes-pods-istio-secure");
    expect(prom.scrape_configs.find((s: { job_name: string }) => s.job_name === "kubernetes-pods").kubernetes_sd_configs).toEqual([{ role: "pod" }]);
    expect(prom.remote_write).toEqual([{ url: "https://mimir.example.com/api/v1/push", authorization: { type: "Bearer", credentials_file: "/etc/prometheus-secrets/remote-write-0-bearer-token" } }]);
    expect(JSON.stringify(data)).not.toContain("rw-token-value");
    expect(parse(data["istio-rules.yml"]).groups.length).toBeGreaterThan(0);
  });

  it("runs the StatefulSet with the config hash, the cert sidecar and the data volume policy", () => {
    const sts = find("kubernetes:apps/v1:StatefulSet").inputs;
    expect(sts.metadata).toMatchObject({ name: "prometheus", namespace: "observability" });
    expect(sts.spec.serviceName).toBe("prometheus");
    expect(sts.spec.template.spec.serviceAccountName).toBe("prometheus");
    expect(sts.spec.template.metadata.annotations["checksum/config"]).toMatch(/^[0-9a-f]{64}$/);
    expect(sts.spec.template.metadata.labels["sidecar.istio.io/inject"]).toBe("true");
    expect(sts.spec.template.metadata.annotations).not.toHaveProperty("sidecar.istio.io/inject");
    expect(sts.spec.replicas).toBe(2);
    expect(sts.spec.template.spec.volumes).toContainEqual({ name: "secrets", secret: { secretName: "prometheus-remote-write" } });
    expect(sts.spec.template.spec.containers[0].args).toContain("--storage.tsdb.retention.time=7d");
    expect(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe("20Gi");
    expect(sts.spec.persistentVolumeClaimRetentionPolicy.whenDeleted).toBe("Delete");
  });

  it("lets one of its two replicas go at a time (PodDisruptionBudget)", () => {
    const pdb = find("kubernetes:policy/v1:PodDisruptionBudget").inputs;
    expect(pdb.spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: find("kubernetes:apps/v1:StatefulSet").inputs.spec.selector.matchLabels } });
  });

  it("keeps the remote-write credentials in a Secret, as Pulumi secrets", async () => {
    const secret = find("kubernetes:core/v1:Secret").inputs;
    expect(secret.metadata).toMatchObject({ name: "prometheus-remote-write", namespace: "observability" });
    // the whole map arrives as one secret value: no credential in plain text in the state
    expect(secret.stringData).toEqual({ [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig, value: { "remote-write-0-bearer-token": "rw-token-value" } });
  });

  it("exposes 9090 through the headless Service the StatefulSet names, selecting the pods", () => {
    const svc = find("kubernetes:core/v1:Service").inputs;
    const sts = find("kubernetes:apps/v1:StatefulSet").inputs;
    expect(svc.spec.clusterIP).toBe("None");
    expect(sts.spec.serviceName).toBe(svc.metadata.name);
    expect(svc.spec.ports).toEqual([{ name: "http-web", port: 9090, targetPort: "http-web" }]);
    expect(sts.spec.template.metadata.labels).toMatchObject(svc.spec.selector);
    expect(sts.spec.selector.matchLabels).toEqual(svc.spec.selector);
  });
});
