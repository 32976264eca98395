// `npm run up|preview` refuses bad config once, before any tool runs or the local cluster starts.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

describe("stack commands on bad config", () => {
  it.each(["preview", "up"])("%s: one error block naming key, value and what is allowed; no tool run, no cluster started", (command) => {
    const project = mkdtempSync(path.join(os.tmpdir(), "obs-badcfg-"));
    mkdirSync(path.join(project, "config"));
    cpSync(path.join(root, "Pulumi.yaml"), path.join(project, "Pulumi.yaml"));
    const local = readFileSync(path.join(root, "config", "Pulumi.local.yaml"), "utf8");
    expect(local).toMatch(/samplingPercent: 100\n/);
    writeFileSync(path.join(project, "config", "Pulumi.local.yaml"), local.replace("samplingPercent: 100\n", "samplingPercent: 150\n"));
    const cache = mkdtempSync(path.join(os.tmpdir(), "obs-badcfg-cache-"));
    const r = spawnSync(process.execPath, [path.join(root, "node_modules", "tsx", "dist", "cli.mjs"), path.join(root, "scripts", "stack.ts"), command, "--stack", "local"], {
      cwd: root,
      encoding: "utf8",
      timeout: 60_000,
      // an empty tool cache: had any tool been needed, the command would have said so instead
      env: { ...process.env, OBS_PROJECT_DIR: project, OBS_CACHE_DIR: cache, OBS_CLUSTER_DIR: path.join(cache, "cluster") },
    });
    expect(r.status).toBe(2);
    const message = "obs:istio.samplingPercent = 150: expected a number >= 0 and <= 100";
    expect(r.stderr.split(message).length - 1).toBe(1);
    expect(r.stderr).toContain("invalid configuration for stack 'local'");
    expect(r.stdout).not.toContain("[cluster]");
    expect(existsSync(path.join(cache, "cluster"))).toBe(false);
  }, 90_000);

  it("preview: a route naming an unknown receiver is refused the same way, listing the known receivers", () => {
    const project = mkdtempSync(path.join(os.tmpdir(), "obs-badcfg-"));
    mkdirSync(path.join(project, "config"));
    cpSync(path.join(root, "Pulumi.yaml"), path.join(project, "Pulumi.yaml"));
    const local = readFileSync(path.join(root, "config", "Pulumi.local.yaml"), "utf8");
    expect(local).toMatch(/\{namespaces: \[demo\], receiver: demo-team\}/);
    writeFileSync(path.join(project, "config", "Pulumi.local.yaml"), local.replace("{namespaces: [demo], receiver: demo-team}", "{namespaces: [demo], receiver: demo-teams}"));
    const cache = mkdtempSync(path.join(os.tmpdir(), "obs-badcfg-cache-"));
    const r = spawnSync(process.execPath, [path.join(root, "node_modules", "tsx", "dist", "cli.mjs"), path.join(root, "scripts", "stack.ts"), "preview", "--stack", "local"], {
      cwd: root,
      encoding: "utf8",
      timeout: 60_000,
      env: { ...process.env, OBS_PROJECT_DIR: project, OBS_CACHE_DIR: cache, OBS_CLUSTER_DIR: path.join(cache, "cluster") },
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('obs:alerting.route.routes[0].receiver = "demo-teams": expected one of the receivers: platform, demo-team, deadmans, null');
    expect(existsSync(path.join(cache, "cluster"))).toBe(false);
  }, 90_000);
});
