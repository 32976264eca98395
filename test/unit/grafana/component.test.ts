// Grafana under Pulumi mocks: the objects, the secret password, provisioning ConfigMaps per
// folder, the data volume, the pod's wiring to them, and the Gateway only when exposed.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { Issue } from "../../../lib/schema.js";
import { type GrafanaConfig, grafanaSchema } from "../../../components/grafana/config.js";
import { buildDashboards } from "../../../components/grafana/dashboards.js";
import { type Created, recordResources } from "../mocks.js";
import { ACCESS_ALIAS, dashboardInput, LOGS_ALIAS } from "../../builders/dashboard-input.js";

const created: Created[] = [];
const config = (raw: unknown): GrafanaConfig => {
  const issues: Issue[] = [];
  const c = grafanaSchema.parse(raw, "obs:grafana", issues);
  if (!c) throw new Error(JSON.stringify(issues));
  return c;
};
const named = (name: string) => {
  const c = created.filter((x) => x.name === name);
  expect(c, name).toHaveLength(1);
  return c[0]!;
};
const output = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));

const dashboards = buildDashboards(dashboardInput(true));
let url: string;

beforeAll(async () => {
  await recordResources(created);
  const { Grafana } = await import("../../../components/grafana/index.js");
  const common = { namespace: "observability", clusterDomain: "cluster.local", adminPassword: pulumi.secret("admin-pw-123"), prometheusUrl: "http://prometheus.observability.svc:9090", scrapeInterval: "30s", jaegerUrl: "http://jaeger-query.observability.svc.cluster.local:16686", retainOnDelete: true };
  const g = new Grafana("grafana", {
    ...common,
    config: config({}),
    dashboards,
    extraDashboards: { "mine.json": { uid: "mine", panels: [] } },
    elasticsearch: { url: "https://es-http.observability.svc:9200", user: "grafana", passwordSecret: pulumi.output("logging-es-grafana-credentials"), passwordKey: "password", caSecret: pulumi.output("logging-es-ca"), caKey: "ca.crt", accessIndex: ACCESS_ALIAS, logsIndex: LOGS_ALIAS },
  });
  new Grafana("exposed", { ...common, config: config({ expose: true, host: "grafana.example.com" }), dashboards: buildDashboards(dashboardInput(false)) });
  url = await output(g.url);
  await new Promise((r) => setTimeout(r, 200));
});

describe("Grafana component", () => {
  it("puts the admin password in its own Secret and nowhere else", () => {
    const s = named("grafana-admin");
    expect(s.type).toBe("kubernetes:core/v1:Secret");
    // wrapped with Pulumi's secret signature: encrypted in state, masked in output
    expect(s.inputs.stringData).toEqual({ [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig, value: { password: "admin-pw-123" } });
    expect(created.filter((c) => c !== s && JSON.stringify(c.inputs).includes("admin-pw-123")).map((c) => c.name)).toEqual(["exposed-admin"]);
  });

  it("provisions the datasources and one dashboards ConfigMap per folder", () => {
    const ds = parse(named("grafana-datasources").inputs.data["stack.yaml"]);
    expect(ds.datasources.map((d: any) => d.uid)).toEqual(["prometheus", "jaeger", "es-envoy-access", "es-k8s-logs"]);
    expect(JSON.stringify(ds)).not.toContain("admin-pw-123");
    expect(Object.keys(named("grafana-dashboards-mesh").inputs.data).sort()).toEqual(["obs-control-plane.json", "obs-mesh-overview.json", "obs-mesh-service.json", "obs-mesh-workload.json"]);
    expect(Object.keys(named("grafana-dashboards-stack").inputs.data)).toHaveLength(6);
    expect(Object.keys(named("grafana-dashboards-custom").inputs.data)).toEqual(["mine.json"]);
    expect(JSON.parse(named("grafana-dashboards-mesh").inputs.data["obs-mesh-overview.json"]).uid).toBe("obs-mesh-overview");
  });

  it("runs one pod (Recreate) on its data volume, wired to the Secrets and ConfigMaps", () => {
    expect(named("grafana-data").inputs.spec).toMatchObject({ accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "5Gi" } } });
    const dep = created.find((c) => c.name === "grafana" && c.type === "kubernetes:apps/v1:Deployment")!.inputs;
    expect(dep.spec.strategy).toEqual({ type: "Recreate" });
    const pod = dep.spec.template.spec;
    const env = Object.fromEntries(pod.containers[0].env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
    // readiness checks the database (/api/health); liveness only that the server answers, so a database hiccup restarts nothing
    expect(pod.containers[0].readinessProbe.httpGet).toEqual({ path: "/api/health", port: 3000 });
    expect(pod.containers[0].livenessProbe).toMatchObject({ tcpSocket: { port: 3000 } });
    expect(pod.containers[0].resources.limits).toHaveProperty("ephemeral-storage");
    expect(env).toMatchObject({ GF_SECURITY_ADMIN_PASSWORD__FILE: "/etc/grafana/admin/password", GF_AUTH_ANONYMOUS_ENABLED: "false", OBS_ES_READER_PASSWORD: { secretKeyRef: { name: "logging-es-grafana-credentials", key: "password" } } });
    expect(pod.volumes.map((v: any) => v.persistentVolumeClaim?.claimName ?? v.configMap?.name ?? v.secret?.secretName ?? v.name)).toEqual([
      "grafana-data",
      "tmp",
      "grafana-admin",
      "grafana-datasources",
      "grafana-dashboard-provider",
      "grafana-dashboards-mesh",
      "grafana-dashboards-stack",
      "grafana-dashboards-custom",
      "logging-es-ca",
    ]);
    expect(dep.spec.template.metadata.annotations["checksum/config"]).toMatch(/^[0-9a-f]{64}$/);
    expect(url).toBe("http://grafana.observability.svc.cluster.local:3000");
  });

  it("publishes through the ingress gateway only when exposed", () => {
    expect(created.filter((c) => c.name.startsWith("grafana-") && c.type.includes("apiextensions"))).toEqual([]);
    const gw = named("exposed-gateway").inputs;
    expect(gw.kind).toBe("Gateway");
    expect(gw.spec.servers[0]).toMatchObject({ hosts: ["grafana.example.com"], tls: { mode: "SIMPLE", credentialName: "grafana-tls" } });
    expect(named("exposed-route").inputs.spec.http[0].route[0].destination).toEqual({ host: "exposed.observability.svc.cluster.local", port: { number: 3000 } });
    const env = created.find((c) => c.name === "exposed" && c.type === "kubernetes:apps/v1:Deployment")!.inputs.spec.template.spec.containers[0].env;
    expect(env).toContainEqual({ name: "GF_SERVER_ROOT_URL", value: "https://grafana.example.com/" });
  });
});
