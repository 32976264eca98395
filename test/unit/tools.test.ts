import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import pkg from "../../package.json" with { type: "json" };
import { pins, pinnedTools } from "../../lib/tools.js";

describe("tools/versions.json", () => {
  it("pins the engine and provider that match the npm packages", () => {
    expect(pins.pulumi.version).toBe(pkg.dependencies["@pulumi/pulumi"]);
    expect(pins["pulumi-language-nodejs"].version).toBe(pkg.dependencies["@pulumi/pulumi"]);
    expect(pins["pulumi-resource-kubernetes"].version).toBe(pkg.dependencies["@pulumi/kubernetes"]);
  });

  it("pins at least two Istio minors for canary upgrades, and every tool the issue names", () => {
    const minors = Object.keys(pins.istioctl.versions);
    expect(minors.length).toBeGreaterThanOrEqual(2);
    expect(new Set(pinnedTools().map((t) => t.name))).toEqual(new Set(["pulumi", "pulumi-resource-kubernetes", "etcd", "kubernetes", "kwok", "istioctl", "promtool", "jaeger"]));
    expect(pins.kubernetes.binaries).toEqual(expect.arrayContaining(["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl"]));
  });

  it("preflight names the missing tool, its version and the fix in one line", () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), "obs-empty-cache-"));
    const r = spawnSync(process.execPath, [path.resolve("node_modules/tsx/dist/cli.mjs"), "scripts/cluster.ts", "up"], { encoding: "utf8", env: { ...process.env, OBS_CACHE_DIR: empty } });
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split("\n");
    expect(lines[0]).toBe(`npm run cluster -- up: etcd ${pins.etcd.version} is not built (looked in ${empty}/tools/etcd/${pins.etcd.version}); run: npm run tools`);
  });

  it("npm run tools without Go says what is missing and how to fix it, installs nothing", () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), "obs-empty-cache-"));
    const r = spawnSync(process.execPath, [path.resolve("node_modules/tsx/dist/cli.mjs"), "scripts/tools.ts", "--only", "kwok"], { encoding: "utf8", env: { ...process.env, OBS_CACHE_DIR: empty, PATH: "/nonexistent" } });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^npm run tools: go is not installed: the tools are built from Go modules; install Go >= 1\.26/m);
    expect(spawnSync("ls", ["-A", path.join(empty, "tools", "kwok")], { encoding: "utf8" }).stdout.trim()).toBe("");
  });
});
