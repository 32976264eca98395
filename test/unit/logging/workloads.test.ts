// Elasticsearch's pod as data-safety and Pod Security want it (workloads.ts): readiness that
// waits for this node's shard copies, with the probe password off every command line;
// cluster.initial_master_nodes only before the cluster formed; quorum spread; the Services'
// TLS port named https; a rotation changing only the templates of the pods that read a secret.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { Issue } from "../../../lib/schema.js";
import { checkLogging, type LoggingConfig, loggingSchema } from "../../../components/logging/config.js";
import { loggingNames } from "../../../components/logging/names.js";
import { elasticsearchYml } from "../../../components/logging/elasticsearch.js";
import { secretHash } from "../../../components/k8s/hash.js";
import { zoneScript } from "../../../components/logging/workloads.js";
import { esCommand, esExporterDeploymentSpec, esHeadlessServiceSpec, esHttpServiceSpec, esReadinessScript, esStatefulSetSpec, fluentdDaemonSetSpec, kibanaDeploymentSpec, spreadOverNodes } from "../../../components/logging/workloads.js";

function config(raw: Record<string, unknown>): { config?: LoggingConfig; problems: string[] } {
  const issues: Issue[] = [];
  const c = loggingSchema.parse(raw, "obs:logging", issues) as LoggingConfig | undefined;
  if (c) checkLogging(c, issues);
  return { config: c, problems: issues.map((i) => `${i.key} = ${JSON.stringify(i.value)}: ${i.allowed}`) };
}
const n = loggingNames("logging");

describe("Elasticsearch readiness", () => {
  /** Runs the probe with a fake curl that logs its argv and stdin and answers health and shards. */
  function probe(shards: string, healthCode = "200"): { status: number | null; argv: string; stdin: string } {
    const dir = mkdtempSync(path.join(tmpdir(), "es-probe-"));
    writeFileSync(
      path.join(dir, "curl"),
      `#!/usr/bin/env bash
echo "$*" >> "${dir}/argv"; cat >> "${dir}/stdin"
case "$*" in *_cluster/health*) printf '%s' "${healthCode}" ;; *_cat/shards*) printf '%s\\n' "${shards}" ;; esac
`,
    );
    chmodSync(path.join(dir, "curl"), 0o755);
    const r = spawnSync("bash", ["-c", esReadinessScript("/ca.crt")], { env: { PATH: `${dir}:${process.env.PATH}`, POD_NAME: "logging-es-1", INTERNAL_USER: "obs-internal", INTERNAL_PASSWORD: "s3cret-probe-pw" }, encoding: "utf8" });
    return { status: r.status, argv: readFileSync(path.join(dir, "argv"), "utf8"), stdin: readFileSync(path.join(dir, "stdin"), "utf8") };
  }

  it("is ready when the cluster is at least yellow and no copy on this node initialises or relocates", () => {
    expect(probe("STARTED logging-es-1\nINITIALIZING logging-es-2").status).toBe(0);
    expect(probe("STARTED logging-es-0\nINITIALIZING logging-es-1").status).toBe(1);
    expect(probe("RELOCATING logging-es-1 -> 10.0.0.3 abc logging-es-2").status).toBe(1);
    expect(probe("RELOCATING logging-es-0 -> 10.0.0.3 abc logging-es-1").status).toBe(1);
    // logging-es-10 is another node
    expect(probe("INITIALIZING logging-es-10").status).toBe(0);
    // red, or no answer in time (408): not ready
    expect(probe("", "408").status).toBe(1);
    expect(probe("", "000").status).toBe(1);
  });

  it("asks for yellow and the shard list, with the password on curl's standard input, never on a command line", () => {
    const r = probe("STARTED logging-es-1");
    expect(r.argv).toContain("/_cluster/health?wait_for_status=yellow&timeout=1s");
    expect(r.argv).toContain("/_cat/shards?h=state,node");
    expect(r.argv).not.toContain("s3cret-probe-pw");
    expect(r.stdin).toContain('user = "obs-internal:s3cret-probe-pw"');
    expect(esReadinessScript("/ca.crt")).not.toMatch(/-u |--user/);
  });
});

describe("Elasticsearch StatefulSet", () => {
  it("sets cluster.initial_master_nodes only while the node has no cluster state of its own", () => {
    expect(esCommand([])).toEqual([]);
    const cmd = esCommand(["logging-es-0", "logging-es-1", "logging-es-2"]);
    expect(cmd.slice(0, 2)).toEqual(["bash", "-c"]);
    const script = cmd[2]!;
    expect(script).toContain('if [ -d /usr/share/elasticsearch/data/_state ]; then exec env node.attr.zone="$zone" /usr/local/bin/docker-entrypoint.sh eswrapper; fi');
    expect(script).toContain('exec env node.attr.zone="$zone" cluster.initial_master_nodes=logging-es-0,logging-es-1,logging-es-2 /usr/local/bin/docker-entrypoint.sh eswrapper');
    // and the generated elasticsearch.yml no longer carries it
    const three = esStatefulSetSpec({ instance: "logging", names: n, config: config({ elasticsearch: { nodes: 3 } }).config!.elasticsearch, configHash: "h" }) as any;
    expect(three.template.spec.containers[0].command).toEqual(cmd);
    expect(elasticsearchYml({ clusterName: "c", nodes: 3, names: n, namespace: "obs", clusterDomain: "cluster.local", allowMmap: true })).not.toContain("initial_master_nodes");
  });

  it("zone awareness: the init container writes the node's zone label (none without one), the node attribute follows it", () => {
    const run = (nodeJson: string) => {
      const dir = mkdtempSync(path.join(tmpdir(), "es-zone-"));
      writeFileSync(path.join(dir, "curl"), `#!/usr/bin/env bash\necho "$*" > "${dir}/argv"\nprintf '%s' '${nodeJson}'\n`);
      chmodSync(path.join(dir, "curl"), 0o755);
      const sa = path.join(dir, "sa");
      const script = zoneScript().replaceAll("/var/run/secrets/kubernetes.io/serviceaccount", sa).replaceAll("/var/run/es-zone", dir);
      spawnSync("mkdir", ["-p", sa]);
      writeFileSync(path.join(sa, "token"), "tok-123");
      const r = spawnSync("bash", ["-c", script], { env: { PATH: `${dir}:${process.env.PATH}`, NODE_NAME: "worker-2" }, encoding: "utf8" });
      return { status: r.status, zone: readFileSync(path.join(dir, "zone"), "utf8"), argv: readFileSync(path.join(dir, "argv"), "utf8") };
    };
    // the API server's compact JSON, with the label in managedFields too
    const labelled = run('{"kind":"Node","metadata":{"name":"worker-2","labels":{"kubernetes.io/hostname":"worker-2","topology.kubernetes.io/zone":"eu-west-1b"},"managedFields":[{"fieldsV1":{"f:metadata":{"f:labels":{"f:topology.kubernetes.io/zone":{}}}}}]}}');
    expect(labelled).toMatchObject({ status: 0, zone: "eu-west-1b" });
    expect(labelled.argv).toContain("/api/v1/nodes/worker-2");
    expect(labelled.argv).not.toContain("tok-123");
    expect(run('{"kind":"Node","metadata":{"name":"worker-2","labels":{}}}').zone).toBe("none");
    const yml = elasticsearchYml({ clusterName: "c", nodes: 3, names: n, namespace: "obs", clusterDomain: "cluster.local", allowMmap: true });
    expect(yml).toContain("cluster.routing.allocation.awareness.attributes: zone");
    expect(elasticsearchYml({ clusterName: "c", nodes: 1, names: n, namespace: "obs", clusterDomain: "cluster.local", allowMmap: true })).not.toContain("awareness");
    const three = esStatefulSetSpec({ instance: "logging", names: n, config: config({ elasticsearch: { nodes: 3 } }).config!.elasticsearch, configHash: "h" }) as any;
    expect(three.template.spec.initContainers.map((c: { name: string }) => c.name)).toEqual(["zone"]);
    expect(three.template.spec.serviceAccountName).toBe("logging-es");
    const one = esStatefulSetSpec({ instance: "logging", names: n, config: config({}).config!.elasticsearch, configHash: "h" }) as any;
    expect(one.template.spec.automountServiceAccountToken).toBe(false);
  });

  it("spreads three nodes over distinct nodes: required when asked (staging, prod), preferred otherwise; over zones when it can", () => {
    const sel = { "app.kubernetes.io/name": "elasticsearch" };
    expect((spreadOverNodes(sel, true).affinity as any).podAntiAffinity).toEqual({ requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: "kubernetes.io/hostname", labelSelector: { matchLabels: sel } }] });
    expect((spreadOverNodes(sel, false).affinity as any).podAntiAffinity).toHaveProperty("preferredDuringSchedulingIgnoredDuringExecution");
    expect(spreadOverNodes(sel, true).topologySpreadConstraints).toEqual([{ maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: sel } }]);
    const es = config({ elasticsearch: { nodes: 3 } }).config!.elasticsearch;
    const hard = esStatefulSetSpec({ instance: "logging", names: n, config: es, configHash: "h", requireSpread: true }) as any;
    expect(hard.template.spec.affinity.podAntiAffinity).toHaveProperty("requiredDuringSchedulingIgnoredDuringExecution");
  });

  it("names the TLS port https on both Services", () => {
    for (const spec of [esHeadlessServiceSpec("logging"), esHttpServiceSpec("logging")]) {
      const tls = (spec.ports as any[]).find((p) => p.port === 9200);
      expect(tls).toMatchObject({ name: "https", targetPort: "https", appProtocol: "https" });
    }
  });

  it("gives every container requests and limits, ephemeral storage included", () => {
    const c = config({}).config!;
    const specs = [
      esStatefulSetSpec({ instance: "l", names: n, config: c.elasticsearch, configHash: "h" }).template,
      fluentdDaemonSetSpec({ instance: "l", names: n, resources: c.fluentd.resources, serviceAccount: "sa", configHash: "h" }).template,
      esExporterDeploymentSpec({ instance: "l", names: n, esUrl: "https://x" }).template,
      kibanaDeploymentSpec({ instance: "l", names: n, esUrl: "https://x", resources: c.kibana.resources }).template,
    ] as any[];
    for (const t of specs) {
      for (const ctr of [...(t.spec.initContainers ?? []), ...t.spec.containers]) {
        for (const kind of ["requests", "limits"]) expect(Object.keys(ctr.resources[kind]).sort(), `${ctr.name} ${kind}`).toEqual(["cpu", "ephemeral-storage", "memory"]);
      }
    }
  });
});

describe("secret rotation", () => {
  it("the hash in a pod template follows the secret's content and never carries it", () => {
    const h = secretHash("correct horse");
    expect(h).toMatch(/^[0-9a-f]{16}$/);
    expect(secretHash("correct horse")).toBe(h);
    expect(secretHash("correct horsf")).not.toBe(h);
    expect(secretHash("a", "bc")).not.toBe(secretHash("ab", "c"));
    const t = kibanaDeploymentSpec({ instance: "l", names: n, esUrl: "https://x", resources: config({}).config!.kibana.resources, secretsHash: h }) as any;
    expect(t.template.metadata.annotations).toEqual({ "observability-stack/secrets-hash": h });
    expect(JSON.stringify(t)).not.toContain("correct horse");
  });
});

describe("obs:logging.certificates", () => {
  it("defaults to 1095 days, renewed within 60 days of the end", () => {
    expect(config({}).config!.certificates).toEqual({ days: 1095, renewBeforeDays: 60 });
  });

  it("refuses a renewal window as long as the lifetime, and one the expiry alert would beat", () => {
    expect(config({ certificates: { days: 90, renewBeforeDays: 90 } }).problems).toEqual(["obs:logging.certificates.renewBeforeDays = 90: less than certificates.days (90): a window as long as the lifetime would renew on every run"]);
    expect(config({ certificates: { days: 365, renewBeforeDays: 400 } }).problems).toEqual(["obs:logging.certificates.renewBeforeDays = 400: less than certificates.days (365): a window as long as the lifetime would renew on every run"]);
    expect(config({ certificates: { renewBeforeDays: 20 } }).problems).toEqual([expect.stringMatching(/^obs:logging\.certificates\.renewBeforeDays = 20: an integer >= 31/)]);
  });
});
