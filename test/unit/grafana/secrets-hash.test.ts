// Rotation of Grafana's and Kiali's secrets: the pod template carries a hash of what the pod
// reads from Secrets (never the value), so a changed secret rolls the pod; Grafana resets its
// admin password from the Secret on an existing database.
import { describe, expect, it } from "vitest";
import { SECRETS_HASH_ANNOTATION, secretHash } from "../../../components/k8s/hash.js";
import { adminPasswordScript, grafanaDeploymentSpec, type GrafanaPodInput } from "../../../components/grafana/workload.js";
import { kialiDeploymentSpec } from "../../../components/kiali/workload.js";
import { kialiSchema, type KialiConfig } from "../../../components/kiali/config.js";
import type { Issue } from "../../../lib/schema.js";

const grafana = (secretsHash?: string): any =>
  grafanaDeploymentSpec({
    selector: { app: "grafana" },
    labels: { app: "grafana" },
    configHash: "c",
    secretsHash,
    resources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { cpu: "500m", memory: "256Mi" } },
    claimName: "grafana-data",
    adminSecret: "grafana-admin",
    datasourcesConfigMap: "ds",
    providerConfigMap: "prov",
    dashboardConfigMaps: {},
  } as GrafanaPodInput);

describe("Grafana", () => {
  it("carries the secrets hash in its pod template: another admin or reader password, another template", () => {
    const a = grafana(secretHash("admin-pw-1", "reader"));
    const b = grafana(secretHash("admin-pw-2", "reader"));
    expect(a.template.metadata.annotations[SECRETS_HASH_ANNOTATION]).toMatch(/^[0-9a-f]{16}$/);
    expect(a.template.metadata.annotations[SECRETS_HASH_ANNOTATION]).not.toBe(b.template.metadata.annotations[SECRETS_HASH_ANNOTATION]);
    expect(JSON.stringify(a)).not.toContain("admin-pw-1");
    expect(grafana().template.metadata.annotations).not.toHaveProperty(SECRETS_HASH_ANNOTATION);
  });

  it("sets the admin password from the Secret on an existing database before Grafana starts", () => {
    const init = grafana("h").template.spec.initContainers[0];
    expect(init.name).toBe("admin-password");
    expect(init.command).toEqual(["sh", "-c", adminPasswordScript()]);
    expect(adminPasswordScript()).toContain("if [ -f /var/lib/grafana/grafana.db ]; then grafana cli --homepath /usr/share/grafana admin reset-admin-password --password-from-stdin < /etc/grafana/admin/password;");
    expect(init.volumeMounts.map((m: { name: string }) => m.name)).toEqual(["data", "tmp", "admin"]);
    expect(init.resources.limits).toBeDefined();
  });
});

describe("Kiali", () => {
  it("carries the secrets hash of its signing key and client secret", () => {
    const issues: Issue[] = [];
    const config = kialiSchema.parse({ auth: { strategy: "token" } }, "obs:kiali", issues) as KialiConfig;
    const spec = (secretsHash?: string): any => kialiDeploymentSpec({ instance: "kiali", config, serviceAccountName: "kiali", configMapName: "kiali", configHash: "c", signingKeySecret: "kiali-signing-key", secretsHash });
    const a = spec(secretHash("key-one-0123456789"));
    const b = spec(secretHash("key-two-0123456789"));
    expect(a.template.metadata.annotations[SECRETS_HASH_ANNOTATION]).not.toBe(b.template.metadata.annotations[SECRETS_HASH_ANNOTATION]);
    expect(spec().template.metadata.annotations).not.toHaveProperty(SECRETS_HASH_ANNOTATION);
  });
});
