// The Alertmanager component under Pulumi mocks: the receivers' secrets only in the Secret (as a
// Pulumi secret), a ConfigMap without them, the StatefulSet wired to both, a PDB only when clustered.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { type AlertingConfig, parseAlertingConfig } from "../../../components/prometheus/alerting/config.js";
import { type Created, recordResources } from "../mocks.js";

const created: Created[] = [];
const SECRET = "https://hooks.example.com/x?token=t0k3n-s3cr3t";
const config = (raw: Record<string, unknown>): AlertingConfig => {
  const { config: c, issues } = parseAlertingConfig(raw);
  expect(issues).toEqual([]);
  return c!;
};
const named = (name: string, type?: string) => {
  const c = created.filter((x) => x.name === name && (!type || x.type === type));
  expect(c, name).toHaveLength(1);
  return c[0]!;
};
let target: unknown;

beforeAll(async () => {
  await recordResources(created);
  const { Alertmanager } = await import("../../../components/prometheus/alerting/index.js");
  const cfg = config({ replicas: 3, receivers: { hook: { type: "webhook", url: SECRET } }, route: { receiver: "hook" } });
  const am = new Alertmanager("alertmanager", { namespace: "observability", clusterDomain: "cluster.local", config: cfg, secrets: pulumi.secret({ hook: SECRET }) });
  new Alertmanager("single", { namespace: "observability", clusterDomain: "cluster.local", config: config({}), secrets: {} });
  target = am.target;
  await new Promise((r) => setTimeout(r, 200));
});

describe("Alertmanager component", () => {
  it("keeps the receivers' secrets in the Secret only, wrapped as a Pulumi secret", () => {
    const s = named("alertmanager-receivers");
    expect(s.type).toBe("kubernetes:core/v1:Secret");
    expect(s.inputs.stringData).toEqual({ [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig, value: { "hook.url": SECRET } });
    expect(created.filter((c) => c !== s && JSON.stringify(c.inputs).includes("t0k3n")).map((c) => c.name)).toEqual([]);
  });

  it("puts alertmanager.yml in a ConfigMap that names the secret file", () => {
    const yml = parse(named("alertmanager-config").inputs.data["alertmanager.yml"]);
    expect(yml.receivers.find((r: any) => r.name === "hook").webhook_configs[0].url_file).toBe("/etc/alertmanager/secrets/hook.url");
  });

  it("runs a StatefulSet behind a headless Service, with a PDB when clustered", () => {
    const set = named("alertmanager-statefulset").inputs;
    expect(set.spec.replicas).toBe(3);
    expect(set.spec.template.metadata.annotations["checksum/config"]).toMatch(/^[0-9a-f]{64}$/);
    expect(named("alertmanager-service").inputs.spec.clusterIP).toBe("None");
    expect(named("alertmanager-pdb").inputs.spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: set.spec.selector.matchLabels } });
    expect(created.filter((c) => c.name === "single" && c.type === "kubernetes:policy/v1:PodDisruptionBudget")).toEqual([]);
    expect(target).toEqual({ namespace: "observability", service: "alertmanager", portName: "http-web" });
  });
});
