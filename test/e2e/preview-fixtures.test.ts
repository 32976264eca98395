// The PR summary's fixtures, from the real thing: the pinned CLI (`pulumi preview --json`,
// `pulumi refresh --preview-only --json`) and provider on the e2e cluster, with a small inline
// program (a ConfigMap, a Secret and two Deployments under one obs: component). Every run checks
// the shapes the summary relies on and that a preview changed nothing on the cluster, and that
// the README's preview RBAC and dry-run-only admission policy let a preview through and stop an up;
// OBS_RECORD_FIXTURES=1 also writes them to test/unit/fixtures/ (machine-local paths replaced):
//   OBS_RECORD_FIXTURES=1 npx vitest run --project e2e test/e2e/preview-fixtures.test.ts
import * as k8s from "@pulumi/kubernetes";
import { spawnSync } from "node:child_process";
import * as pulumi from "@pulumi/pulumi";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { e2eEnv, getJson, kubeconfigPath, kubectl } from "./helpers.js";
import { runWithProgram, selectStackAsync } from "../../scripts/lib/pulumi.js";
import { summarize, summarizeOutput, type PreviewJson } from "../../scripts/lib/summary.js";
import { repoRoot, toolPath } from "../../lib/tools.js";

const RECORD = process.env.OBS_RECORD_FIXTURES === "1";
const STACK = "recorded";
const NS = "obs-fixtures";

interface Variant {
  image: string;
  replicas: number;
  retentionDays: string;
  /** a multi-line config file in the ConfigMap */
  appYaml: string;
  configMapName: string;
  password: string;
  /** set through pulumi.secret() into the worker Deployment's env (which masks its whole containers list) */
  token: string;
  throwInProgram?: boolean;
  /** the provider's kubeconfig (default: the e2e cluster's admin) */
  kubeconfig?: string;
}

const base: Variant = {
  image: "nginx:1.27.0",
  replicas: 3,
  retentionDays: "7",
  appYaml: "server:\n  port: 8080\n  workers: 4\nsampling:\n  percent: 1\nlog:\n  level: info\n",
  configMapName: "app-settings",
  password: "first-password-value",
  token: "first-token-value",
};

class App extends pulumi.ComponentResource {
  constructor(name: string, v: Variant, opts: pulumi.ComponentResourceOptions) {
    super("obs:fixture:App", name, {}, opts);
    const labels = { app: name };
    const ns = new k8s.core.v1.Namespace(`${name}-ns`, { metadata: { name: NS } }, { parent: this });
    const meta = (n: string) => ({ name: n, namespace: ns.metadata.name, labels });
    const cm = new k8s.core.v1.ConfigMap(`${name}-settings`, { metadata: meta(v.configMapName), data: { retentionDays: v.retentionDays, "app.yaml": v.appYaml } }, { parent: this });
    new k8s.core.v1.Secret(`${name}-credentials`, { metadata: meta("app-credentials"), stringData: { password: v.password } }, { parent: this });
    new k8s.apps.v1.Deployment(
      name,
      {
        metadata: meta(name),
        spec: {
          replicas: v.replicas,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              containers: [{ name: "app", image: v.image, volumeMounts: [{ name: "settings", mountPath: "/etc/app" }] }],
              volumes: [{ name: "settings", configMap: { name: cm.metadata.name } }],
            },
          },
        },
      },
      { parent: this },
    );
    const worker = { app: `${name}-worker` };
    new k8s.apps.v1.Deployment(
      `${name}-worker`,
      {
        metadata: { ...meta(`${name}-worker`), labels: worker },
        spec: {
          replicas: 1,
          selector: { matchLabels: worker },
          template: { metadata: { labels: worker }, spec: { containers: [{ name: "worker", image: v.image, env: [{ name: "API_TOKEN", value: pulumi.secret(v.token) }] }] } },
        },
      },
      { parent: this },
    );
    this.registerOutputs({});
  }
}

const program = (v: Variant) => async () => {
  if (v.throwInProgram) throw new Error("obs:fixture.replicas must be at least 1, not 0");
  const provider = new k8s.Provider("k8s", { kubeconfig: pulumi.secret(v.kubeconfig ?? readFileSync(kubeconfigPath, "utf8")) });
  new App("app", v, { provider });
  return {};
};

let dir: string;
let env: NodeJS.ProcessEnv;
const recorded: Record<string, string> = {};
/** Each recording's exit code (the CLI's exit codes are a documented contract). */
const exitCodes: Record<string, number> = {};

async function cli(v: Variant, args: string[]): Promise<{ code: number; stdout: string }> {
  return runWithProgram(program(v), [...args, "--stack", STACK], env, { cwd: dir, capture: true });
}

/** `pulumi preview --json` of variant `v`: exit code and the parsed JSON. */
async function preview(name: string, v: Variant): Promise<{ code: number; json: PreviewJson; text: string }> {
  const r = await cli(v, ["preview", "--json"]);
  keep(name, r.stdout, r.code);
  return { code: r.code, json: JSON.parse(r.stdout), text: r.stdout };
}

/** `pulumi refresh --preview-only --json`, as the drift workflow runs it (npm run refresh). */
async function refresh(name: string): Promise<{ code: number; json: PreviewJson; text: string }> {
  const r = await cli(base, ["refresh", "--preview-only", "--json"]);
  keep(name, r.stdout, r.code);
  return { code: r.code, json: JSON.parse(r.stdout), text: r.stdout };
}

/** Machine-local paths out, nothing else. */
function keep(name: string, text: string, code: number): void {
  exitCodes[name] = code;
  const local: [string, string][] = [
    [dir, "<workdir>"],
    [repoRoot, "<repo>"],
    [os.tmpdir(), "<tmp>"],
    [os.homedir(), "<home>"],
  ];
  recorded[name] = local.reduce((t, [from, to]) => t.replaceAll(from, to), text);
}

const deployment = () => getJson(["get", "deployment", "app", "-n", NS]);
/** The steps whose URN ends with `tail` (a type, or `type::name`). */
const stepOf = (json: PreviewJson, tail: string, ops?: string[]) => (json.steps ?? []).filter((s) => s.urn.endsWith(tail) || s.urn.includes(`${tail}::`)).filter((s) => !ops || ops.includes(s.op));

describe("recorded pulumi preview --json and refresh --json", () => {
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "obs-e2e-fixtures-"));
    writeFileSync(path.join(dir, "Pulumi.yaml"), "name: obs-fixtures\nruntime: nodejs\n");
    env = { ...process.env, ...e2eEnv(), PULUMI_BACKEND_URL: `file://${dir}` };
    await selectStackAsync(STACK, env, dir);
    const up = await cli(base, ["up", "--yes", "--skip-preview"]);
    expect(up.code, up.stdout).toBe(0);
    expect(deployment().spec.replicas).toBe(3);
  });

  afterAll(async () => {
    await cli(base, ["destroy", "--yes", "--skip-preview"]);
    kubectl(["delete", "namespace", NS, "--ignore-not-found", "--wait=false"]);
    if (!RECORD) return;
    const fixtures = path.join(repoRoot, "test", "unit", "fixtures");
    for (const [name, text] of Object.entries(recorded)) writeFileSync(path.join(fixtures, `${name}.json`), text.endsWith("\n") ? text : `${text}\n`);
    writeFileSync(path.join(fixtures, "exit-codes.json"), `${JSON.stringify(exitCodes, null, 2)}\n`);
    console.log(`[e2e] recorded ${Object.keys(recorded).join(", ")} into test/unit/fixtures/`);
  });

  it("a clean refresh: nothing drifted right after up", async () => {
    const r = await refresh("refresh-clean");
    expect(r.code).toBe(0);
    expect((r.json.steps ?? []).filter((s) => !["same", "refresh"].includes(s.op))).toEqual([]);
  });

  it("an update: image tag and replica count, and the cluster left as it was", async () => {
    const r = await preview("preview-update", { ...base, image: "nginx:1.27.1", replicas: 4 });
    expect(r.code, r.text).toBe(0);
    const [dep] = stepOf(r.json, "apps/v1:Deployment::app", ["update"]);
    expect(Object.keys(dep!.detailedDiff ?? {}).sort()).toEqual(["spec.replicas", "spec.template.spec.containers[0].image"]);
    const d = deployment();
    expect([d.spec.replicas, d.spec.template.spec.containers[0].image]).toEqual([3, "nginx:1.27.0"]);
  });

  it("a replacement: the provider replaces a ConfigMap whose data changes, and the Deployment that mounts it", async () => {
    const r = await preview("preview-replace", { ...base, retentionDays: "14", appYaml: base.appYaml.replace("percent: 1", "percent: 5").replace("level: info", "level: debug") });
    expect(r.code, r.text).toBe(0);
    const [cm] = stepOf(r.json, "core/v1:ConfigMap", ["replace"]);
    expect(cm!.replaceReasons?.sort()).toEqual(["data.retentionDays", 'data["app.yaml"]'].sort());
    const [dep] = stepOf(r.json, "apps/v1:Deployment::app", ["replace"]);
    expect(dep!.detailedDiff).toBeFalsy();
    expect(getJson(["get", "configmap", "app-settings", "-n", NS]).data.retentionDays).toBe("7");
  });

  it("a secret change: the values are never in the JSON, nor in the summary", async () => {
    const r = await preview("preview-secret", { ...base, password: "second-password-value", token: "second-token-value" });
    expect(r.code, r.text).toBe(0);
    expect(stepOf(r.json, "core/v1:Secret", ["replace"])).toHaveLength(1);
    expect(stepOf(r.json, "apps/v1:Deployment::app-worker", ["update"])).toHaveLength(1);
    const md = summarize("recorded", r.json);
    for (const secret of ["first-password-value", "second-password-value", "first-token-value", "second-token-value"]) {
      expect(r.text).not.toContain(secret);
      expect(md).not.toContain(secret);
    }
  });

  it("a failed preview: the API server refuses the object in the server-side dry run", async () => {
    const r = await preview("preview-failed", { ...base, replicas: -1 });
    expect(r.code).not.toBe(0);
    expect((r.json.diagnostics ?? []).filter((d) => d.severity === "error").map((d) => d.message).join("\n")).toMatch(/spec\.replicas/);
    expect(summarizeOutput("recorded", r.text, r.code)).toContain("failed** (exit code");
    expect(deployment().spec.replicas).toBe(3);
  });

  it("a failed preview: the program throws", async () => {
    const r = await preview("preview-failed-program", { ...base, throwInProgram: true });
    expect(r.code).not.toBe(0);
    expect((r.json.diagnostics ?? []).filter((d) => d.severity === "error").map((d) => d.message).join("\n")).toContain("obs:fixture.replicas must be at least 1, not 0");
  });

  it("the README's preview RBAC and dry-run-only admission policy: the server-side dry run runs under them, an up is refused", async () => {
    const readme = readFileSync(path.join(repoRoot, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Pull requests"));
    const block = section.split("```yaml\n").map((b) => b.split(/\n *```/)[0]!).find((b) => b.includes("kind: ValidatingAdmissionPolicy"))!;
    const indent = /^ */.exec(block)![0].length;
    const manifest = `${block.split("\n").map((l) => l.slice(indent)).join("\n")}\n`;
    const user = /request\.userInfo\.username == "([^"]+)"/.exec(manifest)![1]!;
    // the same cluster as that user: the admin's kubeconfig, impersonating it
    const kc = JSON.parse(kubectl(["config", "view", "--raw", "-o", "json"]));
    kc.users[0].user.as = user;
    const as = (v: Partial<Variant>): Variant => ({ ...base, ...v, kubeconfig: JSON.stringify(kc) });
    const refused = async () => {
      const r = await cli(as({ replicas: -1 }), ["preview", "--json"]);
      return r.code !== 0 && r.stdout.includes("spec.replicas: Invalid value: -1");
    };
    kubectl(["apply", "-f", "-"], { input: manifest });
    try {
      // without the rules, the provider falls back to a client-side preview on "forbidden", quietly:
      // the API server never sees the object, and what it would refuse passes
      expect(await refused()).toBe(false);
      kubectl(["create", "clusterrolebinding", "obs-preview", "--clusterrole=obs-preview", `--user=${user}`]);
      // the policy is active once a real write as that user is refused by it
      const probe = () => spawnSync(toolPath("kubectl"), ["--kubeconfig", kubeconfigPath, "create", "configmap", "policy-probe", "-n", NS, `--as=${user}`], { encoding: "utf8" }).stderr;
      for (let i = 0; i < 30 && !/may only dry-run/.test(probe()); i++) await new Promise((r) => setTimeout(r, 1000));
      // with them, the server-side dry run runs: the API server's validation refuses -1
      expect(await refused()).toBe(true);
      const p = await cli(as({ image: "nginx:1.27.1" }), ["preview", "--json"]);
      expect(p.code, p.stdout).toBe(0);
      const [dep] = stepOf(JSON.parse(p.stdout), "apps/v1:Deployment::app", ["update"]);
      expect(Object.keys(dep!.detailedDiff ?? {})).toEqual(["spec.template.spec.containers[0].image"]);
      const up = await cli(as({ image: "nginx:1.27.1" }), ["up", "--yes", "--skip-preview"]);
      expect(up.code).not.toBe(0);
      expect(up.stdout).toContain("the preview identity may only dry-run");
      expect(deployment().spec.template.spec.containers[0].image).toBe("nginx:1.27.0");
    } finally {
      kubectl(["delete", "clusterrolebinding", "obs-preview", "--ignore-not-found"]);
      kubectl(["delete", "-f", "-", "--ignore-not-found"], { input: manifest });
      // the provider in the state is the admin's again, for the destroy
      expect((await cli(base, ["up", "--yes", "--skip-preview"])).code).toBe(0);
    }
  });
  // last: a field changed by hand belongs to kubectl from then on
  it("drift: the Deployment scaled by hand shows in refresh --preview-only, which changes nothing; the next apply conflicts", async () => {
    kubectl(["scale", "deployment", "app", "-n", NS, "--replicas=5"]);
    const r = await refresh("refresh-drift");
    expect(r.code, r.text).toBe(0);
    const [dep] = stepOf(r.json, "apps/v1:Deployment::app", ["update"]);
    expect(Object.keys(dep!.detailedDiff ?? {})).toEqual(["spec.replicas"]);
    expect(deployment().spec.replicas).toBe(5);
    // what the drift issue warns of: kubectl now manages spec.replicas, so applying another value conflicts
    const p = await cli({ ...base, replicas: 4 }, ["preview", "--json"]);
    expect(p.code).not.toBe(0);
    expect(p.stdout).toContain('conflict with \\"kubectl\\" with subresource \\"scale\\" using apps/v1: .spec.replicas');
  });
});
