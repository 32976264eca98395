// Logging under Pulumi mocks: what is created, under which parent, in which order, with
// which options, and that the passwords only ever travel as secrets.
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { Issue } from "../../../lib/schema.js";
import type { LoggingConfig } from "../../../components/logging/config.js";
import { ACCESS_LOG_FIELDS, type AccessLogField } from "../../../components/mesh/access-log.js";
import { type Created, recordResources } from "../mocks.js";

interface Registration {
  parent: string;
  dependencies: string[];
  retainOnDelete?: boolean;
  deleteBeforeReplace?: boolean;
}
const created: Created[] = [];
const registrations = new Map<string, Registration>();

beforeAll(async () => {
  await recordResources(created);
  // The mocks do not see resource options; the monitor's requests carry them.
  const monitor = pulumi.runtime.getMonitor() as any;
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, cb: unknown) => {
    registrations.set(req.getName(), { parent: req.getParent(), dependencies: req.getDependenciesList(), retainOnDelete: req.getRetainondelete(), deleteBeforeReplace: req.getDeletebeforereplace() });
    return register(req, cb);
  };
});

const value = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));
const ELASTIC = "elastic-secret-pw-1";
const KIBANA = "kibana-secret-pw-2";

// Each test builds its own component under its own name.
async function logging(name: string, raw: Record<string, unknown>, extra: { retainOnDelete?: boolean; fields?: readonly AccessLogField[]; secret?: boolean; elastic?: string; kibana?: string } = {}) {
  const { Logging, loggingSchema, checkLogging } = await import("../../../components/logging/index.js");
  const issues: Issue[] = [];
  const config = loggingSchema.parse(raw, "obs:logging", issues) as LoggingConfig;
  checkLogging(config, issues);
  expect(issues).toEqual([]);
  const wrap = extra.secret === false ? (s: string) => s : pulumi.secret;
  const l = new Logging(name, { namespace: "obs", agentNamespace: "obs-logging", clusterDomain: "cluster.local", config, elasticPassword: wrap(extra.elastic ?? ELASTIC), kibanaPassword: wrap(extra.kibana ?? KIBANA), retainOnDelete: extra.retainOnDelete ?? true, accessLogFields: extra.fields });
  await Promise.all([value(l.elasticsearchUrl), value(l.kibanaPublicUrl), value(l.readerCredentialsSecret), value(l.caSecret), ...[l.elasticsearch, l.fluentd, l.kibana, l.certsJob, l.bootstrapJob, l.esExporter].map((r) => value(r.urn))]);
  // registrations behind dependsOn settle after the constructor returns
  await new Promise((r) => setTimeout(r, 200));
  const mine = created.filter((c) => c.name === name || c.name.startsWith(`${name}-`));
  const byType = (type: string) => mine.filter((c) => c.type === type);
  const one = (type: string, childName: string) => {
    const found = mine.find((c) => c.type === type && c.name === childName);
    expect(found, `${type} ${childName}`).toBeDefined();
    return found!;
  };
  return { l, mine, byType, one };
}

const K = {
  sts: "kubernetes:apps/v1:StatefulSet",
  ds: "kubernetes:apps/v1:DaemonSet",
  deploy: "kubernetes:apps/v1:Deployment",
  job: "kubernetes:batch/v1:Job",
  cm: "kubernetes:core/v1:ConfigMap",
  secret: "kubernetes:core/v1:Secret",
  svc: "kubernetes:core/v1:Service",
  pdb: "kubernetes:policy/v1:PodDisruptionBudget",
  gw: "kubernetes:networking.istio.io/v1:Gateway",
  vs: "kubernetes:networking.istio.io/v1:VirtualService",
};

/** Strings anywhere in `v` outside secret wrappers. */
function plainStrings(v: unknown): string[] {
  if (typeof v === "string") return [v];
  if (Array.isArray(v)) return v.flatMap(plainStrings);
  if (v && typeof v === "object") {
    if ((v as Record<string, unknown>)[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig) return [];
    return Object.values(v).flatMap(plainStrings);
  }
  return [];
}
const isSecret = (v: unknown) => !!v && typeof v === "object" && (v as Record<string, unknown>)[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig;
/** The value inside a secret wrapper (or the value itself). */
const unwrap = (v: any) => (isSecret(v) ? v.value : v);

describe("Logging component", () => {
  it("creates Elasticsearch, the Jobs, Fluentd and Kibana under the component", async () => {
    const { l, mine, byType, one } = await logging("logging", {});
    expect(mine.find((c) => c.type === "obs:logging:EFK")?.name).toBe("logging");
    for (const [res, type, child] of [
      [l.elasticsearch, K.sts, "logging-es"],
      [l.fluentd, K.ds, "logging-fluentd"],
      [l.kibana, K.deploy, "logging-kibana"],
      [l.certsJob, K.job, "logging-es-certs"],
      [l.bootstrapJob, K.job, "logging-es-bootstrap"],
      [l.esExporter, K.deploy, "logging-es-exporter"],
    ] as const) {
      expect(await value(res.urn)).toMatch(new RegExp(`obs:logging:EFK\\$${type.replace(/[.$/]/g, "\\$&")}::${child}$`));
    }
    // every child is parented by the component and named after it
    const component = await value(l.urn);
    for (const c of mine.filter((c) => c.type !== "obs:logging:EFK")) {
      expect(c.name.startsWith("logging-"), c.name).toBe(true);
      expect(registrations.get(c.name)?.parent, c.name).toBe(component);
    }
    expect(byType(K.svc).map((s) => s.inputs.metadata.name).sort()).toEqual(["logging-es-headless", "logging-es-http", "logging-kibana"]);
    expect(byType(K.pdb)).toEqual([]);
    expect(byType(K.gw)).toEqual([]);
    expect(byType(K.vs)).toEqual([]);
    expect(one(K.svc, "logging-es-headless").inputs.spec).toMatchObject({ clusterIP: "None", publishNotReadyAddresses: true });

    expect(await value(l.elasticsearchUrl)).toBe("https://logging-es-http.obs.svc.cluster.local:9200");
    expect(await value(l.kibanaUrl)).toBe("http://logging-kibana.obs.svc.cluster.local:5601");
    expect(await value(l.kibanaPublicUrl)).toBe("");
  });

  it("runs one Elasticsearch node with its heap, volume and config hash; unprivileged, the sysctl set by a DaemonSet in Fluentd's namespace", async () => {
    const { one } = await logging("l1", { elasticsearch: { heap: "512m", storageSize: "5Gi", storageClass: "local-path", resources: { requests: { memory: "1Gi" }, limits: { memory: "1Gi" } } } });
    const sts = one(K.sts, "l1-es").inputs;
    expect(sts.metadata).toMatchObject({ name: "l1-es", namespace: "obs" });
    expect(sts.spec).toMatchObject({ replicas: 1, serviceName: "l1-es-headless", podManagementPolicy: "Parallel" });
    const pod = sts.spec.template.spec;
    expect(pod.affinity).toBeUndefined();
    const es = pod.containers[0];
    expect(es.image).toBe("docker.elastic.co/elasticsearch/elasticsearch:8.19.5");
    expect(es.env).toEqual(expect.arrayContaining([{ name: "ES_JAVA_OPTS", value: "-Xms512m -Xmx512m" }, { name: "INTERNAL_PASSWORD", valueFrom: { secretKeyRef: { name: "l1-es-internal", key: "password" } } }]));
    // the pods never read the configured elastic password (the bootstrap Job sets it), so a rotation does not restart them
    expect(JSON.stringify(pod)).not.toContain("l1-es-elastic");
    expect(pod.initContainers ?? []).toEqual([]);
    // Pod Security restricted
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    expect(es.securityContext).toEqual({ allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" } });
    const sysctl = one(K.ds, "l1-es-max-map-count").inputs;
    expect(sysctl.metadata.namespace).toBe("obs-logging");
    expect(sysctl.spec.template.spec.initContainers[0].securityContext.privileged).toBe(true);
    expect(sysctl.spec.template.spec.initContainers[0].command.join(" ")).toContain("262144");
    expect(registrations.get("l1-es")!.dependencies.some((u) => u.endsWith("::l1-es-max-map-count"))).toBe(true);
    // the file-realm user's files from its Secret; certificates as a directory (a renewal reaches the running node)
    expect(es.volumeMounts).toEqual(expect.arrayContaining([{ name: "internal-user", mountPath: "/usr/share/elasticsearch/config/users", subPath: "users", readOnly: true }, { name: "certs", mountPath: "/usr/share/elasticsearch/config/certs", readOnly: true }]));
    expect(sts.spec.volumeClaimTemplates[0].spec).toEqual({ accessModes: ["ReadWriteOnce"], storageClassName: "local-path", resources: { requests: { storage: "5Gi" } } });
    const yml = one(K.cm, "l1-es-config").inputs.data["elasticsearch.yml"];
    expect(parse(yml)["discovery.type"]).toBe("single-node");
    const { configHash } = await import("../../../components/logging/workloads.js");
    expect(sts.spec.template.metadata.annotations["observability-stack/config-hash"]).toBe(configHash(yml));
  });

  it("skips the privileged DaemonSet when mmap is turned off", async () => {
    const { one, byType } = await logging("nommap", { elasticsearch: { setMaxMapCount: false } });
    expect(byType(K.ds).map((d) => d.name)).toEqual(["nommap-fluentd"]);
    expect(one(K.sts, "nommap-es").inputs.spec.template.spec.initContainers ?? []).toEqual([]);
    expect(parse(one(K.cm, "nommap-es-config").inputs.data["elasticsearch.yml"])["node.store.allow_mmap"]).toBe(false);
  });

  it("orders certificates -> Elasticsearch -> bootstrap -> Kibana; destroy never leaves the StatefulSet running, its volumes stay", async () => {
    const { l } = await logging("ord", {});
    const [certs, es, bootstrap] = await Promise.all([l.certsJob, l.elasticsearch, l.bootstrapJob].map((r) => value(r.urn)));
    expect(registrations.get("ord-es")!.dependencies).toContain(certs);
    expect(registrations.get("ord-es-bootstrap")!.dependencies).toContain(es);
    expect(registrations.get("ord-fluentd")!.dependencies).toContain(certs);
    expect(registrations.get("ord-kibana")!.dependencies).toContain(bootstrap);
    // retainOnDelete or not: the workload goes with its config, the claims' policy keeps the data
    expect(registrations.get("ord-es")!.retainOnDelete).toBeFalsy();
    expect(registrations.get("ord-fluentd")!.retainOnDelete).toBeFalsy();
    expect((await value(l.elasticsearch.spec)).persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Retain", whenScaled: "Retain" });
  });

  it("keeps the passwords secret: Secret inputs are marked secret and no input carries them in plain text", async () => {
    const { deriveFluentdPassword, deriveUserPassword } = await import("../../../components/logging/workloads.js");
    for (const [name, secret] of [["sec", true], ["plain", false]] as const) {
      const { mine, one, byType } = await logging(name, {}, { secret });
      // Fluentd's password also in its own namespace (a pod reads Secrets of its namespace only)
      const credentials = [`${name}-es-elastic`, `${name}-kibana-credentials`, `${name}-fluentd-credentials`, `${name}-fluentd-credentials-agent`, `${name}-es-monitoring-credentials`, `${name}-es-grafana-credentials`];
      expect(byType(K.secret).map((s) => s.name).sort()).toEqual([...credentials].sort());
      for (const s of credentials) {
        const stringData = one(K.secret, s).inputs.stringData;
        expect(Object.keys(unwrap(stringData)), s).toEqual(["password"]);
        expect(isSecret(stringData) || isSecret(stringData.password), s).toBe(true);
      }
      const strings = mine.flatMap((c) => plainStrings(c.inputs));
      expect(strings.filter((x) => x.includes(ELASTIC) || x.includes(KIBANA))).toEqual([]);
      // the derived passwords travel only in their Secrets as well, and differ per user
      const derived = [deriveFluentdPassword(ELASTIC), ...["monitoring", "grafana"].map((u) => deriveUserPassword(ELASTIC, u))];
      expect(new Set(derived).size).toBe(3);
      expect(deriveUserPassword(ELASTIC, "fluentd")).toBe(deriveFluentdPassword(ELASTIC));
      for (const pw of derived) expect(strings.filter((x) => x.includes(pw))).toEqual([]);
    }
    // the derivation is stable (no churn between runs) and one-way
    expect(deriveUserPassword("a", "grafana")).toBe(deriveUserPassword("a", "grafana"));
    expect(deriveUserPassword("a", "grafana")).not.toBe(deriveUserPassword("b", "grafana"));
    expect(deriveUserPassword("a", "grafana")).toMatch(/^[0-9a-f]{32}$/);
  });

  it("rotation: a new elastic password changes the templates of the bootstrap Job and of every pod reading a derived password, and nothing else", async () => {
    const template = async (name: string, elastic: string, kibana = KIBANA) => {
      const { one, l } = await logging(name, { elasticsearch: { nodes: 3 } }, { elastic, kibana });
      // the component's own name is in its config (so in the config hash); only the secrets may differ here
      const strip = (o: any) => {
        const t = JSON.parse(JSON.stringify(o).replaceAll(name, "X"));
        if (t?.metadata?.annotations) delete t.metadata.annotations["observability-stack/config-hash"];
        return t;
      };
      return {
        es: strip(one(K.sts, `${name}-es`).inputs.spec.template),
        fluentd: strip(one(K.ds, `${name}-fluentd`).inputs.spec.template),
        exporter: strip(one(K.deploy, `${name}-es-exporter`).inputs.spec.template),
        kibana: strip(one(K.deploy, `${name}-kibana`).inputs.spec.template),
        bootstrap: strip(one(K.job, `${name}-es-bootstrap`).inputs.metadata.name),
        readerHash: await value(l.readerPasswordHash),
      };
    };
    const before = await template("rota", ELASTIC);
    const after = await template("rotb", "a-rotated-elastic-pw");
    const hash = (t: any) => t.metadata.annotations["observability-stack/secrets-hash"];
    for (const pod of ["fluentd", "exporter"] as const) expect(hash(after[pod]), pod).not.toBe(hash(before[pod]));
    expect(after.bootstrap).not.toBe(before.bootstrap);
    expect(after.readerHash).not.toBe(before.readerHash);
    // Elasticsearch does not read the password: no restart of the data nodes; Kibana's own is unchanged
    expect(after.es).toEqual(before.es);
    expect(after.kibana).toEqual(before.kibana);
    // and a Kibana rotation rolls Kibana only
    const kib = await template("rotc", ELASTIC, "another-kibana-pw");
    expect(hash(kib.kibana)).not.toBe(hash(before.kibana));
    expect(kib.fluentd).toEqual(before.fluentd);
    expect(kib.bootstrap).not.toBe(before.bootstrap);
    // the hash is no secret: previews show it, and it is not the password
    for (const t of [after.fluentd, after.exporter]) expect(JSON.stringify(t)).not.toContain("a-rotated-elastic-pw");
  });

  it("runs Fluentd on every node with the node's logs, a buffer on the node and its config hash", async () => {
    const { one, byType } = await logging("fl", { fluentd: { bufferLimit: "4GB" } });
    const ds = one(K.ds, "fl-fluentd").inputs;
    const pod = ds.spec.template.spec;
    expect(pod.tolerations).toEqual([{ operator: "Exists" }]);
    expect(pod.serviceAccountName).toBe("fl-fluentd");
    const c = pod.containers[0];
    expect(c.image).toBe("fluent/fluentd-kubernetes-daemonset:v1.18.0-debian-elasticsearch8-1.0");
    // its own namespace, labelled privileged (root, hostPath); moving there deletes the old DaemonSet first
    expect(ds.metadata.namespace).toBe("obs-logging");
    const ns = one("kubernetes:core/v1:Namespace", "fl-agents").inputs;
    expect(ns.metadata.name).toBe("obs-logging");
    expect(ns.metadata.labels["pod-security.kubernetes.io/enforce"]).toBe("privileged");
    expect(registrations.get("fl-fluentd")!.deleteBeforeReplace).toBe(true);
    expect(c.env).toEqual(expect.arrayContaining([{ name: "FLUENT_ELASTICSEARCH_USER", value: "fluentd" }, { name: "FLUENT_ELASTICSEARCH_PASSWORD", valueFrom: { secretKeyRef: { name: "fl-fluentd-credentials", key: "password" } } }]));
    const hostPaths = Object.fromEntries(pod.volumes.filter((v: any) => v.hostPath).map((v: any) => [v.hostPath.path, v.hostPath.type]));
    expect(hostPaths).toEqual({ "/var/log": "Directory", "/var/log/fluentd-pos": "DirectoryOrCreate", "/var/log/fluentd-buffers": "DirectoryOrCreate" });
    expect(c.volumeMounts.find((m: any) => m.mountPath === "/var/log").readOnly).toBe(true);
    // fluent-plugin-prometheus on 24231, scraped through the pod annotations
    expect(c.ports).toEqual(expect.arrayContaining([{ name: "metrics", containerPort: 24231 }, { name: "monitor", containerPort: 24220 }]));
    expect(ds.spec.template.metadata.annotations).toMatchObject({ "prometheus.io/scrape": "true", "prometheus.io/port": "24231" });
    expect(ds.spec.template.metadata.labels).toMatchObject({ "sidecar.istio.io/inject": "false" });
    const conf = one(K.cm, "fl-fluentd").inputs.data["fluent.conf"];
    expect(conf).toContain("host fl-es-http.obs.svc");
    expect(conf).toContain('exclude_path ["/var/log/containers/*_obs-logging_fluentd-*.log"]');
    expect(conf.match(/total_limit_size 2048m/g)).toHaveLength(2);
    const { configHash } = await import("../../../components/logging/workloads.js");
    expect(ds.spec.template.metadata.annotations["observability-stack/config-hash"]).toBe(configHash(conf));
    // read pods and namespaces cluster-wide, nothing else
    const role = byType("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole")[0]!.inputs;
    expect(role.rules).toEqual([{ apiGroups: [""], resources: ["pods", "namespaces"], verbs: ["get", "list", "watch"] }]);
    // cluster-scoped: a fixed name carrying the stack's namespace
    expect(role.metadata.name).toBe("obs-fl-fluentd");
  });

  it("bootstraps from a ConfigMap the Job mounts, with passwords from Secrets", async () => {
    const { one, byType } = await logging("bs", { retentionDays: 3, rolloverSize: "5gb" });
    const files = one(K.cm, "bs-es-bootstrap").inputs.data;
    expect(JSON.parse(files["ilm-obs-logs.json"]).policy.phases.delete.min_age).toBe("3d");
    expect(files["bootstrap.sh"]).toMatch(/^#!\/usr\/bin\/env bash/);
    const job = one(K.job, "bs-es-bootstrap").inputs;
    // named after its template: fixed across runs, new when the template changes
    expect(job.metadata.name).toMatch(/^bs-es-bootstrap-[0-9a-f]{8}$/);
    const pod = job.spec.template.spec;
    expect(pod.volumes[0]).toEqual({ name: "scripts", configMap: { name: "bs-es-bootstrap" } });
    const env = Object.fromEntries(pod.containers[0].env.map((e: any) => [e.name, e.value ?? e.valueFrom.secretKeyRef.name]));
    expect(env).toMatchObject({
      ES_URL: "https://bs-es-http.obs.svc.cluster.local:9200",
      ADMIN_USER: "obs-internal",
      ADMIN_PASSWORD: "bs-es-internal",
      ELASTIC_PASSWORD: "bs-es-elastic",
      KIBANA_PASSWORD: "bs-kibana-credentials",
      FLUENTD_PASSWORD: "bs-fluentd-credentials",
      MONITORING_PASSWORD: "bs-es-monitoring-credentials",
      GRAFANA_PASSWORD: "bs-es-grafana-credentials",
      KIBANA_USER: "kibana_system",
    });
    expect(files["users.txt"].split("\n").filter(Boolean).map((l: string) => l.split(" ")[0])).toEqual(["fluentd", "monitoring", "grafana"]);
    expect(Object.keys(files).filter((f) => f.startsWith("role-")).sort()).toEqual(["role-fluentd_writer.json", "role-logs_reader.json", "role-metrics_exporter.json"]);
    expect(job.spec.template.metadata.labels).toMatchObject({ "sidecar.istio.io/inject": "false" });
    // the certs Job may create Secrets and replace only its own, here and (the CA) in Fluentd's namespace
    const [role, copyRole] = byType("kubernetes:rbac.authorization.k8s.io/v1:Role").map((r) => r.inputs);
    expect(role!.rules[1]).toEqual({ apiGroups: [""], resources: ["secrets"], resourceNames: ["bs-es-certs", "bs-es-ca", "bs-es-ca-key", "bs-es-internal"], verbs: ["get", "update"] });
    expect(copyRole!.metadata.namespace).toBe("obs-logging");
    expect(copyRole!.rules[1]).toEqual({ apiGroups: [""], resources: ["secrets"], resourceNames: ["bs-es-ca"], verbs: ["get", "update"] });
    const certsEnv = Object.fromEntries(one(K.job, "bs-es-certs").inputs.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value]));
    expect(certsEnv.CERT_DNS.split(",")).toEqual(expect.arrayContaining(["bs-es-http.obs.svc", "*.bs-es-headless.obs.svc"]));
  });

  it("runs elasticsearch-exporter as its own Deployment: pinned, verified TLS, its own user, scraped on 9114, after the bootstrap", async () => {
    const { l, one } = await logging("mon", { elasticsearch: { nodes: 3 } });
    const dep = one(K.deploy, "mon-es-exporter").inputs;
    expect(dep.metadata).toMatchObject({ name: "mon-es-exporter", namespace: "obs" });
    expect(dep.spec.replicas).toBe(1);
    const tpl = dep.spec.template;
    expect(tpl.metadata.annotations).toMatchObject({ "prometheus.io/scrape": "true", "prometheus.io/port": "9114" });
    expect(tpl.metadata.annotations["observability-stack/secrets-hash"]).toMatch(/^[0-9a-f]{16}$/);
    expect(tpl.metadata.labels).toMatchObject({ "sidecar.istio.io/inject": "false", "app.kubernetes.io/name": "es-exporter" });
    expect(dep.spec.selector.matchLabels).toEqual({ "app.kubernetes.io/name": "es-exporter", "app.kubernetes.io/instance": "mon" });
    const pod = tpl.spec;
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true });
    expect(pod.containers).toHaveLength(1);
    const c = pod.containers[0];
    expect(c.image).toBe("prometheuscommunity/elasticsearch-exporter:v1.9.0");
    expect(c.args).toEqual(["--es.uri=https://mon-es-http.obs.svc.cluster.local:9200", "--es.all", "--es.ca=/etc/elasticsearch-ca/ca.crt", "--es.timeout=10s", "--web.listen-address=:9114"]);
    // the CA is trusted, never skipped; credentials stay out of the URL and the arguments
    expect(c.args.join(" ")).not.toMatch(/ssl-skip-verify|@/);
    expect(c.env).toEqual([{ name: "ES_USERNAME", value: "monitoring" }, { name: "ES_PASSWORD", valueFrom: { secretKeyRef: { name: "mon-es-monitoring-credentials", key: "password" } } }]);
    expect(c.ports).toEqual([{ name: "metrics", containerPort: 9114 }]);
    expect(c.readinessProbe.httpGet).toEqual({ path: "/healthz", port: "metrics" });
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    expect(c.resources.limits).toEqual({ cpu: "200m", memory: "128Mi", "ephemeral-storage": "64Mi" });
    expect(c.volumeMounts).toEqual([{ name: "es-ca", mountPath: "/etc/elasticsearch-ca", readOnly: true }]);
    expect(pod.volumes).toEqual([{ name: "es-ca", secret: { secretName: "mon-es-ca" } }]);
    // its user exists once the bootstrap ran; the Elasticsearch pods are untouched by it
    expect(registrations.get("mon-es-exporter")!.dependencies).toContain(await value(l.bootstrapJob.urn));
    expect(one(K.sts, "mon-es").inputs.spec.template.spec.containers.map((x: any) => x.name)).toEqual(["elasticsearch"]);
  });

  it("gives Grafana (same namespace) a read-only user's Secret and the CA Secret to trust", async () => {
    const { l, one } = await logging("gf", {});
    expect(l.readerUser).toBe("grafana");
    expect(await value(l.readerCredentialsSecret)).toBe("gf-es-grafana-credentials");
    expect(l.readerPasswordKey).toBe("password");
    expect(Object.keys(unwrap(one(K.secret, "gf-es-grafana-credentials").inputs.stringData))).toEqual([l.readerPasswordKey]);
    expect(one(K.secret, "gf-es-grafana-credentials").inputs.metadata.namespace).toBe("obs");
    expect(await value(l.caSecret)).toBe("gf-es-ca");
    expect(l.caKey).toBe("ca.crt");
    // the same CA Secret and key the stack's own clients trust
    const kibana = one(K.deploy, "gf-kibana").inputs.spec.template.spec;
    expect(kibana.volumes).toContainEqual({ name: "es-ca", secret: { secretName: await value(l.caSecret) } });
    expect(kibana.containers[0].env).toContainEqual({ name: "ELASTICSEARCH_SSL_CERTIFICATEAUTHORITIES", value: `/etc/elasticsearch-ca/${l.caKey}` });
    // a resource consuming caSecret waits for the certs Job that creates it
    const { LOGS_ALIAS, PASSWORD_KEY, CA_KEY, GRAFANA_USER } = await import("../../../components/logging/index.js");
    expect([PASSWORD_KEY, CA_KEY, GRAFANA_USER, LOGS_ALIAS]).toEqual(["password", "ca.crt", "grafana", "k8s-logs"]);
    const deps = await new Promise<pulumi.Resource[]>((resolve) => (l.caSecret as any).allResources().then((r: Set<pulumi.Resource>) => resolve([...r])));
    expect(deps).toContain(l.certsJob);
  });

  it("takes a field added to the access-log definition into both Fluentd and the index template", async () => {
    const fields = [...ACCESS_LOG_FIELDS, { name: "grpc_status", envoy: "%GRPC_STATUS%", type: "keyword" as const }];
    const { one } = await logging("fields", {}, { fields });
    expect(one(K.cm, "fields-fluentd").inputs.data["fluent.conf"]).toContain(",grpc_status:string");
    const template = JSON.parse(one(K.cm, "fields-es-bootstrap").inputs.data["template-envoy-access.json"]);
    expect(template.template.mappings.properties.access.properties.grpc_status).toEqual({ type: "keyword", ignore_above: 2048 });
  });

  it("spreads three nodes, guards them with a PodDisruptionBudget and exposes Kibana through Istio", async () => {
    const raw = { elasticsearch: { nodes: 3 }, kibana: { expose: true, host: "kibana.example.com", tlsSecretName: "kibana-cert" } };
    const { l, one, byType } = await logging("prod", raw);
    const sts = one(K.sts, "prod-es").inputs;
    expect(sts.spec.replicas).toBe(3);
    expect(sts.spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey).toBe("kubernetes.io/hostname");
    expect(byType(K.pdb).map((p) => p.inputs.spec)).toEqual([{ maxUnavailable: 1, selector: { matchLabels: { "app.kubernetes.io/name": "elasticsearch", "app.kubernetes.io/instance": "prod" } } }]);
    expect(parse(one(K.cm, "prod-es-config").inputs.data["elasticsearch.yml"])["discovery.seed_hosts"]).toHaveLength(3);
    expect(JSON.parse(one(K.cm, "prod-es-bootstrap").inputs.data["template-k8s-logs.json"]).template.settings["index.number_of_replicas"]).toBe(1);

    const gw = one(K.gw, "prod-kibana-gateway").inputs;
    expect(gw).toMatchObject({ apiVersion: "networking.istio.io/v1", kind: "Gateway", metadata: { name: "prod-kibana", namespace: "obs" } });
    expect(gw.spec.servers).toEqual([{ port: { number: 443, name: "https-kibana", protocol: "HTTPS" }, hosts: ["kibana.example.com"], tls: { mode: "SIMPLE", credentialName: "kibana-cert" } }]);
    const vs = one(K.vs, "prod-kibana-route").inputs;
    expect(vs.spec).toEqual({ hosts: ["kibana.example.com"], gateways: ["obs/prod-kibana"], http: [{ route: [{ destination: { host: "prod-kibana.obs.svc.cluster.local", port: { number: 5601 } } }] }] });
    const kibanaEnv = one(K.deploy, "prod-kibana").inputs.spec.template.spec.containers[0].env;
    expect(kibanaEnv).toEqual(expect.arrayContaining([{ name: "SERVER_PUBLICBASEURL", value: "https://kibana.example.com" }, { name: "ELASTICSEARCH_USERNAME", value: "kibana_system" }]));
    expect(await value(l.kibanaPublicUrl)).toBe("https://kibana.example.com");
  });
});
