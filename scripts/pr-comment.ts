// One GitHub comment per stack on a pull request, and one open issue per drifted stack, kept up
// to date in place through `gh api`; the usage is below (--help). The workflows call it.
import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { $ } from "zx/core";
import { cliArgs, HELP, isMain, UsageError } from "./lib/args.js";
import { changingSteps, failedSummary, parsePlan, planFailed, summarizeOutput } from "./lib/summary.js";

const NAME = "npx tsx scripts/pr-comment.ts";
const USAGE = `
usage: ${NAME} pr|issue --stack S [options]

Keeps one GitHub comment (pr) or one open issue (issue) per stack up to date, found by a hidden
marker in its first line, with \`gh api\` (gh reads GH_TOKEN). Prints the Markdown it posts.

  pr      the stack's comment on pull request N, marker <!-- obs-preview:S -->: created once,
          then edited in place (a duplicate of ours is deleted)
  issue   the stack's drift issue, marker <!-- obs-drift:S -->, from \`pulumi refresh
          --preview-only --json\`: a drift opens the issue or rewrites its body; a clean check
          notes on an open one that the drift is gone (it is never closed automatically); a
          failed check touches no issue. Exit 0: no drift, 3: drifted, 1: the check failed

options:
  -s, --stack S        the stack (required)
  --pr N               pr: the pull request number (required with pr)
  --body-file FILE     pr: the comment's Markdown (npm run preview -- --summary FILE); when FILE
                       does not exist, the preview failed before writing it and the comment
                       shows the error lines of --log (default: none)
  --log FILE           pr: the preview's output, for that error, and for one that stopped pulumi
                       before it made a plan (default: none)
  --unaffected         pr: the pull request no longer changes a file the stack depends on:
                       its comment, if it has one, says so (none is created)
  --refresh-json FILE  issue: the refresh's JSON (required with issue)
  --exit-code N        the preview's (pr) or the refresh's (issue) exit code (default: 0)
  --commit SHA         the commit the text is about, shown under it (default: none)
  --run-url URL        the workflow run, linked under the text (default: from GITHUB_SERVER_URL,
                       GITHUB_REPOSITORY and GITHUB_RUN_ID when set)
  --repo OWNER/NAME    the repository (default: $GITHUB_REPOSITORY)
  --author LOGIN       whose comments and issues are ours (default: github-actions[bot])
  -h, --help           this text

examples:
  ${NAME} pr --stack prod --pr 42 --body-file summary.md --log preview.log
  ${NAME} issue --stack prod --refresh-json refresh.json --exit-code 0
`;

const OPTIONS = {
  ...HELP,
  stack: { type: "string", short: "s" },
  pr: { type: "string" },
  "body-file": { type: "string" },
  log: { type: "string" },
  unaffected: { type: "boolean" },
  "refresh-json": { type: "string" },
  "exit-code": { type: "string", default: "0" },
  commit: { type: "string" },
  "run-url": { type: "string" },
  repo: { type: "string" },
  author: { type: "string", default: "github-actions[bot]" },
} as const;

/** A comment holds at most 65,536 characters. */
const MAX_BODY = 65_000;

export const marker = (kind: "preview" | "drift", stack: string) => `<!-- obs-${kind}:${stack} -->`;

/** `pr|issue --stack S ...`; a leading `--` is dropped, so `npx tsx scripts/pr-comment.ts -- --help` works too. */
function parseCommentArgs(argv: string[]) {
  const parsed = parseArgs({ args: argv[0] === "--" ? argv.slice(1) : argv, strict: true, allowPositionals: true, options: OPTIONS });
  const [command] = parsed.positionals;
  return { ...parsed, command };
}

function check({ values: v, command, positionals }: ReturnType<typeof parseCommentArgs>): void {
  if (command !== "pr" && command !== "issue") throw new UsageError(command === undefined ? "name a command: pr|issue" : `unknown command '${command}' (commands: pr, issue)`);
  if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`);
  if (!v.stack) throw new UsageError("--stack S is required");
  if (!v.repo && !process.env.GITHUB_REPOSITORY) throw new UsageError("--repo OWNER/NAME is required when GITHUB_REPOSITORY is not set");
  if (command === "pr" && !/^\d+$/.test(v.pr ?? "")) throw new UsageError(`--pr needs a pull request number${v.pr === undefined ? "" : `, not '${v.pr}'`}`);
  if (command === "issue" && !v["refresh-json"]) throw new UsageError("--refresh-json FILE is required with issue");
  if (command === "pr" && !v["body-file"] && !v.unaffected) throw new UsageError("pr needs --body-file FILE (or --unaffected)");
  if (!/^-?\d+$/.test(v["exit-code"])) throw new UsageError(`--exit-code needs a number, not '${v["exit-code"]}'`);
}

interface Item {
  id: number;
  author: string;
  body: string;
}

/** The gh calls this script makes, in one place (the unit test puts a fake gh on PATH). */
const gh = {
  async list(path: string, id: "id" | "number"): Promise<Item[]> {
    const out = await run(["api", "--paginate", path, "--jq", `.[] | [.${id}, .user.login, .body // ""] | @json`]);
    return out
      .split("\n")
      .filter((l) => l.trim())
      .map((l) => {
        const [num, author, body] = JSON.parse(l) as [number, string, string];
        return { id: num, author, body };
      });
  },
  async send(method: "POST" | "PATCH" | "DELETE", path: string, payload?: Record<string, string>): Promise<void> {
    await run(["api", "--method", method, path, ...(payload ? ["--input", "-"] : [])], payload && JSON.stringify(payload));
  },
};

async function run(args: string[], input?: string): Promise<string> {
  const r = await $({ quiet: true, nothrow: true, ...(input === undefined ? {} : { input }) })`gh ${args}`;
  // gh's own message is its last line (a shell's start-up noise may come first)
  if (r.exitCode !== 0) throw new Error(`gh ${args.slice(0, 4).join(" ")} failed: ${(r.stderr || r.stdout).trim().split("\n").pop()}`);
  return r.stdout;
}

/** The oldest of ours that starts with `mark`; the rest of ours are duplicates. */
function ours(items: Item[], mark: string, author: string): { found?: Item; duplicates: Item[] } {
  const mine = items.filter((i) => i.author === author && i.body.trimStart().startsWith(mark));
  return { found: mine[0], duplicates: mine.slice(1) };
}

function footer(v: { commit?: string; "run-url"?: string }): string {
  const env = process.env;
  const run = v["run-url"] ?? (env.GITHUB_SERVER_URL && env.GITHUB_REPOSITORY && env.GITHUB_RUN_ID ? `${env.GITHUB_SERVER_URL}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}` : undefined);
  const parts = [v.commit ? `commit ${v.commit.slice(0, 12)}` : undefined, run ? `[workflow run](${run})` : undefined, `updated ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC`];
  return `<sub>${parts.filter(Boolean).join(" · ")}</sub>`;
}

function capped(body: string): string {
  if (body.length <= MAX_BODY) return body;
  return `${body.slice(0, MAX_BODY).replace(/\n[^\n]*$/, "")}\n\n… (cut at ${MAX_BODY} characters: the job log has the rest)\n`;
}

/** The stack's PR comment as posted: the marker line, the summary, the footer. */
export function commentBody(stack: string, summary: string, footerLine: string): string {
  return capped(`${marker("preview", stack)}\n${summary.trimEnd()}\n\n${footerLine}\n`);
}

/** pr: the body, then creates or edits the stack's comment. */
async function upsertComment(repo: string, stack: string, v: ReturnType<typeof parseCommentArgs>["values"]): Promise<number> {
  const file = v["body-file"];
  const written = file && existsSync(file) ? readFileSync(file, "utf8") : undefined;
  const log = v.log && existsSync(v.log) ? readFileSync(v.log, "utf8") : "";
  // no summary (the command stopped before writing one, e.g. on refused config): the log's error lines
  const summary = v.unaffected
    ? `### \`pulumi preview\` of stack \`${stack}\`\n\nThis pull request no longer changes a file stack \`${stack}\` depends on: nothing to preview.\n`
    : (written ?? failedSummary(stack, log, Number(v["exit-code"]) || 1));
  const mark = marker("preview", stack);
  const body = commentBody(stack, summary, footer(v));
  const { found, duplicates } = ours(await gh.list(`repos/${repo}/issues/${v.pr}/comments?per_page=100`, "id"), mark, v.author);
  if (found) {
    await gh.send("PATCH", `repos/${repo}/issues/comments/${found.id}`, { body });
    console.error(`[pr-comment] stack ${stack}: edited comment ${found.id} on #${v.pr}`);
  } else if (v.unaffected) {
    console.error(`[pr-comment] stack ${stack}: not affected and no comment on #${v.pr}: nothing to do`);
    return 0;
  } else {
    await gh.send("POST", `repos/${repo}/issues/${v.pr}/comments`, { body });
    console.error(`[pr-comment] stack ${stack}: created its comment on #${v.pr}`);
  }
  for (const d of duplicates) {
    await gh.send("DELETE", `repos/${repo}/issues/comments/${d.id}`);
    console.error(`[pr-comment] stack ${stack}: deleted duplicate comment ${d.id}`);
  }
  process.stdout.write(body);
  return 0;
}

const SUMMARY_MARK = "<!-- obs-drift-summary -->";

/** issue: reads the refresh, then opens, rewrites or notes on the stack's drift issue. */
async function upsertIssue(repo: string, stack: string, v: ReturnType<typeof parseCommentArgs>["values"]): Promise<number> {
  const stdout = readFileSync(v["refresh-json"]!, "utf8");
  const code = Number(v["exit-code"]);
  const operation = "pulumi refresh --preview-only";
  const summary = summarizeOutput(stack, stdout, code, {}, { operation });
  // failed and drifted as the summary judges them: the issue never says otherwise than its text
  const plan = parsePlan(stdout);
  if (!plan || planFailed(plan, code)) {
    process.stdout.write(summary);
    console.error(`[pr-comment] stack ${stack}: the drift check failed; no issue was opened or changed`);
    return 1;
  }
  const drifted = changingSteps(plan).length > 0;
  const mark = marker("drift", stack);
  const { found } = ours(await gh.list(`repos/${repo}/issues?state=open&creator=${encodeURIComponent(v.author)}&per_page=100`, "number"), mark, v.author);
  const when = footer(v);
  if (drifted) {
    const body = capped(
      `${mark}\n**Stack \`${stack}\` drifted**: the cluster differs from what Pulumi recorded at the last \`up\`. ` +
        `\`npm run up -- --stack ${stack}\` puts back what the code says (a field changed with kubectl stays kubectl's: the up reports a Server-Side Apply conflict on it until that field manager is removed from the object); ` +
        `\`npm run refresh -- --stack ${stack}\` takes the cluster's state into Pulumi's instead. ` +
        `Every check rewrites this text; nothing closes this issue automatically.\n\n${when}\n\n${SUMMARY_MARK}\n${summary.trimEnd()}\n`,
    );
    if (found) await gh.send("PATCH", `repos/${repo}/issues/${found.id}`, { body });
    else await gh.send("POST", `repos/${repo}/issues`, { title: `Drift in stack ${stack}`, body });
    console.error(`[pr-comment] stack ${stack}: drifted; ${found ? `rewrote issue #${found.id}` : "opened an issue"}`);
    process.stdout.write(body);
    return 3;
  }
  if (found) {
    const last = found.body.includes(SUMMARY_MARK) ? found.body.slice(found.body.indexOf(SUMMARY_MARK)) : "";
    const body = capped(`${mark}\n**No drift any more**: the last check found stack \`${stack}\` as Pulumi recorded it. The drift seen before is below; close this issue once its cause is known.\n\n${when}\n\n${last}`);
    await gh.send("PATCH", `repos/${repo}/issues/${found.id}`, { body });
    console.error(`[pr-comment] stack ${stack}: no drift; noted on open issue #${found.id} (left open)`);
  } else console.error(`[pr-comment] stack ${stack}: no drift`);
  process.stdout.write(summary);
  return 0;
}

async function main(): Promise<number> {
  const { values: v, command } = cliArgs(NAME, USAGE, parseCommentArgs, check);
  const repo = v.repo ?? process.env.GITHUB_REPOSITORY!;
  return command === "pr" ? upsertComment(repo, v.stack!, v) : upsertIssue(repo, v.stack!, v);
}

if (isMain(import.meta.url))
  main().then(
    (code) => process.exit(code),
    (e: Error) => {
      console.error(`${NAME}: ${e.message}`);
      process.exit(1);
    },
  );
