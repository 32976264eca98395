// Where a command's tools come from (lib/tools.ts findTool): OBS_TOOL_<NAME>, then PATH at a
// fitting version, then (the provider) Pulumi's plugin cache, then our cache; and which group
// each command asks for. Real subprocesses; the tools are small shell scripts that log their
// calls and answer `version` like the real ones, in a throwaway cache (no Go builds here).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { parseVersion, pins, toolEnvName, versionFits } from "../../lib/tools.js";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const tsx = path.join(repo, "node_modules", "tsx", "dist", "cli.mjs");
const K = pins.kubernetes.version;
const ISTIO = "1.30";
const made: string[] = [];
const tmp = (what: string) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), `obs-discovery-${what}-`));
  made.push(dir);
  return dir;
};
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/**
 * A fake tool: logs `$0 args` to `log`, prints `version` for a version command, and as istioctl
 * renders one Deployment whose image carries the overlay's `spec.tag` (what the real one does).
 */
function fakeTool(file: string, version: string, log: string): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(
    file,
    `#!/bin/sh
echo "$0 $*" >> "${log}"
case "$1" in
  version) echo "${version}" ;;
  manifest)
    tag=$(sed -n 's/^  tag: *//p' "$4")
    printf 'apiVersion: apps/v1\\nkind: Deployment\\nmetadata:\\n  name: istiod\\n  namespace: istio-system\\nspec:\\n  template:\\n    spec:\\n      containers:\\n      - name: discovery\\n        image: docker.io/istio/pilot:%s\\n' "$tag" ;;
esac
`,
  );
  chmodSync(file, 0o755);
  return file;
}

/** What each fake answers to its version command, as the real binaries do. */
const versionOutput: Record<string, string> = {
  pulumi: `v${pins.pulumi.version}`,
  kubectl: `Client Version: v${K}\nKustomize Version: v5.7.1`,
  istioctl: pins.istioctl.versions[ISTIO]!.imageTag,
};

/** A cache (OBS_CACHE_DIR) holding fake stamped tools: entries as `name/version` -> binaries. */
function fakeCache(entries: Record<string, string[]>, log: string): string {
  const root = tmp("cache");
  for (const [entry, bins] of Object.entries(entries)) {
    const dir = path.join(root, "tools", entry);
    const [name, version] = entry.split("/");
    const sha256: Record<string, string> = {};
    for (const b of bins) sha256[b] = createHash("sha256").update(readFileSync(fakeTool(path.join(dir, b), versionOutput[b] ?? version!, log))).digest("hex");
    writeFileSync(path.join(dir, "tool.json"), JSON.stringify({ name, version, sha256 }));
  }
  return root;
}

/** Only the `up` group: pulumi, the provider, kubectl alone (its own small entry) and istioctl 1.30. */
const upGroup = (log: string) =>
  fakeCache({ [`pulumi/${pins.pulumi.version}`]: ["pulumi"], [`pulumi-resource-kubernetes/${pins["pulumi-resource-kubernetes"].version}`]: ["pulumi-resource-kubernetes"], [`kubectl/${K}`]: ["kubectl"], [`istioctl/${ISTIO}`]: ["istioctl"] }, log);

function baseEnv(cache: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, OBS_CACHE_DIR: cache, HOME: tmp("home"), ...extra };
  for (const k of Object.keys(env)) if (k.startsWith("OBS_TOOL_") && !(k in extra)) delete env[k];
  for (const k of ["PULUMI_HOME", "OBS_PROJECT_DIR", "OBS_CLUSTER_DIR", "PULUMI_BACKEND_URL"]) if (!(k in extra)) delete env[k];
  return env;
}

const onPath = (dir: string) => `${dir}${path.delimiter}${process.env.PATH}`;

function run(args: string[], env: NodeJS.ProcessEnv) {
  const r = spawnSync(process.execPath, [tsx, ...args], { cwd: repo, env, encoding: "utf8", timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, lines: r.stderr.trim().split("\n").filter(Boolean) };
}

/** Renders one revision twice (two overlays) in one process; prints the images and cache files. */
function renderTwice(env: NodeJS.ProcessEnv) {
  const dir = tmp("render");
  const script = path.join(dir, "render.ts");
  writeFileSync(
    script,
    `import { renderManifest } from ${JSON.stringify(path.join(repo, "components/istio/render.ts"))};
const out = [1, 2].map((replicas) => {
  const r = renderManifest(${JSON.stringify(ISTIO)}, { apiVersion: "install.istio.io/v1alpha1", kind: "IstioOperator", spec: { profile: "default", revision: "r", components: { pilot: { k8s: { replicaCount: replicas } } } } });
  return { image: (r.objects[0] as any).spec.template.spec.containers[0].image, cacheFile: r.cacheFile, cacheHit: r.cacheHit };
});
console.log(JSON.stringify(out));
`,
  );
  const r = run([script], env);
  return { ...r, renders: r.code === 0 ? (JSON.parse(r.stdout) as { image: string; cacheFile: string; cacheHit: boolean }[]) : [] };
}

const logLines = (log: string) => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : []);
const ownNotes = (lines: string[], binary: string) => lines.filter((l) => l.startsWith("[tools] ignoring") && l.includes(`/${binary} on PATH`));

describe.concurrent("finding a tool: OBS_TOOL_<NAME>, PATH at a fitting version, Pulumi's plugin cache, our cache", { timeout: 120_000 }, () => {
  it("names the override variable, compares versions by the pin's rule, reads real version outputs", () => {
    expect(toolEnvName("istioctl", "1.30")).toBe("OBS_TOOL_ISTIOCTL_1_30");
    expect(toolEnvName("pulumi")).toBe("OBS_TOOL_PULUMI");
    expect(toolEnvName("pulumi-resource-kubernetes")).toBe("OBS_TOOL_PULUMI_RESOURCE_KUBERNETES");
    expect(parseVersion("v3.260.0\n")).toBe("3.260.0");
    expect(parseVersion("1.30.3\n")).toBe("1.30.3");
    expect(parseVersion("Client Version: v1.32.4-dispatcher\nKustomize Version: v5.5.0\n")).toBe("1.32.4-dispatcher");
    expect(versionFits("3.261.0", "3.260.0", "pinned or newer")).toBe(true);
    expect(versionFits("3.260.0", "3.260.0", "pinned or newer")).toBe(true);
    expect(versionFits("3.259.9", "3.260.0", "pinned or newer")).toBe(false);
    expect(versionFits("1.30.9", "1.30", "same minor")).toBe(true);
    expect(versionFits("1.31.0", "1.30", "same minor")).toBe(false);
    expect(versionFits("1.32.4-dispatcher", "1.34.4", "same minor")).toBe(false);
  });

  it("a copy of the pinned pulumi on PATH runs the command, which says so; the cache copy is not run", () => {
    const log = path.join(tmp("log"), "calls");
    const cache = upGroup(log);
    const cached = path.join(cache, "tools", "pulumi", pins.pulumi.version, "pulumi");
    const before = readFileSync(cached);
    const bin = tmp("path");
    copyFileSync(cached, path.join(bin, "pulumi"));
    const work = tmp("state");
    const r = run(["scripts/stack.ts", "destroy", "--stack", "dev", "--yes"], baseEnv(cache, { PATH: onPath(bin), PULUMI_CONFIG_PASSPHRASE: "x", PULUMI_BACKEND_URL: `file://${work}` }));
    expect(r.code, r.stderr).toBe(0);
    expect(r.lines).toContain(`[tools] pulumi ${pins.pulumi.version}: ${bin}/pulumi (PATH)`);
    const calls = logLines(log);
    expect(calls.some((c) => c.startsWith(`${bin}/pulumi destroy --stack dev --yes --client=127.0.0.1:`)), calls.join("\n")).toBe(true);
    expect(calls.filter((c) => c.startsWith(cached))).toEqual([]);
    expect(readFileSync(cached)).toEqual(before);
  });

  it("a wrong-version istioctl on PATH is ignored with one note; the pinned one renders with the pinned tag", () => {
    const log = path.join(tmp("log"), "calls");
    const cache = upGroup(log);
    const bin = tmp("path");
    fakeTool(path.join(bin, "istioctl"), "1.29.4", log);
    const env = baseEnv(cache, { PATH: onPath(bin) });
    const r = renderTwice(env);
    expect(r.code, r.stderr).toBe(0);
    expect(ownNotes(r.lines, "istioctl")).toEqual([`[tools] ignoring ${bin}/istioctl on PATH: version 1.29.4; istioctl needs 1.30.x`]);
    const tag = pins.istioctl.versions[ISTIO]!.imageTag;
    expect(r.lines).toContain(`[tools] istioctl ${ISTIO}: ${cache}/tools/istioctl/${ISTIO}/istioctl (cache, ${tag})`);
    expect(r.renders.map((x) => x.image)).toEqual([`docker.io/istio/pilot:${tag}`, `docker.io/istio/pilot:${tag}`]);
    expect(logLines(log).filter((c) => c.startsWith(`${bin}/istioctl manifest`))).toEqual([]);
    // npm run tools says the same, and builds nothing for it
    const t = run(["scripts/tools.ts", "--for", "up", "--verify"], env);
    expect(t.code, t.stderr).toBe(0);
    expect(ownNotes(t.lines, "istioctl")).toHaveLength(1);
    expect(t.stdout).toContain(`istioctl ${ISTIO}: ok (cached, checksums match)`);
  });

  it("an istioctl of the same minor on PATH renders with its own version's tag, probed once per process, and keys the render cache", () => {
    const log = path.join(tmp("log"), "calls");
    const cache = upGroup(log);
    const bin = tmp("path");
    fakeTool(path.join(bin, "istioctl"), "1.30.7", log);
    const env = baseEnv(cache, { PATH: onPath(bin) });
    const first = renderTwice(env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.lines.filter((l) => l.includes("istioctl"))).toEqual([`[tools] istioctl ${ISTIO}: ${bin}/istioctl (PATH, 1.30.7)`]);
    expect(first.renders.map((x) => [x.image, x.cacheHit])).toEqual([
      ["docker.io/istio/pilot:1.30.7", false],
      ["docker.io/istio/pilot:1.30.7", false],
    ]);
    const pathCalls = () => logLines(log).filter((c) => c.startsWith(`${bin}/istioctl`));
    expect(pathCalls().filter((c) => c.includes(" version "))).toHaveLength(1);
    expect(logLines(log).filter((c) => c.startsWith(cache))).toEqual([]);
    // a second process: no probe (remembered by the binary's identity), cache hits
    const again = renderTwice(env);
    expect(again.renders.map((x) => x.cacheHit)).toEqual([true, true]);
    expect(pathCalls().filter((c) => c.includes(" version "))).toHaveLength(1);
    // another patch release: another cache entry and another tag
    const bin2 = tmp("path");
    fakeTool(path.join(bin2, "istioctl"), "1.30.8", log);
    const other = renderTwice({ ...env, PATH: onPath(bin2) });
    expect(other.renders.map((x) => [x.image, x.cacheHit])).toEqual([
      ["docker.io/istio/pilot:1.30.8", false],
      ["docker.io/istio/pilot:1.30.8", false],
    ]);
    expect(other.renders[0]!.cacheFile).not.toBe(first.renders[0]!.cacheFile);
  });

  it("an OBS_TOOL_<NAME> override wins over PATH and the cache, whatever its file name", () => {
    const log = path.join(tmp("log"), "calls");
    const cache = upGroup(log);
    const bin = tmp("path");
    fakeTool(path.join(bin, "istioctl"), "1.30.7", log);
    fakeTool(path.join(bin, "pulumi"), `v${pins.pulumi.version}`, log);
    const mine = tmp("mine");
    const istioctl = fakeTool(path.join(mine, "my-istioctl"), "1.30.9", log);
    const pulumi = fakeTool(path.join(mine, "pulumi-dev"), "v3.300.0", log);
    const env = baseEnv(cache, { PATH: onPath(bin), OBS_TOOL_ISTIOCTL_1_30: istioctl, OBS_TOOL_PULUMI: pulumi });
    const r = renderTwice(env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.lines).toContain(`[tools] istioctl ${ISTIO}: ${istioctl} (OBS_TOOL_ISTIOCTL_1_30, 1.30.9)`);
    expect(r.renders[0]!.image).toBe("docker.io/istio/pilot:1.30.9");
    const t = run(["scripts/tools.ts", "--for", "up", "--verify"], env);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toContain(`pulumi ${pins.pulumi.version}: ${pulumi} (OBS_TOOL_PULUMI): used as it is, not built`);
    // the override is taken without looking at PATH
    expect(logLines(log).filter((c) => c.startsWith(`${bin}/`))).toEqual([]);
    // an override that is no executable is one line, not a silent fallback
    const bad = run(["scripts/render.ts", "--stack", "prod", "--out", tmp("out")], baseEnv(cache, { OBS_TOOL_PULUMI: "/nonexistent/pulumi" }));
    expect(bad.code).toBe(1);
    expect(bad.lines.at(-1)).toBe("npm run render: OBS_TOOL_PULUMI=/nonexistent/pulumi is not an executable file; fix or unset it");
  });

  it("the Kubernetes provider comes from Pulumi's plugin cache when it is complete there", () => {
    const log = path.join(tmp("log"), "calls");
    const cache = upGroup(log);
    const home = tmp("pulumi-home");
    const v = pins["pulumi-resource-kubernetes"].version;
    const plugin = fakeTool(path.join(home, "plugins", `resource-kubernetes-v${v}`, "pulumi-resource-kubernetes"), v, log);
    const t = run(["scripts/tools.ts", "--for", "up", "--verify"], baseEnv(cache, { PULUMI_HOME: home }));
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toContain(`pulumi-resource-kubernetes ${v}: ${plugin} (Pulumi plugin cache): used as it is, not built`);
    writeFileSync(path.join(home, "plugins", `resource-kubernetes-v${v}.partial`), "");
    const partial = run(["scripts/tools.ts", "--for", "up", "--verify"], baseEnv(cache, { PULUMI_HOME: home }));
    expect(partial.stdout).toContain(`pulumi-resource-kubernetes ${v}: ok (cached, checksums match)`);
  });
});

describe.concurrent("tools on demand: each command checks its own group", { timeout: 120_000 }, () => {
  it("with only the up group, npm run tools -- --for up passes, --for local names what is missing, cluster up fails in one line naming local", () => {
    const log = path.join(tmp("log"), "calls");
    const cache = upGroup(log);
    const env = baseEnv(cache, { OBS_CLUSTER_DIR: path.join(tmp("cluster"), "c") });
    const up = run(["scripts/tools.ts", "--for", "up", "--verify"], env);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toContain(`kubectl ${K}: ok (cached, checksums match)`);
    const local = run(["scripts/tools.ts", "--for", "local", "--verify"], env);
    expect(local.code).toBe(1);
    expect(local.lines.at(-1)).toBe(`npm run tools: 4 of 7 tools of group local missing or changed in ${cache}/tools: kubernetes ${K}, etcd ${pins.etcd.version}, kwok ${pins.kwok.version}, pilot-discovery ${ISTIO}; run: npm run tools -- --for local`);
    const cluster = run(["scripts/cluster.ts", "up"], env);
    expect(cluster.code).toBe(1);
    expect(cluster.lines.at(-1)).toBe(`npm run cluster -- up: etcd ${pins.etcd.version}, kube-apiserver ${K}, kube-controller-manager ${K}, kube-scheduler ${K} and kwok ${pins.kwok.version} are not built (looked in ${cache}/tools); run: npm run tools -- --for local`);
    for (const l of cluster.lines.slice(0, -1)) expect(l).toMatch(/^\[tools\] ignoring \S+ on PATH: /);
    expect(existsSync(path.join(env.OBS_CLUSTER_DIR!))).toBe(false);
  });

  it("render needs pulumi, the provider and the stack's istioctl, not kubectl; a stack command also kubectl", () => {
    const empty = tmp("cache");
    const r = run(["scripts/render.ts", "--stack", "prod", "--out", tmp("out")], baseEnv(empty));
    expect(r.code).toBe(1);
    expect(r.lines.at(-1)).toBe(`npm run render: pulumi ${pins.pulumi.version}, pulumi-resource-kubernetes ${pins["pulumi-resource-kubernetes"].version} and istioctl ${ISTIO} are not built (looked in ${empty}/tools); run: npm run tools -- --for up`);
    const s = run(["scripts/stack.ts", "refresh", "--stack", "prod"], baseEnv(empty, { PULUMI_CONFIG_PASSPHRASE: "x" }));
    expect(s.code).toBe(1);
    expect(s.lines.at(-1)).toBe(`npm run refresh: pulumi ${pins.pulumi.version}, pulumi-resource-kubernetes ${pins["pulumi-resource-kubernetes"].version} and kubectl ${K} are not built (looked in ${empty}/tools); run: npm run tools -- --for up`);
  });

  it("--help documents the groups; --for takes only a group", () => {
    const help = run(["scripts/tools.ts", "--help"], baseEnv(tmp("cache")));
    expect(help.code).toBe(0);
    for (const g of ["up     pulumi, pulumi-resource-kubernetes, kubectl, istioctl", "local  up, etcd, kube-apiserver", "test   local, promtool, prometheus, alertmanager, amtool, jaeger, actionlint, kube-score"]) expect(help.stdout).toContain(g);
    const bad = run(["scripts/tools.ts", "--for", "prod"], baseEnv(tmp("cache")));
    expect([bad.code, bad.stderr.trim()]).toEqual([2, "npm run tools: --for prod: no such group (groups: up, local, test) (usage: npm run tools -- --help)"]);
  });
});
