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
    const config = parsePrometheusConfig({ retentionTime: "7d", storageSize: "20Gi", retentionSize: "16GB" }).config!;
    const prom = new Prometheus("prometheus", { namespace: "observability", clusterDomain: "cluster.local", config, clusterName: "dev-eu", environment: "dev", retainOnDelete: false, meshMtls: "STRICT", scrapeNamespaces: ["shop"] }, { providers: [provider] });

    expect(await output(prom.url)).toBe("http://prometheus.observability.svc.cluster.local:9090");
    expect(await output(prom.serviceName)).toBe("prometheus");
    expect(prom.configHash).toMatch(/^[0-9a-f]{64}$/);

    // Parent: the component's type sits in each child's URN.
    for (const r of [prom.serviceAccount, prom.clusterRole, prom.clusterRoleBinding, prom.configMap, prom.service, prom.statefulSet]) {
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
        "kubernetes:core/v1:Service prometheus-service",
        "kubernetes:apps/v1:StatefulSet prometheus-statefulset",
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
    expect(prom.global.external_labels).toEqual({ cluster: "dev-eu", environment: "dev" });
    expect(prom.scrape_configs.map((s: { job_name: string }) => s.job_name)).toContain("kubernetes-pods-istio-secure");
    expect(prom.scrape_configs.find((s: { job_name: string }) => s.job_name === "kubernetes-pods").kubernetes_sd_configs[0].namespaces.names).toEqual(["istio-system", "shop"]);
    expect(parse(data["istio-rules.yml"]).groups.length).toBeGreaterThan(0);
  });

  it("runs the StatefulSet with the config hash, the cert sidecar and the data volume policy", () => {
    const sts = find("kubernetes:apps/v1:StatefulSet").inputs;
    expect(sts.metadata).toMatchObject({ name: "prometheus", namespace: "observability" });
    expect(sts.spec.serviceName).toBe("prometheus");
    expect(sts.spec.template.spec.serviceAccountName).toBe("prometheus");
    expect(sts.spec.template.metadata.annotations["checksum/config"]).toMatch(/^[0-9a-f]{64}$/);
    expect(sts.spec.template.metadata.annotations["sidecar.istio.io/inject"]).toBe("true");
    expect(sts.spec.template.spec.containers[0].args).toContain("--storage.tsdb.retention.time=7d");
    expect(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe("20Gi");
    expect(sts.spec.persistentVolumeClaimRetentionPolicy.whenDeleted).toBe("Delete");
  });

  it("exposes 9090 through a ClusterIP Service selecting the pods", () => {
    const svc = find("kubernetes:core/v1:Service").inputs;
    const sts = find("kubernetes:apps/v1:StatefulSet").inputs;
    expect(svc.spec.type).toBe("ClusterIP");
    expect(svc.spec.ports).toEqual([{ name: "http-web", port: 9090, targetPort: "http-web" }]);
    expect(sts.spec.template.metadata.labels).toMatchObject(svc.spec.selector);
    expect(sts.spec.selector.matchLabels).toEqual(svc.spec.selector);
  });
});
