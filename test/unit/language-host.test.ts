// Plain `pulumi preview/up` with a standard Pulumi CLI: its nodejs language host loads index.ts in
// automatic ESM mode through @pulumi/pulumi's own hooks. The program must load that way, without
// type-checking on every run (that stays in `npm run typecheck`, which this tier also runs).
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

describe("the standard language host", () => {
  it("loads index.ts through the SDK's ESM hooks, and the default export is the program", () => {
    const r = spawnSync(process.execPath, ["--no-warnings", "test/builders/language-host-load.mjs"], { cwd: root, encoding: "utf8", timeout: 120_000 });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
    expect(out.defaultExport).toBe("function");
  }, 150_000);

  it("does not type-check on load: tsconfig's ts-node section says transpileOnly (the SDK's own options do not reach ts-node in ESM mode)", () => {
    const tsconfig = JSON.parse(readFileSync(path.join(root, "tsconfig.json"), "utf8"));
    expect(tsconfig["ts-node"]).toEqual({ transpileOnly: true });
    expect(tsconfig.compilerOptions.noCheck).toBeUndefined();
  });

  it("loads a program with a type error through the same hooks: type-checking is really off for the language host", () => {
    const project = mkdtempSync(path.join(os.tmpdir(), "obs-host-"));
    for (const f of ["tsconfig.json", "package.json"]) cpSync(path.join(root, f), path.join(project, f));
    symlinkSync(path.join(root, "node_modules"), path.join(project, "node_modules"));
    writeFileSync(path.join(project, "index.ts"), 'const wrong: number = "not a number";\nexport default async function main() {\n  return { wrong };\n}\n');
    const r = spawnSync(process.execPath, ["--no-warnings", path.join(root, "test/builders/language-host-load.mjs")], { cwd: project, encoding: "utf8", timeout: 120_000 });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout.trim().split("\n").pop()!).defaultExport).toBe("function");
  }, 150_000);

  it("type-checks the whole tree in CI instead (npm run typecheck)", () => {
    const r = spawnSync(process.execPath, [path.join(root, "node_modules", "typescript", "bin", "tsc"), "--noEmit", "-p", "."], { cwd: root, encoding: "utf8", timeout: 280_000 });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  }, 300_000);
});
