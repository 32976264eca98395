import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import pkg from "../../package.json" with { type: "json" };
import { binariesOf, GROUP_NAMES, groupOf, groupTools, pins, pinnedTools, TOOL_GROUPS } from "../../lib/tools.js";

describe("tools/versions.json", () => {
  it("pins the engine and provider that match the npm packages", () => {
    expect(pins.pulumi.version).toBe(pkg.dependencies["@pulumi/pulumi"]);
    expect(pins["pulumi-language-nodejs"].version).toBe(pkg.dependencies["@pulumi/pulumi"]);
    expect(pins["pulumi-resource-kubernetes"].version).toBe(pkg.dependencies["@pulumi/kubernetes"]);
  });

  it("pins at least two Istio minors for canary upgrades, and every tool the issue names", () => {
    const minors = Object.keys(pins.istioctl.versions);
    expect(minors.length).toBeGreaterThanOrEqual(2);
    expect(new Set(pinnedTools().map((t) => t.name))).toEqual(new Set(["pulumi", "pulumi-resource-kubernetes", "etcd", "kubernetes", "kwok", "istioctl", "pilot-discovery", "promtool", "prometheus", "alertmanager", "jaeger", "actionlint", "kube-score"]));
    expect(binariesOf("alertmanager")).toEqual(["alertmanager", "amtool"]);
    expect(pins.kubernetes.binaries).toEqual(expect.arrayContaining(["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl"]));
  });

  it("preflight names the missing tools, their versions and the group to build in one line", () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), "obs-empty-cache-"));
    const r = spawnSync(process.execPath, [path.resolve("node_modules/tsx/dist/cli.mjs"), "scripts/cluster.ts", "up"], { encoding: "utf8", env: { ...process.env, OBS_CACHE_DIR: empty } });
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split("\n");
    const k = pins.kubernetes.version;
    expect(lines.at(-1)).toBe(`npm run cluster -- up: etcd ${pins.etcd.version}, kube-apiserver ${k}, kube-controller-manager ${k}, kube-scheduler ${k}, kwok ${pins.kwok.version} and kubectl ${k} are not built (looked in ${empty}/tools); run: npm run tools -- --for local`);
    // anything before it is a note about a tool on PATH of another version (a kubectl, say)
    for (const l of lines.slice(0, -1)) expect(l).toMatch(/^\[tools\] ignoring \S+ on PATH: /);
  });

  it("npm run tools without Go says what is missing and how to fix it, installs nothing", () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), "obs-empty-cache-"));
    const r = spawnSync(process.execPath, [path.resolve("node_modules/tsx/dist/cli.mjs"), "scripts/tools.ts", "--only", "kwok"], { encoding: "utf8", env: { ...process.env, OBS_CACHE_DIR: empty, PATH: "/nonexistent" } });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^npm run tools: go is not installed: the tools are built from Go modules; install Go >= 1\.26/m);
    expect(spawnSync("ls", ["-A", path.join(empty, "tools", "kwok")], { encoding: "utf8" }).stdout.trim()).toBe("");
  });
});

describe("tool groups (lib/tools.ts TOOL_GROUPS)", () => {
  const refs = (g: (typeof GROUP_NAMES)[number]) => groupTools(g).map((t) => `${t.binary} ${t.version}`);
  const k = pins.kubernetes.version;

  it("up: pulumi, the provider, kubectl and istioctl of every Istio version a stack's revisions use", () => {
    const dir = path.resolve("config");
    const used = new Set<string>();
    for (const f of readdirSync(dir).filter((f) => /^Pulumi\..+\.yaml$/.test(f))) {
      for (const r of parse(readFileSync(path.join(dir, f), "utf8")).config["obs:istio"]?.revisions ?? []) used.add(r.version);
    }
    expect(used.size).toBeGreaterThan(0);
    expect(refs("up")).toEqual([`pulumi ${pins.pulumi.version}`, `pulumi-resource-kubernetes ${pins["pulumi-resource-kubernetes"].version}`, `kubectl ${k}`, ...[...used].sort().map((v) => `istioctl ${v}`)]);
    expect(groupTools("up", { stack: "prod" }).filter((t) => t.binary === "istioctl").length).toBeGreaterThan(0);
  });

  it("local: up plus the control plane; test: every pinned binary and Istio version", () => {
    const istiods = refs("up").filter((r) => r.startsWith("istioctl ")).map((r) => r.replace("istioctl", "pilot-discovery"));
    expect(refs("local")).toEqual([...refs("up"), `etcd ${pins.etcd.version}`, `kube-apiserver ${k}`, `kube-controller-manager ${k}`, `kube-scheduler ${k}`, `kwok ${pins.kwok.version}`, ...istiods]);
    const everything = pinnedTools().flatMap((t) => binariesOf(t.name).map((b) => `${b} ${t.version}`));
    expect(new Set(refs("test"))).toEqual(new Set(everything));
    expect(TOOL_GROUPS.test.binaries).toContain("actionlint");
    expect(refs("up").some((r) => r.startsWith("actionlint"))).toBe(false);
  });

  it("a missing tool names the smallest group that has it", () => {
    expect(groupOf({ binary: "pulumi", version: pins.pulumi.version })).toBe("up");
    expect(groupOf({ binary: "kwok", version: pins.kwok.version })).toBe("local");
    expect(groupOf({ binary: "actionlint", version: pins.actionlint.version })).toBe("test");
    expect(groupOf({ binary: "amtool", version: pins.alertmanager.version })).toBe("test");
  });
});
