// The server's pod and StatefulSet shapes, without the engine.
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parsePrometheusConfig, type PrometheusConfig } from "../../../components/prometheus/config.js";
import { clusterRoleRules, configHash, ISTIO_CERT_ANNOTATIONS, prometheusFiles, statefulSetSpec, type StatefulSetSpecInput } from "../../../components/prometheus/workload.js";

const config = (over: Record<string, unknown> = {}): PrometheusConfig => parsePrometheusConfig(over).config!;
const spec = (over: Partial<StatefulSetSpecInput> = {}): any =>
  statefulSetSpec({ config: config(), selector: { app: "p" }, labels: { app: "p" }, serviceName: "prometheus", serviceAccountName: "prometheus", configMapName: "prometheus-config", configHash: "abc", mtls: false, retainOnDelete: true, ...over });

describe("Prometheus StatefulSet", () => {
  it("runs prom/prometheus v3.5.1 with the config, the data path and retention, without the unauthenticated lifecycle API", () => {
    const c = spec({ config: config({ retentionTime: "30d", retentionSize: "90GB", storageSize: "100Gi" }) }).template.spec.containers[0];
    expect(c.image).toBe("prom/prometheus:v3.5.1");
    expect(c.args).toEqual(["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus", "--storage.tsdb.retention.time=30d", "--storage.tsdb.retention.size=90GB"]);
    expect(c.args.join(" ")).not.toContain("lifecycle");
    // the `replica` external label's value
    expect(c.env).toEqual([{ name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }]);
    expect(spec({ config: config({ retentionSize: "" }) }).template.spec.containers[0].args).not.toContainEqual(expect.stringContaining("retention.size"));
    expect(c.readinessProbe.httpGet).toEqual({ path: "/-/ready", port: 9090 });
    expect(c.resources).toEqual({ requests: { cpu: "500m", memory: "2Gi", "ephemeral-storage": "100Mi" }, limits: { cpu: "2", memory: "4Gi", "ephemeral-storage": "1Gi" } });
  });

  it("runs as nobody with a read-only root filesystem", () => {
    const s = spec().template.spec;
    expect(s.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65534, fsGroup: 65534 });
    expect(s.containers[0].securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
  });

  it("claims its data volume with the size and class of the config (no class: the cluster default)", () => {
    const withClass = spec({ config: config({ storageClass: "fast-ssd", storageSize: "200Gi" }) }).volumeClaimTemplates[0];
    expect(withClass).toEqual({ metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "200Gi" } }, storageClassName: "fast-ssd" } });
    expect(spec().volumeClaimTemplates[0].spec).not.toHaveProperty("storageClassName");
  });

  it("keeps the data volumes on delete only with retainOnDelete", () => {
    expect(spec({ retainOnDelete: true }).persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Retain", whenScaled: "Retain" });
    expect(spec({ retainOnDelete: false }).persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Delete", whenScaled: "Retain" });
  });

  it("rolls the pod when the config hash changes", () => {
    expect(spec({ configHash: "123" }).template.metadata.annotations["checksum/config"]).toBe("123");
  });

  it("with mTLS scraping: Istio's cert-only sidecar annotations and the certs volume at /etc/prom-certs/", () => {
    const t = spec({ mtls: true }).template;
    expect(t.metadata.labels["sidecar.istio.io/inject"]).toBe("true");
    // opt-in and opt-out by the label only (the annotation is deprecated)
    expect(t.metadata.annotations).not.toHaveProperty("sidecar.istio.io/inject");
    expect(t.metadata.annotations).toMatchObject({
      "traffic.sidecar.istio.io/includeInboundPorts": "",
      // no istio-init (root, NET_ADMIN): the namespace enforces Pod Security restricted
      "sidecar.istio.io/interceptionMode": "NONE",
      "traffic.sidecar.istio.io/includeOutboundIPRanges": "",
      // Prometheus starts without waiting for its sidecar, so IstiodDown fires while istiod is down
      "proxy.istio.io/config": '{"holdApplicationUntilProxyStarts":false,"proxyMetadata":{"OUTPUT_CERTS":"/etc/istio-output-certs"}}',
      "sidecar.istio.io/userVolumeMount": '[{"name":"istio-certs","mountPath":"/etc/istio-output-certs"}]',
    });
    expect(t.spec.volumes).toContainEqual({ name: "istio-certs", emptyDir: { medium: "Memory" } });
    expect(t.spec.containers[0].volumeMounts).toContainEqual({ name: "istio-certs", mountPath: "/etc/prom-certs/", readOnly: true });
    expect(t.metadata.labels).not.toHaveProperty("istio.io/rev");
    expect(spec({ mtls: true, istioRevision: "stable" }).template.metadata.labels["istio.io/rev"]).toBe("stable");
  });

  it("without mTLS scraping: no sidecar at all", () => {
    const t = spec({ mtls: false }).template;
    expect(t.metadata.labels["sidecar.istio.io/inject"]).toBe("false");
    expect(spec({ mtls: false, istioRevision: "stable" }).template.metadata.labels).not.toHaveProperty("istio.io/rev");
    for (const k of Object.keys(ISTIO_CERT_ANNOTATIONS)) expect(t.metadata.annotations).not.toHaveProperty(k);
    expect(t.spec.volumes.map((v: { name: string }) => v.name)).toEqual(["config"]);
  });
});

describe("replicas and remote-write credentials", () => {
  it("spreads two replicas over nodes; one replica has no affinity", () => {
    expect(spec({ config: config({ replicas: 2 }) }).replicas).toBe(2);
    expect(spec({ config: config({ replicas: 2 }) }).template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution).toEqual([{ weight: 100, podAffinityTerm: { topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: { app: "p" } } } }]);
    expect(spec().template.spec).not.toHaveProperty("affinity");
  });

  it("mounts the credentials Secret beside the config only when there is one", () => {
    const t = spec({ secretName: "prometheus-remote-write" }).template.spec;
    expect(t.volumes).toContainEqual({ name: "secrets", secret: { secretName: "prometheus-remote-write" } });
    expect(t.containers[0].volumeMounts).toContainEqual({ name: "secrets", mountPath: "/etc/prometheus-secrets", readOnly: true });
    expect(spec().template.spec.volumes.map((v: { name: string }) => v.name)).not.toContain("secrets");
  });

  it("ships a remote-write endpoint's CA in the ConfigMap, its key never", () => {
    const ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    const { config: c, secrets } = parsePrometheusConfig({ remoteWrite: [{ url: "https://rw.example.com/push", tls: { ca, cert: ca, key: "-----BEGIN PRIVATE KEY-----x" } }] });
    const files = prometheusFiles({ config: c!, clusterName: "c", environment: "dev", meshMtls: "STRICT", remoteWriteSecrets: Object.keys(secrets!.remoteWrite) });
    expect(Object.keys(files).sort()).toEqual(["istio-rules.yml", "prometheus.yml", "remote-write-0-ca.pem", "remote-write-0-cert.pem"]);
    expect(parse(files["prometheus.yml"]!).remote_write[0].tls_config).toEqual({ ca_file: "/etc/prometheus/remote-write-0-ca.pem", cert_file: "/etc/prometheus/remote-write-0-cert.pem", key_file: "/etc/prometheus-secrets/remote-write-0-tls-key" });
    expect(JSON.stringify(files)).not.toContain("PRIVATE KEY");
  });
});

describe("RBAC and config files", () => {
  it("lets Prometheus discover and read what it scrapes, nothing more", () => {
    const rules = clusterRoleRules();
    expect(rules).toContainEqual({ apiGroups: [""], resources: ["nodes", "services", "endpoints", "pods"], verbs: ["get", "list", "watch"] });
    // the kubelet's metrics on its own port; never nodes/proxy (it reaches exec in any container)
    expect(rules).toContainEqual({ apiGroups: [""], resources: ["nodes/metrics"], verbs: ["get"] });
    expect(rules.flatMap((r) => (r.resources as string[] | undefined) ?? [])).not.toContain("nodes/proxy");
    expect(rules).toContainEqual({ apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["get", "list", "watch"] });
    expect(rules).toContainEqual({ nonResourceURLs: ["/metrics"], verbs: ["get"] });
    expect(rules.flatMap((r) => r.verbs as string[]).every((v) => ["get", "list", "watch"].includes(v))).toBe(true);
  });

  it("ship prometheus.yml and the rules side by side; the hash follows their content", () => {
    const input = { config: config(), clusterName: "c", environment: "dev", meshMtls: "STRICT" as const };
    const files = prometheusFiles(input);
    expect(Object.keys(files).sort()).toEqual(["istio-rules.yml", "prometheus.yml"]);
    expect(parse(files["prometheus.yml"]!).rule_files).toEqual(["istio-rules.yml"]);
    expect(configHash(files)).toMatch(/^[0-9a-f]{64}$/);
    expect(configHash(prometheusFiles(input))).toBe(configHash(files));
    expect(configHash(prometheusFiles({ ...input, config: config({ scrapeInterval: "1m" }) }))).not.toBe(configHash(files));
  });
});
