// The GitHub workflows, checked here without GitHub: the pinned actionlint (expressions, contexts,
// reusable-workflow calls and, where shellcheck is on PATH, every run: block) over every workflow;
// the triggers against the files the program really loads (its import graph); and the
// "which stacks changed" step of changes.yml run for real with bash and git on a scratch repo.
import { execFile, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { repoRoot, toolPath } from "../../lib/tools.js";

const workflowsDir = path.join(repoRoot, ".github", "workflows");
const workflowFiles = readdirSync(workflowsDir).filter((f) => /\.ya?ml$/.test(f));
/** How GitHub runs a step's `run:` when no shell is named. */
const GITHUB_BASH = ["--noprofile", "--norc", "-e", "-c"];
const workflow = (f: string) => parse(readFileSync(path.join(workflowsDir, f), "utf8"));

describe("actionlint", () => {
  it("passes every workflow with no output", () => {
    const bin = toolPath("actionlint"); // a missing tool fails here with the line that says how to build it
    const r = spawnSync(bin, ["-no-color", ...workflowFiles.map((f) => path.join(".github", "workflows", f))], { cwd: repoRoot, encoding: "utf8", timeout: 120_000 });
    expect(`${r.stdout}${r.stderr}`).toBe("");
    expect(r.status).toBe(0);
  });
});

/** Repo-relative .ts files index.ts loads, following relative static and dynamic imports. */
function importGraph(entry: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const { fileName } of ts.preProcessFile(readFileSync(path.join(repoRoot, file), "utf8"), true, true).importedFiles) {
      if (fileName.startsWith(".")) visit(path.relative(repoRoot, path.resolve(repoRoot, path.dirname(file), fileName)).replace(/\.js$/, ".ts"));
    }
  };
  visit(entry);
  return [...seen].sort();
}

/** Every file under `dir` (repo-relative). */
const filesUnder = (dir: string): string[] =>
  readdirSync(path.join(repoRoot, dir)).flatMap((e) => {
    const rel = path.join(dir, e);
    return statSync(path.join(repoRoot, rel)).isDirectory() ? filesUnder(rel) : [rel];
  });

/** GitHub's paths filter, for the two forms used: `dir/**` and an exact file. */
const matches = (patterns: string[], file: string) => patterns.some((p) => (p.endsWith("/**") ? file.startsWith(p.slice(0, -2)) : file === p));

describe("triggers and the per-stack change test cover every file the program loads", () => {
  const graph = importGraph("index.ts");
  // the folders of every imported module, whole (logging's scripts, the stacks' config files),
  // tools/versions.json (read by lib/tools.ts) and the project files npm, Pulumi and tsc read
  const folders = [...new Set(graph.map((f) => path.dirname(f)).filter((d) => d !== "."))];
  const loaded = [...new Set([...graph, ...folders.flatMap(filesUnder), "tools/versions.json", "package.json", "package-lock.json", "Pulumi.yaml", "tsconfig.json"])].sort();

  it("reads the import graph (so the checks below mean something)", () => {
    expect(graph).toEqual(expect.arrayContaining(["index.ts", "config/index.ts", "lib/tools.ts", "components/istio/index.ts", "components/k8s/labels.ts"]));
    expect(graph.some((f) => f.startsWith("scripts/"))).toBe(false);
    expect(loaded).toEqual(expect.arrayContaining(["config/Pulumi.prod.yaml", "components/logging/index.ts"]));
  });

  for (const [file, on] of [
    ["preview.yml", "pull_request"],
    ["up.yml", "push"],
  ] as const) {
    it(`${file} is triggered by each of them`, () => {
      const paths: string[] = workflow(file).on[on].paths;
      expect(paths.every((p) => p.endsWith("/**") || !p.includes("*"))).toBe(true);
      expect(loaded.filter((f) => !matches(paths, f))).toEqual([]);
    });
  }

  it("changes.yml counts each of them: shared folders for every stack, a stack's config file for that stack alone", () => {
    const run: string = workflow("changes.yml").jobs.changes.steps.find((s: { id?: string }) => s.id === "diff").run;
    const program = /^\s*program=\((.*)\)\s*$/m.exec(run)![1]!.split(/\s+/).filter(Boolean);
    const shared = program.filter((p) => !p.startsWith("':"));
    expect(program).toContain("':(exclude)config/Pulumi.*.yaml'");
    const covered = (f: string) => /^config\/Pulumi\.[^/]+\.yaml$/.test(f) || shared.some((p) => f === p || f.startsWith(`${p}/`));
    expect(loaded.filter((f) => !covered(f))).toEqual([]);
    // the stacks' extra dashboards: under a folder the triggers cover
    for (const stack of ["dev", "staging", "prod"]) {
      const cfg = parse(readFileSync(path.join(repoRoot, "config", `Pulumi.${stack}.yaml`), "utf8")).config ?? {};
      for (const f of cfg["obs:grafana"]?.extraDashboards ?? []) expect(matches(workflow("preview.yml").on.pull_request.paths, f), `${stack}: ${f}`).toBe(true);
    }
  });
});

describe("changes.yml's step, run with bash and git", () => {
  const run: string = workflow("changes.yml").jobs.changes.steps.find((s: { id?: string }) => s.id === "diff").run;
  const repo = mkdtempSync(path.join(os.tmpdir(), "obs-changes-"));
  const git = (...args: string[]) => {
    const r = spawnSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.invalid", ...args], { cwd: repo, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(repo, file)), { recursive: true });
    writeFileSync(path.join(repo, file), text);
  };
  function commit(files: Record<string, string>): string {
    for (const [f, t] of Object.entries(files)) write(f, t);
    git("add", "-A");
    git("commit", "-q", "-m", "change");
    return git("rev-parse", "HEAD");
  }
  function changes(base: string, head: string, tooling = false): Record<string, string[]> {
    const out = path.join(repo, "..", `${path.basename(repo)}-out`);
    writeFileSync(out, "");
    const r = spawnSync("bash", [...GITHUB_BASH, run], { cwd: repo, encoding: "utf8", env: { PATH: process.env.PATH, BASE: base, HEAD: head, TOOLING: String(tooling), GITHUB_OUTPUT: out, GITHUB_STEP_SUMMARY: "/dev/null" } });
    expect(r.status, r.stderr).toBe(0);
    return Object.fromEntries(readFileSync(out, "utf8").trim().split("\n").map((l) => [l.split("=")[0]!, JSON.parse(l.slice(l.indexOf("=") + 1))]));
  }

  git("init", "-q", "-b", "main");
  symlinkSync(path.join(repoRoot, "node_modules"), path.join(repo, "node_modules"));
  write(".gitignore", "node_modules\n");
  const base = commit({
    "index.ts": "export {};\n",
    "components/grafana/index.ts": "export {};\n",
    "config/index.ts": "export {};\n",
    "config/Pulumi.local.yaml": "config: {}\n",
    "config/Pulumi.dev.yaml": "config:\n  obs:environment: dev\n",
    "config/Pulumi.staging.yaml": "config:\n  obs:environment: staging\n",
    "config/Pulumi.prod.yaml": "config:\n  obs:environment: prod\n  obs:grafana:\n    extraDashboards: [dashboards/team.json]\n",
    "dashboards/team.json": "{}\n",
    "README.md": "hi\n",
    "scripts/pr-comment.ts": "export {};\n",
  });
  const branch = (name: string, files: Record<string, string>) => {
    git("checkout", "-q", "-b", name, base);
    return commit(files);
  };

  it("a stack's own config file: that stack alone; another stack's config never counts", () => {
    expect(changes(base, branch("dev-config", { "config/Pulumi.dev.yaml": "config:\n  obs:environment: dev2\n" }))).toEqual({ stacks: ["dev", "prod", "staging"], changed: ["dev"], unchanged: ["prod", "staging"] });
    expect(changes(base, branch("local-config", { "config/Pulumi.local.yaml": "config: { a: 1 }\n" })).changed).toEqual([]);
  });

  it("a file the program imports, or config/ code: every stack", () => {
    expect(changes(base, branch("component", { "components/grafana/index.ts": "export const a = 1;\n" })).changed).toEqual(["dev", "prod", "staging"]);
    expect(changes(base, branch("config-code", { "config/index.ts": "export const b = 1;\n" })).changed).toEqual(["dev", "prod", "staging"]);
  });

  it("a dashboard file a stack's config names: that stack", () => {
    expect(changes(base, branch("dashboard", { "dashboards/team.json": '{"uid":"x"}\n' })).changed).toEqual(["prod"]);
  });

  it("nothing the program loads: no stack; the preview's own scripts count only with tooling", () => {
    expect(changes(base, branch("docs", { "README.md": "hello\n" })).changed).toEqual([]);
    const script = branch("script", { "scripts/pr-comment.ts": "export const c = 1;\n" });
    expect(changes(base, script).changed).toEqual([]);
    expect(changes(base, script, true).changed).toEqual(["dev", "prod", "staging"]);
  });

  it("an unknown base (a first push, a force push): every stack", () => {
    expect(changes("", base).changed).toEqual(["dev", "prod", "staging"]);
    expect(changes("0000000000000000000000000000000000000000", base).changed).toEqual(["dev", "prod", "staging"]);
  });
});

describe("stack.yml's credentials step, run with bash", () => {
  const step = workflow("stack.yml").jobs.run.steps.find((s: { name?: string }) => s.name?.startsWith("cluster credentials"));

  async function credentials(env: Record<string, string>): Promise<{ code: number; out: string; githubEnv: string; dir: string }> {
    const dir = mkdtempSync(path.join(os.tmpdir(), "obs-credentials-"));
    writeFileSync(path.join(dir, "github-env"), "");
    const base = { PATH: process.env.PATH!, RUNNER_TEMP: dir, GITHUB_ENV: path.join(dir, "github-env"), STACK: "prod", COMMAND: "preview", OIDC_AUDIENCE: "", KUBE_SERVER: "", KUBE_CA_DATA: "", KUBECONFIG_DATA: "" };
    const r = await execFileP("bash", [...GITHUB_BASH, step.run], { cwd: repoRoot, env: { ...base, ...env } });
    return { ...r, githubEnv: readFileSync(path.join(dir, "github-env"), "utf8"), dir };
  }

  it("OIDC: a kubeconfig without a credential, whose helper asks GitHub's endpoint for a token of the audience", async () => {
    const calls: { url?: string; auth?: string }[] = [];
    const server = http.createServer((req, res) => {
      calls.push({ url: req.url, auth: req.headers.authorization });
      res.end(JSON.stringify({ value: "signed.jwt.token" }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    const oidc = { ACTIONS_ID_TOKEN_REQUEST_URL: `http://127.0.0.1:${port}/token?api-version=2.0`, ACTIONS_ID_TOKEN_REQUEST_TOKEN: "request-token" };
    try {
      const r = await credentials({ ...oidc, OIDC_AUDIENCE: "obs-kubernetes", KUBE_SERVER: "https://127.0.0.1:6443", KUBE_CA_DATA: "Q0E=" });
      expect(r.code, r.out).toBe(0);
      const file = path.join(r.dir, "kubeconfig");
      expect(r.githubEnv).toBe(`KUBECONFIG=${file}\n`);
      expect((statSync(file).mode & 0o777).toString(8)).toBe("600");
      // kubectl reads it: the context the prod config names, the server, an exec user and no token
      const view = JSON.parse((await execFileP(toolPath("kubectl"), ["config", "view", "--kubeconfig", file, "--minify", "--raw", "-o", "json"], {})).out);
      expect(view["current-context"]).toBe("prod");
      expect(view.clusters[0].cluster).toEqual({ server: "https://127.0.0.1:6443", "certificate-authority-data": "Q0E=" });
      const exec = view.users[0].user.exec;
      expect(JSON.stringify(view.users)).not.toContain("token\":");
      const cred = await execFileP(exec.command, exec.args, { env: { PATH: process.env.PATH!, ...oidc } });
      expect(JSON.parse(cred.out)).toEqual({ apiVersion: "client.authentication.k8s.io/v1", kind: "ExecCredential", status: { token: "signed.jwt.token" } });
      expect(calls).toEqual([{ url: "/token?api-version=2.0&audience=obs-kubernetes", auth: "bearer request-token" }]);
    } finally {
      server.close();
    }
  });

  it("fallback: the kubeconfig secret, with a warning; neither: one error naming what to set", async () => {
    const r = await credentials({ KUBECONFIG_DATA: "apiVersion: v1\nkind: Config\n" });
    expect(r.code).toBe(0);
    expect(r.out).toContain("::warning::stack prod: a long-lived kubeconfig secret is in use");
    expect(readFileSync(path.join(r.dir, "kubeconfig"), "utf8")).toBe("apiVersion: v1\nkind: Config\n");
    const none = await credentials({ COMMAND: "up" });
    expect(none.code).toBe(1);
    expect(none.out.trim()).toBe("::error::stack prod: no cluster credentials: set the variables KUBE_OIDC_AUDIENCE and KUBE_SERVER_PROD, or the secret KUBECONFIG_DEPLOY of environment prod (README, Pull requests)");
    expect(none.githubEnv).toBe("");
  });
});

/** A command's exit code and its stdout and stderr together, without blocking the event loop. */
function execFileP(file: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv }): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { ...opts, encoding: "utf8" }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }));
  });
}
