// The scripts' synchronous runs keep output far beyond zx's 1 MB default (kubectl's CRDs are more).
import { describe, expect, it } from "vitest";
import { runSync } from "../../scripts/lib/sh.js";

describe("runSync", () => {
  it("returns output larger than 1 MB whole, with its exit code", () => {
    const r = runSync()`${process.execPath} -e ${"process.stdout.write('x'.repeat(3e6))"}`;
    expect(r.exitCode).toBe(0);
    expect(r.stdout.length).toBe(3e6);
  });

  it("feeds input and reports a failure as a result", () => {
    expect(runSync({ input: "hello" })`cat`.stdout).toBe("hello");
    const r = runSync()`${process.execPath} -e ${"process.exit(3)"}`;
    expect(r.exitCode).toBe(3);
  });
});
