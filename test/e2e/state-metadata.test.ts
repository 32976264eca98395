// A run killed while the file backend wrote a state file's metadata leaves the stack unreadable:
// every later command fails with "failed to load checkpoint: EOF" (CI saw it after the crash
// test's SIGKILL). The backend (gocloud's fileblob) renames each state file into place whole but
// writes its `.attrs` file in place, truncate then write. Here the pinned CLI, on a throwaway file
// backend (no cluster), is killed for real at that instant: strace sends it SIGKILL on its write
// to the attrs file, after the truncate. The real CLI then shows CI's error, the scripts' recovery
// runs, and the CLI reads the same state again.
import * as pulumi from "@pulumi/pulumi";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { PROJECT, pulumiAsync, pulumiEnv, recoverInterruptedRun, runWithProgram, selectStackAsync } from "../../scripts/lib/pulumi.js";
import { toolPath } from "../../lib/tools.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "obs-state-metadata-"));
const state = path.join(dir, "state");
const env = pulumiEnv({ stack: "local", backendUrl: `file://${state}`, passphrase: "state-metadata" });
const stacksDir = path.join(state, ".pulumi", "stacks", PROJECT);
const attrsOf = (stack: string) => path.join(stacksDir, `${stack}.json.attrs`);

const program = async () => {
  new pulumi.ComponentResource("obs:test:Kept", "kept", {});
  return {};
};
const run = (stack: string, args: string[]) => runWithProgram(program, [...args, "--stack", stack], env, { cwd: dir, capture: true });
const cli = (args: string[]) => pulumiAsync(args, env, dir);

/**
 * The stack's state written again by the real CLI (`stack import` of its own export, the same
 * checkpoint write an update makes), SIGKILLed by strace on its first write to the attrs file.
 */
function killedWritingAttrs(stack: string): NodeJS.Signals | null {
  const exported = path.join(dir, `${stack}-export.json`);
  const e = spawnSync(toolPath("pulumi"), ["stack", "export", "--stack", stack, "--file", exported, "--non-interactive"], { cwd: dir, env, encoding: "utf8" });
  expect(e.status, e.stderr).toBe(0);
  const args = ["-f", "-qq", "-o", "/dev/null", "-P", attrsOf(stack), "-e", "trace=write", "-e", "inject=write:signal=KILL", toolPath("pulumi"), "stack", "import", "--file", exported, "--stack", stack, "--non-interactive"];
  const r = spawnSync("strace", args, { cwd: dir, env, encoding: "utf8" });
  if (r.error) throw new Error(`strace is missing: this test kills pulumi at its write of the state's metadata with it; install it: apt-get install strace (${r.error.message})`);
  return r.signal;
}

/** The stack's resources as the real CLI exports them. */
async function resources(stack: string): Promise<string[]> {
  const r = await cli(["stack", "export", "--stack", stack]);
  expect(r.status, r.stderr).toBe(0);
  return (JSON.parse(r.stdout).deployment.resources ?? []).map((x: { urn: string }) => x.urn);
}

/** Recovery as `npm run up` runs it, with its one-line reports. */
async function recover(stack: string): Promise<string> {
  const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
  try {
    await recoverInterruptedRun(env, stack, "up", dir);
    return log.mock.calls.map((c) => c.join(" ")).join("\n");
  } finally {
    log.mockRestore();
  }
}

describe("state metadata a killed run left half-written", () => {
  let whole = "";
  beforeAll(async () => {
    writeFileSync(path.join(dir, "Pulumi.yaml"), `name: ${PROJECT}\nruntime: nodejs\n`);
    for (const stack of ["local", "other"]) {
      await selectStackAsync(stack, env, dir);
      const up = await run(stack, ["up", "--yes", "--skip-preview"]);
      expect(up.code, up.stdout).toBe(0);
    }
    whole = readFileSync(attrsOf("local"), "utf8");
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("the backend's attrs file is one JSON object, written beside each state file", () => {
    // the shape the recovery judges: what the real backend wrote
    expect(JSON.parse(whole)).toHaveProperty("md5");
    expect(readdirSync(stacksDir).filter((f) => f.endsWith(".attrs")).sort()).toEqual(["local.json.attrs", "local.json.bak.attrs", "other.json.attrs", "other.json.bak.attrs"]);
  });

  it("killed while writing the state's metadata: the CLI fails as in CI, the recovery removes the file and the same state reads again", async () => {
    const before = await resources("local");
    expect(before).toContain(`urn:pulumi:local::${PROJECT}::obs:test:Kept::kept`);
    const meta = readFileSync(path.join(state, ".pulumi", "meta.yaml.attrs"), "utf8");
    for (const stack of ["local", "other"]) {
      // strace ends as its tracee did: killed by SIGKILL
      expect(killedWritingAttrs(stack)).toBe("SIGKILL");
      expect(statSync(attrsOf(stack)).size).toBe(0);
    }

    // what CI saw, from the real CLI
    const broken = await cli(["stack", "select", "local"]);
    expect(broken.status).not.toBe(0);
    expect(broken.stderr).toContain("failed to load checkpoint: EOF");

    const said = await recover("local");
    // the killed CLI also left its lock: cleared with its attrs file
    expect(said).toMatch(/\[recover\] stack local: cleared the lock of pulumi pid \d+ .*, which no longer runs/);
    expect(readdirSync(path.join(state, ".pulumi", "locks", "organization", PROJECT, "local"))).toEqual([]);
    expect(said).toMatch(new RegExp(`\\[recover\\] stack local: removed 1 metadata file\\(s\\) a killed run left half-written: \\.pulumi/stacks/${PROJECT}/local\\.json\\.attrs `));
    // the same state, nothing planned, and the next up writes a whole attrs file again
    expect(await resources("local")).toEqual(before);
    const preview = await run("local", ["preview", "--expect-no-changes"]);
    expect(preview.code, preview.stdout).toBe(0);
    const up = await run("local", ["up", "--yes", "--skip-preview"]);
    expect(up.code, up.stdout).toBe(0);
    expect(up.stdout).not.toMatch(/delet/);
    expect(JSON.parse(readFileSync(attrsOf("local"), "utf8"))).toHaveProperty("md5");
    // whole files and other stacks' files are not touched
    expect(readFileSync(path.join(state, ".pulumi", "meta.yaml.attrs"), "utf8")).toBe(meta);
    expect(readFileSync(attrsOf("other"), "utf8")).toBe("");
  }, 120_000);

  it("nothing is said and nothing removed when every metadata file is whole", async () => {
    const files = readdirSync(stacksDir).sort();
    expect(await recover("local")).toBe("");
    expect(readdirSync(stacksDir).sort()).toEqual(files);
  }, 60_000);
});
