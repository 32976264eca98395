// scripts/pr-comment.ts run for real against a fake `gh` on PATH: a small Node script that keeps
// the pull request's comments and the repository's issues in a JSON file, answers the `gh api`
// calls the script makes (listing as gh's --jq prints strings: one raw line each) and logs them.
import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { marker } from "../../scripts/pr-comment.js";
import { summarizeOutput } from "../../scripts/lib/summary.js";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const tsx = path.join(repo, "node_modules", "tsx", "dist", "cli.mjs");
const fixture = (f: string) => path.join(repo, "test", "unit", "fixtures", f);

const FAKE_GH = `#!/usr/bin/env node
const fs = require("node:fs");
const file = process.env.FAKE_GH_STATE;
const state = JSON.parse(fs.readFileSync(file, "utf8"));
const args = process.argv.slice(2);
const input = args.includes("--input") ? fs.readFileSync(0, "utf8") : undefined;
state.calls.push({ args, input: input && JSON.parse(input) });
const save = () => fs.writeFileSync(file, JSON.stringify(state, null, 1));
if (state.fail) { save(); console.error("HTTP 403: Resource not accessible by integration"); process.exit(1); }
const method = args.includes("--method") ? args[args.indexOf("--method") + 1] : "GET";
const url = args.find((a) => a.startsWith("repos/"));
const [p, query] = url.split("?");
const parts = p.split("/");
let m;
if (method === "GET") {
  if (args[0] !== "api" || !args.includes("--paginate") || !args.includes("--jq")) process.exit(9);
  const jq = args[args.indexOf("--jq") + 1];
  const list = (m = /^repos\\/[^/]+\\/[^/]+\\/issues\\/(\\d+)\\/comments$/.exec(p)) ? state.comments.filter((c) => c.pr === Number(m[1])) : state.issues.filter((i) => i.state === "open" && (!query.includes("creator=") || query.includes("creator=" + encodeURIComponent(i.user.login))));
  const key = jq.startsWith(".[] | [.id,") ? "id" : "number";
  for (const c of list) console.log(JSON.stringify([c[key], c.user.login, c.body]));
} else if (method === "PATCH" && (m = /\\/issues\\/comments\\/(\\d+)$/.exec(p))) {
  Object.assign(state.comments.find((c) => c.id === Number(m[1])), JSON.parse(input));
} else if (method === "PATCH" && (m = /\\/issues\\/(\\d+)$/.exec(p))) {
  Object.assign(state.issues.find((i) => i.number === Number(m[1])), JSON.parse(input));
} else if (method === "DELETE" && (m = /\\/issues\\/comments\\/(\\d+)$/.exec(p))) {
  state.comments = state.comments.filter((c) => c.id !== Number(m[1]));
} else if (method === "POST" && (m = /\\/issues\\/(\\d+)\\/comments$/.exec(p))) {
  state.comments.push({ id: 1000 + state.calls.length, pr: Number(m[1]), user: { login: "github-actions[bot]" }, ...JSON.parse(input) });
} else if (method === "POST" && /\\/issues$/.test(p)) {
  state.issues.push({ number: 100 + state.calls.length, state: "open", user: { login: "github-actions[bot]" }, ...JSON.parse(input) });
} else process.exit(8);
save();
`;

interface Comment {
  id: number;
  pr: number;
  user: { login: string };
  body: string;
}
interface Issue {
  number: number;
  state: string;
  title?: string;
  user: { login: string };
  body: string;
}
interface State {
  comments: Comment[];
  issues: Issue[];
  calls: { args: string[]; input?: { body: string; title?: string; state?: string } }[];
  fail?: boolean;
}

function fakeGh(state: Partial<State> = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "obs-fake-gh-"));
  writeFileSync(path.join(dir, "gh"), FAKE_GH);
  chmodSync(path.join(dir, "gh"), 0o755);
  const file = path.join(dir, "state.json");
  writeFileSync(file, JSON.stringify({ comments: [], issues: [], calls: [], ...state }));
  const read = (): State => JSON.parse(readFileSync(file, "utf8"));
  async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const env = { PATH: [dir, path.dirname(process.execPath)].join(path.delimiter), FAKE_GH_STATE: file, GITHUB_REPOSITORY: "acme/obs", GITHUB_SERVER_URL: "https://github.com", GITHUB_RUN_ID: "77" };
    try {
      const r = await promisify(execFile)(process.execPath, [tsx, "scripts/pr-comment.ts", ...args], { cwd: repo, env, encoding: "utf8" });
      return { code: 0, ...r };
    } catch (e) {
      const { code, stdout, stderr } = e as { code: number; stdout: string; stderr: string };
      return { code, stdout, stderr };
    }
  }
  return { dir, read, run };
}

const bot = { login: "github-actions[bot]" };
const writes = (s: State) => s.calls.filter((c) => c.args.includes("--method")).map((c) => `${c.args[c.args.indexOf("--method") + 1]} ${c.args.find((a) => a.startsWith("repos/"))}`);

describe("pr-comment pr: one comment per stack, edited in place", { timeout: 60_000 }, () => {
  it("creates the stack's comment once, then edits that one on the next push", async () => {
    const gh = fakeGh({ comments: [{ id: 5, pr: 42, user: { login: "alice" }, body: "looks good" }] });
    const summary = path.join(gh.dir, "summary.md");
    writeFileSync(summary, "### `pulumi preview` of stack `prod`\n\nfirst\n");
    const first = await gh.run("pr", "--stack", "prod", "--pr", "42", "--body-file", summary, "--commit", "0123456789abcdef0123");
    expect(first.code, first.stderr).toBe(0);
    writeFileSync(summary, "### `pulumi preview` of stack `prod`\n\nsecond\n");
    expect((await gh.run("pr", "--stack", "prod", "--pr", "42", "--body-file", summary)).code).toBe(0);

    const s = gh.read();
    expect(writes(s)).toEqual(["POST repos/acme/obs/issues/42/comments", "PATCH repos/acme/obs/issues/comments/1002"]);
    const mine = s.comments.filter((c) => c.user.login === bot.login);
    expect(mine).toHaveLength(1);
    expect(mine[0]!.body.startsWith(`${marker("preview", "prod")}\n### \`pulumi preview\` of stack \`prod\`\n\nsecond\n`)).toBe(true);
    expect(mine[0]!.body).toContain("[workflow run](https://github.com/acme/obs/actions/runs/77)");
    expect(s.comments.find((c) => c.id === 5)!.body).toBe("looks good");
    // the first call's footer named the commit
    expect(s.calls.find((c) => c.input)!.input!.body).toContain("commit 0123456789ab");
  });

  it("keeps stacks apart, ignores the marker in someone else's comment, and removes a duplicate of ours", async () => {
    const gh = fakeGh({
      comments: [
        { id: 1, pr: 7, user: { login: "mallory" }, body: `${marker("preview", "dev")}\nnot the bot's` },
        { id: 2, pr: 7, user: bot, body: `${marker("preview", "dev")}\nold dev` },
        { id: 3, pr: 7, user: bot, body: `${marker("preview", "prod")}\nold prod` },
        { id: 4, pr: 7, user: bot, body: `${marker("preview", "dev")}\nduplicate dev` },
        { id: 9, pr: 8, user: bot, body: `${marker("preview", "dev")}\nanother PR` },
      ],
    });
    const summary = path.join(gh.dir, "dev.md");
    writeFileSync(summary, "new dev\n");
    const r = await gh.run("pr", "--stack", "dev", "--pr", "7", "--body-file", summary);
    expect(r.code, r.stderr).toBe(0);
    const s = gh.read();
    expect(writes(s)).toEqual(["PATCH repos/acme/obs/issues/comments/2", "DELETE repos/acme/obs/issues/comments/4"]);
    expect(s.comments.map((c) => [c.id, c.body.split("\n")[1]])).toEqual([
      [1, "not the bot's"],
      [2, "new dev"],
      [3, "old prod"],
      [9, "another PR"],
    ]);
  });

  it("posts the error when the preview failed before writing its summary (a real log: the stack's config refused)", async () => {
    const gh = fakeGh();
    const log = fixture("preview-config-error.txt");
    const r = await gh.run("pr", "--stack", "prod", "--pr", "3", "--body-file", path.join(gh.dir, "missing.md"), "--log", log, "--exit-code", "2");
    expect(r.code, r.stderr).toBe(0);
    const body = gh.read().comments[0]!.body;
    expect(body).toContain("**pulumi preview failed** (exit code 2) before it produced a plan. Nothing was changed.\n\n```text\nerror: invalid configuration for stack 'prod' (config/Pulumi.prod.yaml), 4 problem(s):\n  - obs:logging.elasticPassword = (missing)");
    expect(body).not.toContain("> tsx scripts/stack.ts"); // npm's banner
    expect(r.stdout).toBe(body);
  });

  it("shows pulumi's error that went to stderr before any plan (the summary carries it, as stack.ts passes stderr on)", async () => {
    const gh = fakeGh();
    const summary = path.join(gh.dir, "summary.md");
    const stderr = "error: incorrect passphrase, please set PULUMI_CONFIG_PASSPHRASE to the correct passphrase\n";
    writeFileSync(summary, summarizeOutput("prod", "", 1, {}, { stderr }));
    const log = path.join(gh.dir, "preview.log");
    writeFileSync(log, stderr);
    expect((await gh.run("pr", "--stack", "prod", "--pr", "3", "--body-file", summary, "--log", log, "--exit-code", "1")).code).toBe(0);
    expect(gh.read().comments[0]!.body).toContain("```text\nerror: incorrect passphrase, please set PULUMI_CONFIG_PASSPHRASE to the correct passphrase\n```");
  });

  it("--unaffected: a stack the pull request no longer changes gets its comment edited, and none created", async () => {
    const gh = fakeGh({ comments: [{ id: 8, pr: 3, user: bot, body: `${marker("preview", "prod")}\nold prod preview` }] });
    expect((await gh.run("pr", "--stack", "staging", "--pr", "3", "--unaffected")).code).toBe(0);
    expect(writes(gh.read())).toEqual([]);
    expect((await gh.run("pr", "--stack", "prod", "--pr", "3", "--unaffected")).code).toBe(0);
    const s = gh.read();
    expect(writes(s)).toEqual(["PATCH repos/acme/obs/issues/comments/8"]);
    expect(s.comments[0]!.body).toContain("This pull request no longer changes a file stack `prod` depends on: nothing to preview.");
  });

  it("fails with gh's one line when GitHub refuses (e.g. a read-only token)", async () => {
    const gh = fakeGh({ fail: true });
    const summary = path.join(gh.dir, "s.md");
    writeFileSync(summary, "x\n");
    const r = await gh.run("pr", "--stack", "prod", "--pr", "3", "--body-file", summary);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe("npx tsx scripts/pr-comment.ts: gh api --paginate repos/acme/obs/issues/3/comments?per_page=100 --jq failed: HTTP 403: Resource not accessible by integration");
  });

  it("checks its arguments before calling gh", async () => {
    const gh = fakeGh();
    expect(await gh.run("pr", "--stack", "prod", "--pr", "x")).toMatchObject({ code: 2, stderr: "npx tsx scripts/pr-comment.ts: --pr needs a pull request number, not 'x' (usage: npx tsx scripts/pr-comment.ts -- --help)\n" });
    expect(await gh.run("issue", "--stack", "prod")).toMatchObject({ code: 2, stderr: expect.stringContaining("--refresh-json FILE is required with issue") });
    expect(await gh.run("comment", "--stack", "prod")).toMatchObject({ code: 2, stderr: expect.stringContaining("unknown command 'comment' (commands: pr, issue)") });
    expect((await gh.run("--", "--help")).stdout.startsWith("usage: npx tsx scripts/pr-comment.ts pr|issue")).toBe(true);
    expect(gh.read().calls).toEqual([]);
  });
});

describe("pr-comment issue: one open drift issue per stack", { timeout: 60_000 }, () => {
  const drift = fixture("refresh-drift.json");
  const clean = fixture("refresh-clean.json");

  it("opens the issue on drift, rewrites it on the next drift, notes a clean check and never closes it", async () => {
    const gh = fakeGh({ issues: [{ number: 1, state: "open", user: { login: "alice" }, body: `${marker("drift", "prod")} quoted by a human` }] });
    const first = await gh.run("issue", "--stack", "prod", "--refresh-json", drift);
    expect(first.code, first.stderr).toBe(3);
    const again = await gh.run("issue", "--stack", "prod", "--refresh-json", drift);
    expect(again.code).toBe(3);
    let s = gh.read();
    expect(writes(s)).toEqual(["POST repos/acme/obs/issues", "PATCH repos/acme/obs/issues/102"]);
    const issue = s.issues.find((i) => i.number === 102)!;
    expect(issue.title).toBe("Drift in stack prod");
    expect(issue.body.startsWith(`${marker("drift", "prod")}\n**Stack \`prod\` drifted**`)).toBe(true);
    expect(issue.body).toContain("### `pulumi refresh --preview-only` of stack `prod`");
    expect(issue.body).toContain("`spec.replicas`: `3` → `5`");

    const ok = await gh.run("issue", "--stack", "prod", "--refresh-json", clean);
    expect(ok.code, ok.stderr).toBe(0);
    s = gh.read();
    const noted = s.issues.find((i) => i.number === 102)!;
    expect(noted.state).toBe("open");
    expect(noted.body).toContain("**No drift any more**");
    expect(noted.body).toContain("`spec.replicas`: `3` → `5`"); // the drift last seen stays for the record
    expect(s.issues.find((i) => i.number === 1)!.body).toBe(`${marker("drift", "prod")} quoted by a human`);
    expect(s.calls.every((c) => c.input?.state === undefined)).toBe(true); // nothing closes an issue
  });

  it("opens nothing when there is no drift and no issue, and touches no issue when the check failed", async () => {
    const gh = fakeGh();
    expect((await gh.run("issue", "--stack", "dev", "--refresh-json", clean)).code).toBe(0);
    const failed = await gh.run("issue", "--stack", "dev", "--refresh-json", fixture("preview-failed.json"), "--exit-code", "1");
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain("failed** (exit code 1)");
    expect(writes(gh.read())).toEqual([]);
  });

  it("keeps stacks apart", async () => {
    const gh = fakeGh({ issues: [{ number: 4, state: "open", user: bot, body: `${marker("drift", "staging")}\nstaging drift` }] });
    expect((await gh.run("issue", "--stack", "prod", "--refresh-json", drift)).code).toBe(3);
    const s = gh.read();
    expect(writes(s)).toEqual(["POST repos/acme/obs/issues"]);
    expect(s.issues.find((i) => i.number === 4)!.body).toBe(`${marker("drift", "staging")}\nstaging drift`);
    expect(existsSync(drift)).toBe(true);
    // the new issue is prod's alone
    const opened = s.issues.filter((i) => i.number !== 4);
    expect(opened.map((i) => [i.title, i.body.split("\n")[0]])).toEqual([["Drift in stack prod", marker("drift", "prod")]]);
  });
});
