// Every entry script's command line, run for real: --help and -h print the usage and exit 0
// without touching tools or clusters; an unknown flag is one line naming it, exit 2.
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { parseStackArgs } from "../../scripts/stack.js";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const tsx = path.join(repo, "node_modules", "tsx", "dist", "cli.mjs");
// an empty cache and no Go, kubectl or pulumi on PATH: a script that tried to build a tool or
// start a cluster here would fail, and would leave something in the cache
const cache = mkdtempSync(path.join(os.tmpdir(), "obs-args-cache-"));
const env: NodeJS.ProcessEnv = { ...process.env, OBS_CACHE_DIR: cache, PATH: path.dirname(process.execPath) };
delete env.OBS_CLUSTER_DIR;
delete env.OBS_PROJECT_DIR;

async function run(script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await promisify(execFile)(process.execPath, [tsx, `scripts/${script}`, ...args], { cwd: repo, env, encoding: "utf8" });
    return { code: 0, ...r };
  } catch (e) {
    const { code, stdout, stderr } = e as { code: number; stdout: string; stderr: string };
    return { code, stdout, stderr };
  }
}

/** Each script, how it is called (sub-command first where it has one), and what its usage must name. */
const SCRIPTS: { script: string; command: string; before?: string[]; names: string[] }[] = [
  { script: "bench.ts", command: "npm run bench", names: ["--runs N", "default: 3", "--out FILE", "default: bench-results.json", "example"] },
  { script: "cancel.ts", command: "npm run cancel", names: ["--stack S", "default: local", "SIGINT", "example"] },
  { script: "canary.ts", command: "npm run canary", before: ["status"], names: ["status", "--stack S", "default: local", "example"] },
  { script: "cluster.ts", command: "npm run cluster", names: ["up", "down", "delete", "reset", "status", "kubeconfig", "example"] },
  { script: "config-reference.ts", command: "npm run docs:config", names: ["-h, --help", "example"] },
  { script: "pr-comment.ts", command: "npx tsx scripts/pr-comment.ts", before: ["pr"], names: ["pr|issue", "--stack S", "--pr N", "--body-file FILE", "default: github-actions[bot]", "example"] },
  { script: "render.ts", command: "npm run render", names: ["--stack S", "default: local", "--out DIR", "required", "example"] },
  { script: "stack.ts", command: "npm run up|preview|destroy|refresh", before: ["up"], names: ["--stack S", "default: local", "--summary FILE", "--yes", "--target URN", "after a literal `--` goes to pulumi", "example"] },
  { script: "test.ts", command: "npm test", names: ["-h, --help", "N passed, N failed", "example"] },
  { script: "tools.ts", command: "npm run tools", names: ["--only NAME", "default: all", "--verify", "example"] },
  { script: "update-readme.ts", command: "npm run docs:readme", names: ["-h, --help", "config-reference:start", "example"] },
];

describe.concurrent("entry scripts' command lines", { timeout: 90_000 }, () => {
  it("covers every entry script", () => {
    expect(SCRIPTS.map((s) => s.script).sort()).toEqual(readdirSync(path.join(repo, "scripts")).filter((f) => f.endsWith(".ts")).sort());
  });

  for (const { script, command, before = [], names } of SCRIPTS) {
    it(`${script} --help and -h: the usage on stdout, exit 0`, async () => {
      const help = await run(script, [...before, "--help"]);
      expect(help.stderr).toBe("");
      expect(help.code).toBe(0);
      expect(help.stdout.startsWith(`usage: ${command}`)).toBe(true);
      for (const n of names) expect(help.stdout).toContain(n);
      const h = await run(script, ["-h"]);
      expect(h).toEqual(help);
    });

    it(`${script} --bogus: one line naming it, exit 2`, async () => {
      const r = await run(script, [...before, "--bogus"]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      const lines = r.stderr.trimEnd().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/unknown option --bogus\b/);
      expect(lines[0]).toContain("--help");
    });
  }

  it("a flag's missing value and an unexpected argument are one line too, exit 2", async () => {
    const missing = await run("render.ts", ["--stack"]);
    expect([missing.code, missing.stderr.trim()]).toEqual([2, "npm run render: --stack needs a value (usage: npm run render -- --help)"]);
    const extra = await run("cluster.ts", ["status", "now"]);
    expect([extra.code, extra.stderr.trim()]).toEqual([2, "npm run cluster: unexpected argument 'now' (usage: npm run cluster -- --help)"]);
    const runs = await run("bench.ts", ["--runs", "many"]);
    expect([runs.code, runs.stderr.trim()]).toEqual([2, "npm run bench: --runs needs a whole number of at least 1, not 'many' (usage: npm run bench -- --help)"]);
  });

  afterAll(() => expect(readdirSync(cache)).toEqual([]));
});

describe("npm run up|preview|destroy|refresh: what goes to pulumi", () => {
  const parse = (...argv: string[]) => {
    const { command, values, pulumiArgs } = parseStackArgs(argv);
    return { command, stack: values.stack, summary: values.summary, pulumiArgs };
  };

  it("keeps the README's invocations (npm has already taken its own `--`)", () => {
    expect(parse("up", "--stack", "dev", "--yes")).toEqual({ command: "up", stack: "dev", summary: undefined, pulumiArgs: ["--yes"] });
    expect(parse("preview", "--stack", "prod", "--summary", "FILE")).toEqual({ command: "preview", stack: "prod", summary: "FILE", pulumiArgs: [] });
    expect(parse("destroy", "--stack", "staging")).toEqual({ command: "destroy", stack: "staging", summary: undefined, pulumiArgs: [] });
    expect(parse("refresh")).toEqual({ command: "refresh", stack: "local", summary: undefined, pulumiArgs: [] });
    // bench and the e2e tier
    expect(parse("up", "--stack", "local", "--yes", "--skip-preview").pulumiArgs).toEqual(["--yes", "--skip-preview"]);
    expect(parse("up", "--stack=dev", "-s", "prod", "--target", "urn:a", "--json").pulumiArgs).toEqual(["--target", "urn:a", "--json"]);
    expect(parse("up", "-s", "prod").stack).toBe("prod");
  });

  it("passes the listed pulumi flags as given, and everything after a literal `--` unchanged", () => {
    expect(parse("up", "--stack", "dev", "-yf", "-turn:a", "--target=urn:b", "--message=-x", "--", "--target", "urn:c", "--policy-pack", "p", "--stack", "other")).toEqual({
      command: "up",
      stack: "dev",
      summary: undefined,
      pulumiArgs: ["-y", "-f", "-turn:a", "--target=urn:b", "--message=-x", "--target", "urn:c", "--policy-pack", "p", "--stack", "other"],
    });
  });

  it("rejects any other flag before `--`, a stray argument, and --summary without preview", () => {
    expect(() => parse("up", "--policy-pack", "p")).toThrow("unknown option --policy-pack; a pulumi flag not listed in --help goes after a second --: npm run up -- --stack S -- --policy-pack");
    expect(() => parse("up", "dev")).toThrow("unexpected argument 'dev'; arguments for pulumi go after --");
    expect(() => parse("up", "--summary", "FILE")).toThrow("--summary goes with preview");
    expect(() => parse("deploy")).toThrow("unknown command 'deploy'");
    expect(() => parse("--yes")).toThrow("name a command: up|preview|destroy|refresh");
  });
});
