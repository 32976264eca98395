// A reviewer's Markdown summary of `pulumi preview --json` (or `pulumi refresh --preview-only
// --json`): the canary steps on top, counts per component and operation, replaced and deleted
// objects by name, then every changed property as `before → after` in a collapsed <details>.
// Secret values never appear: Pulumi's JSON writes each secret as "[secret]" (a secret in a state
// file is an object keyed by SECRET_SIG), and anything under either is shown as [secret].
// A failed preview gives the error, one block, without the stack trace.
import { stripVTControlCharacters } from "node:util";
import { movedNamespaces } from "../../components/istio/guard.js";

type Props = Record<string, unknown>;
interface State {
  type?: string;
  inputs?: Props;
  outputs?: Props;
}
interface Step {
  op: string;
  urn: string;
  oldState?: State;
  newState?: State;
  /** path -> kind (add, update, delete, each with a `-replace` form) */
  detailedDiff?: Record<string, { kind: string; inputDiff?: boolean }>;
  diffReasons?: string[];
  replaceReasons?: string[];
}
interface Diagnostic {
  urn?: string;
  message: string;
  severity: string;
}

export interface PreviewJson {
  steps?: Step[];
  diagnostics?: Diagnostic[];
  changeSummary?: Record<string, number>;
}

export interface SummaryOptions {
  /** The CLI's exit code; anything but 0 (or an error diagnostic) makes it a failed preview. */
  readonly exitCode?: number;
  /** The operation in the heading (default: `pulumi preview`). */
  readonly operation?: string;
  /** The whole summary stays under this many characters (a GitHub comment holds 65,536). */
  readonly maxChars?: number;
  /** The CLI's stderr: where it writes an error that stops it before it makes a plan. */
  readonly stderr?: string;
}

/** The key Pulumi marks a secret with in a serialized state (@pulumi/pulumi's runtime.specialSigKey, not loaded here for one string). */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
/** What a value not known until apply reads as in a preview. */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const SECRET = Symbol("secret");
const REPLACE_OPS = new Set(["replace", "create-replacement", "delete-replaced"]);
const QUIET_OPS = new Set(["same", "read", "refresh", "discard", "discard-replaced"]);
const MAX_CHARS = 60_000;

/** `urn:pulumi:stack::project::parent$type::name` -> { component, type, name } */
export function parseUrn(urn: string): { component: string; type: string; name: string } {
  const parts = urn.split("::");
  const name = parts.slice(3).join("::");
  const types = (parts[2] ?? "").split("$");
  const type = types[types.length - 1]!;
  const owner = types.find((t) => t.startsWith("obs:")) ?? type;
  const component = owner.startsWith("obs:") ? owner.split(":")[1]! : type === "pulumi:pulumi:Stack" || type.startsWith("pulumi:providers:") ? "stack" : "other";
  return { component, type, name };
}

function objectName(s: Step): string {
  const meta = (s.newState?.inputs?.metadata ?? s.oldState?.inputs?.metadata ?? s.oldState?.outputs?.metadata) as { name?: unknown; namespace?: unknown } | undefined;
  const { type, name } = parseUrn(s.urn);
  const kind = type.split(":").pop();
  const shown = (v: unknown) => typeof v === "string" && v !== UNKNOWN && v !== "[secret]";
  return shown(meta?.name) ? `${kind} ${shown(meta?.namespace) ? `${meta!.namespace}/` : ""}${meta!.name}` : `${kind} ${name}`;
}

/**
 * The summary of a CLI run: its stdout (the JSON, when the engine got that far) and exit code.
 * Output that is not JSON still gives a failed summary, with the error lines it holds.
 */
export function summarizeOutput(stack: string, stdout: string, exitCode: number, namespaceRevisionsAfter: Record<string, string> = {}, opts: Omit<SummaryOptions, "exitCode"> = {}): string {
  const preview = parsePlan(stdout);
  if (!preview) return failedSummary(stack, [stdout, opts.stderr ?? ""].join("\n"), exitCode, opts.operation);
  return summarize(stack, preview, namespaceRevisionsAfter, { ...opts, exitCode });
}

/** The CLI's JSON plan, or undefined when its stdout is no JSON (it stopped before making one). */
export function parsePlan(stdout: string): PreviewJson | undefined {
  try {
    return JSON.parse(stdout) as PreviewJson;
  } catch {
    return undefined;
  }
}

/** A run failed: its exit code is not 0, or the plan has an error diagnostic. */
export const planFailed = (preview: PreviewJson, exitCode = 0): boolean => exitCode !== 0 || (preview.diagnostics ?? []).some((d) => d.severity === "error");

/** The steps that change something (what the summary lists; none: "No changes."). */
export const changingSteps = (preview: PreviewJson): Step[] => (preview.steps ?? []).filter((s) => !QUIET_OPS.has(s.op));

/** How a summary of a failure without a plan says so (a caller with the command's log may prefer that). */
const NO_PLAN = "before it produced a plan";

/** A failure with no JSON plan (e.g. the backend could not be reached): the error lines of `log`. */
export function failedSummary(stack: string, log: string, exitCode: number, operation = "pulumi preview"): string {
  const lines = errorLines(log);
  return [
    heading(operation, stack),
    "",
    `**${operation} failed** (exit code ${exitCode}) ${NO_PLAN}. Nothing was changed.`,
    "",
    ...(lines.length ? fenced(lines.join("\n"), "text") : ["(no error message was captured: see the job log)"]),
    "",
  ].join("\n");
}

/** The first line of an error: Pulumi's `error:`, a JavaScript `Error:`, a script's own `npm run x:`. */
const ERROR_LINE = /^(error|\w*Error|npm run [\w:]+):/;

/**
 * The error of a message or log without stack traces, colours or blank lines: Pulumi's `error:`
 * lines (and the lines they continue on), or, when there are none, the last lines of the text.
 */
export function errorLines(text: string): string[] {
  const lines = stripVTControlCharacters(text)
    .split("\n")
    .map((l) => l.trimEnd());
  const kept: string[] = [];
  let inError = false;
  let inTrace = false;
  for (const l of lines) {
    if (/^\s+at\s/.test(l) || /^\s*\^+\s*$/.test(l)) {
      inTrace = true; // a frame of a JavaScript or Go stack trace
      continue;
    }
    if (/^(goroutine \d+|panic:)/.test(l)) inTrace = true;
    if (ERROR_LINE.test(l.trim())) {
      inError = true;
      inTrace = false;
    } else if (l.trim() === "") {
      inTrace = false;
      continue;
    }
    if (!inTrace && (inError || !/^\s/.test(l))) kept.push(l);
  }
  // repeated lines once; npm's "> script" banner out
  const distinct = kept.filter((l, i) => (i === 0 || l !== kept[i - 1]) && !/^> /.test(l));
  const first = distinct.findIndex((l) => ERROR_LINE.test(l.trim()));
  return (first >= 0 ? distinct.slice(first) : distinct.slice(-15)).slice(0, 40);
}

/**
 * `namespaceRevisionsAfter` is what config asks for: a preview does not carry the stack's new
 * outputs, only the old ones (from the Stack step's old state).
 */
export function summarize(stack: string, preview: PreviewJson, namespaceRevisionsAfter: Record<string, string> = {}, opts: SummaryOptions = {}): string {
  const operation = opts.operation ?? "pulumi preview";
  const maxChars = opts.maxChars ?? MAX_CHARS;
  const errors = (preview.diagnostics ?? []).filter((d) => d.severity === "error");
  const failed = planFailed(preview, opts.exitCode);
  const steps = changingSteps(preview);
  const lines = [heading(operation, stack), ""];

  if (failed) {
    lines.push(`**${operation} failed**${opts.exitCode ? ` (exit code ${opts.exitCode})` : ""}. Nothing was changed.`, "");
    const texts = errors.map(diagnosticText).filter((t) => t !== "preview failed");
    // the program's exception comes twice, with and without its trace: keep the fuller one
    const distinct = texts.filter((t, i) => !texts.some((o, j) => j !== i && o.length > t.length && o.includes(t)));
    const text = distinct.length ? distinct.join("\n") : "(no error diagnostic: see the job log)";
    lines.push(...fenced(text, "text"), "");
  } else if (steps.length === 0) {
    return [...lines, "No changes.", ""].join("\n");
  } else {
    const canary = canarySteps(preview, steps, namespaceRevisionsAfter);
    // (a canary move with no object change cannot happen: the tag or namespace object changes too)
    if (canary.length) lines.push("**Canary steps**:", ...canary, "");
    lines.push(...countTable(steps), "");
    const replaced = [...new Set(steps.filter((s) => s.op === "replace" || s.op === "create-replacement").map(objectName))];
    const deleted = steps.filter((s) => s.op === "delete").map(objectName);
    if (replaced.length) lines.push("**Replaced** (deleted and created again):", ...replaced.map((n) => `- ${n}`), "");
    if (deleted.length) lines.push("**Deleted**:", ...deleted.map((n) => `- ${n}`), "");
  }

  const entries = resourceEntries(steps);
  if (entries.length) {
    const label = failed ? `Changes planned before the failure (${entries.length}, incomplete)` : `Changes per resource (${entries.length})`;
    const head = `<details><summary>${label}</summary>\n`;
    const tail = "</details>\n";
    const room = maxChars - lines.join("\n").length - head.length - tail.length - 200;
    const shown: string[] = [];
    let used = 0;
    for (const e of entries) {
      if (used + e.length + 1 > room) break;
      shown.push(e);
      used += e.length + 1;
    }
    lines.push(head, ...shown);
    if (shown.length < entries.length) lines.push(`- … and ${entries.length - shown.length} more (too long for one comment: the job log has the full preview)`);
    lines.push("", tail);
  }
  return lines.join("\n");
}

const heading = (operation: string, stack: string) => `### \`${operation}\` of stack \`${stack}\``;

function diagnosticText(d: Diagnostic): string {
  const u = d.urn ? parseUrn(d.urn) : undefined;
  const where = u && u.type !== "pulumi:pulumi:Stack" ? `${u.type.split(":").pop()} ${u.name}: ` : "";
  return where + errorLines(d.message).join("\n").replace(/^error:\s*/, "");
}

function countTable(steps: Step[]): string[] {
  const ops = ["create", "update", "replace", "delete"];
  const counts = new Map<string, Record<string, number>>();
  for (const s of steps) {
    if (s.op === "delete-replaced" || s.op === "create-replacement") continue; // counted once as replace
    const op = REPLACE_OPS.has(s.op) ? "replace" : s.op;
    if (!ops.includes(op)) ops.push(op);
    const c = parseUrn(s.urn).component;
    const row = counts.get(c) ?? {};
    row[op] = (row[op] ?? 0) + 1;
    counts.set(c, row);
  }
  const rows = [...counts.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([c, row]) => `| ${c} | ${ops.map((o) => row[o] ?? 0).join(" | ")} |`);
  return ["| component | " + ops.join(" | ") + " |", "| --- | " + ops.map(() => "---").join(" | ") + " |", ...rows];
}

function canarySteps(preview: PreviewJson, steps: Step[], after: Record<string, string>): string[] {
  const canary: string[] = [];
  for (const s of steps) {
    const { type, name } = parseUrn(s.urn);
    if (type === "obs:istio:Revision" && s.op === "create") canary.push(`- adds control-plane revision \`${name.replace(/^istio-/, "")}\``);
    if (type === "obs:istio:Revision" && s.op === "delete") canary.push(`- removes control-plane revision \`${name.replace(/^istio-/, "")}\``);
    if (type.endsWith(":MutatingWebhookConfiguration") && name.includes("istio-revision-tag-") && s.op === "update") canary.push(`- moves revision tag \`${name.split("istio-revision-tag-")[1]}\``);
    // the migration's restart patches (components/istio/migration.ts), named istio-migration/<ns>/<kind>/<name>
    if (/^kubernetes:apps\/v1:(Deployment|StatefulSet|DaemonSet)Patch$/.test(type) && name.startsWith("istio-migration/") && (s.op === "create" || s.op === "update")) canary.push(`- restarts \`${name.slice("istio-migration/".length)}\` (rolling): its pods run another revision than their namespace's`);
  }
  const stackStep = (preview.steps ?? []).find((s) => parseUrn(s.urn).type === "pulumi:pulumi:Stack");
  const before = (stackStep?.oldState?.outputs?.namespaceRevisions ?? {}) as Record<string, string>;
  for (const m of movedNamespaces(before, after)) canary.push(`- namespace \`${m.namespace}\`: revision ${m.from} → ${m.to}; **its workloads restart** (rolling) after \`up\``);
  return canary;
}

/** One Markdown list item per changed resource (a replacement once), with its property changes. */
function resourceEntries(steps: Step[]): string[] {
  const byUrn = new Map<string, Step>();
  for (const s of steps) {
    const seen = byUrn.get(s.urn);
    // of a replacement's steps, the `replace` one carries the diff
    if (!seen || s.op === "replace") byUrn.set(s.urn, s);
  }
  return [...byUrn.values()].map((s) => {
    const op = REPLACE_OPS.has(s.op) ? "replace" : s.op;
    const { component, type } = parseUrn(s.urn);
    const forced = op === "replace" && s.replaceReasons?.length ? ` (replaced because ${s.replaceReasons.map((r) => code(r)).join(", ")} changed)` : "";
    const head = `- **${op}** ${code(objectName(s))} · ${component === "other" ? code(type) : component}${forced}`;
    if (op === "create" || op === "delete") return head;
    return [head, ...propertyChanges(s).map((l) => `  ${l}`)].join("\n");
  });
}

function propertyChanges(s: Step): string[] {
  // no detailed diff (a resource replaced along with one it depends on): its inputs compared here
  const diff: NonNullable<Step["detailedDiff"]> = s.detailedDiff ?? (s.diffReasons?.length ? Object.fromEntries(s.diffReasons.map((k) => [k, { kind: "update" }])) : inputChanges(s.oldState?.inputs, s.newState?.inputs));
  const out: string[] = [];
  for (const [p, { kind, inputDiff }] of Object.entries(diff).sort(([a], [b]) => a.localeCompare(b))) {
    const path = parsePath(p);
    const before = kind.startsWith("add") ? undefined : lookup(s.oldState, path, inputDiff);
    const after = kind.startsWith("delete") ? undefined : lookup(s.newState, path, inputDiff);
    const note = kind.endsWith("-replace") ? " (forces replacement)" : "";
    if (typeof before === "string" && typeof after === "string" && (before.includes("\n") || after.includes("\n"))) {
      const d = lineDiff(before, after);
      out.push(`- ${code(p)}: text, +${d.added} −${d.removed} lines${note}`, ...fenced(d.lines.join("\n"), "diff").map((l) => `  ${l}`));
    } else if (before === SECRET || after === SECRET) {
      out.push(`- ${code(p)}: [secret]${before === undefined ? " added" : after === undefined ? " removed" : " changed"}${note}`);
    } else {
      out.push(`- ${code(p)}: ${show(before)} → ${show(after)}${note}`);
    }
  }
  if (out.length === 0 && REPLACE_OPS.has(s.op)) out.push("- no property of its own changes: it is replaced along with a resource it depends on");
  return out;
}

/** The leaves that differ between two input maps, as Pulumi property paths (secret leaves are not compared). */
function inputChanges(before: unknown, after: unknown, at = ""): NonNullable<Step["detailedDiff"]> {
  const out: NonNullable<Step["detailedDiff"]> = {};
  const isMap = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !isSecret(v);
  if (isSecret(before) || isSecret(after)) return out;
  if (isMap(before) && isMap(after) && Array.isArray(before) === Array.isArray(after)) {
    for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
      const key = Array.isArray(before) ? `[${k}]` : /^[A-Za-z_$][\w$]*$/.test(k) ? (at ? `.${k}` : k) : `[${JSON.stringify(k)}]`;
      Object.assign(out, inputChanges(before[k], after[k], at + key));
    }
    return out;
  }
  if (JSON.stringify(before) === JSON.stringify(after)) return out;
  out[at] = { kind: before === undefined ? "add" : after === undefined ? "delete" : "update", inputDiff: true };
  return out;
}

/** `a.b[0]["x.y"]` -> ["a", "b", 0, "x.y"] (Pulumi's property path syntax). */
export function parsePath(p: string): (string | number)[] {
  const out: (string | number)[] = [];
  const re = /\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]|\.?([^.[\]]+)/g;
  for (const m of p.matchAll(re)) {
    if (m[1] !== undefined) out.push(Number(m[1]));
    else if (m[2] !== undefined) out.push(JSON.parse(`"${m[2]}"`) as string);
    else if (m[3] !== undefined) out.push(m[3]);
  }
  return out;
}

const isSecret = (v: unknown) => v === "[secret]" || (typeof v === "object" && v !== null && SECRET_SIG in v);

/** The value at `path` (outputs first unless the diff is of inputs); SECRET if any part of the way is secret. */
function lookup(state: State | undefined, path: (string | number)[], inputDiff?: boolean): unknown {
  const maps = inputDiff ? [state?.inputs, state?.outputs] : [state?.outputs, state?.inputs];
  for (const m of maps) {
    let v: unknown = m;
    for (const k of path) {
      if (isSecret(v)) return SECRET;
      v = typeof v === "object" && v !== null ? (v as Record<string | number, unknown>)[k] : undefined;
    }
    if (isSecret(v) || containsSecret(v)) return SECRET;
    if (v !== undefined) return v;
  }
  return undefined;
}

const containsSecret = (v: unknown): boolean => typeof v === "object" && v !== null && (isSecret(v) || Object.values(v).some(containsSecret));

function show(v: unknown): string {
  if (v === undefined) return "(none)";
  if (v === UNKNOWN) return "(known after update)";
  if (typeof v === "string") return v.length > 120 ? `${code(v.slice(0, 117))}… (${v.length} characters)` : code(v);
  if (typeof v !== "object" || v === null) return code(JSON.stringify(v));
  const json = JSON.stringify(v).replaceAll(`"${UNKNOWN}"`, "(known after update)");
  if (json.length <= 120) return code(json);
  return Array.isArray(v) ? `(${v.length} items)` : `(object with ${Object.keys(v).length} keys)`;
}

/** An inline code span that survives backticks in the value. */
function code(s: string): string {
  const longest = Math.max(0, ...(s.match(/`+/g) ?? []).map((r) => r.length));
  const fence = "`".repeat(longest + 1);
  const pad = s.startsWith("`") || s.endsWith("`") ? " " : "";
  return `${fence}${pad}${s}${pad}${fence}`;
}

function fenced(text: string, lang: string): string[] {
  const longest = Math.max(2, ...(text.match(/`{3,}/g) ?? []).map((r) => r.length));
  const fence = "`".repeat(longest + 1);
  return [`${fence}${lang}`, ...text.split("\n"), fence];
}

/** The changed lines of two texts with two lines of context, as a unified diff body (LCS). */
export function lineDiff(before: string, after: string, maxLines = 60): { added: number; removed: number; lines: string[] } {
  // a final newline ends the last line; it is no empty line of its own
  const a = before.replace(/\n$/, "").split("\n");
  const b = after.replace(/\n$/, "").split("\n");
  if (a.length * b.length > 4_000_000) return { added: b.length, removed: a.length, lines: [`(too long to diff here: ${a.length} → ${b.length} lines)`] };
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) for (let j = b.length - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const ops: { t: " " | "-" | "+"; l: string }[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      ops.push({ t: " ", l: a[i]! });
      i++;
      j++;
    } else if (i < a.length && (j >= b.length || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) ops.push({ t: "-", l: a[i++]! });
    else ops.push({ t: "+", l: b[j++]! });
  }
  const near = ops.map((_, k) => ops.slice(Math.max(0, k - 2), k + 3).some((o) => o.t !== " "));
  const lines: string[] = [];
  let gap = false;
  ops.forEach((o, k) => {
    if (!near[k]) return void (gap = true);
    if (gap && lines.length) lines.push("@@");
    gap = false;
    lines.push(`${o.t}${o.l}`);
  });
  const added = ops.filter((o) => o.t === "+").length;
  const removed = ops.filter((o) => o.t === "-").length;
  return { added, removed, lines: lines.length > maxLines ? [...lines.slice(0, maxLines), `@@ … ${lines.length - maxLines} more lines`] : lines };
}
