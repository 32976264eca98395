// A run whose first call to the engine fails must fail, not delete the stack. The pinned CLI and
// the SDK's language server for real, on a throwaway file backend (no cluster); the fault is the
// gRPC status grpc-js gave in CI ("14 UNAVAILABLE: No connection established. Last error: null"),
// injected once into SetRootResource through the SDK's own client interceptors. Without the
// guard in runWithProgram the SDK swallowed it and the engine deleted every resource of the stack.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { PROGRAM_NOT_STARTED } from "../../scripts/lib/pulumi.js";
import { repoRoot } from "../../lib/tools.js";

interface Outcome {
  first: { code: number; stdout: string };
  faulted: { code: number; stdout: string };
  programRuns: number;
  resources: string[];
  unhandled: string[];
}

function faultedUp(mode: "caught" | "late"): Outcome {
  const r = spawnSync(process.execPath, [path.join(repoRoot, "node_modules", "tsx", "dist", "cli.mjs"), "test/builders/engine-fault.ts", mode], { cwd: repoRoot, encoding: "utf8", timeout: 240_000 });
  if (r.status !== 0) throw new Error(`test/builders/engine-fault.ts ${mode} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as Outcome;
}

describe("an up whose first engine call fails", () => {
  it.each(["caught", "late"] as const)("%s: fails naming why, and the stack keeps its resources", (mode) => {
    const o = faultedUp(mode);
    expect(o.first.code, o.first.stdout).toBe(0);
    // the fault happened: the SDK's call failed, and the program was never called on that run
    expect(o.unhandled.join("\n")).toContain("14 No connection established. Last error: null");
    expect(o.programRuns).toBe(1);
    expect(o.faulted.code, o.faulted.stdout).not.toBe(0);
    expect(o.faulted.stdout).toContain(PROGRAM_NOT_STARTED);
    expect(o.faulted.stdout).not.toMatch(/deleting|deleted/);
    expect(o.resources).toContain("urn:pulumi:fault::engine-fault::obs:test:Kept::kept");
  }, 300_000);
});
