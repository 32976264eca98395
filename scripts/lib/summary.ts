// A reviewer's Markdown summary of `pulumi preview --json`: counts per component and operation,
// replaced and deleted objects by name, canary steps and restarts. Values are never printed,
// so secrets cannot leak through it.
import { movedNamespaces } from "../../components/istio/guard.js";

interface Step {
  op: string;
  urn: string;
  oldState?: { type?: string; outputs?: Record<string, unknown>; inputs?: Record<string, unknown> };
  newState?: { type?: string; outputs?: Record<string, unknown>; inputs?: Record<string, unknown> };
}

export interface PreviewJson {
  steps?: Step[];
  changeSummary?: Record<string, number>;
}

const REPLACE_OPS = new Set(["replace", "create-replacement", "delete-replaced"]);

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
  const meta = (s.newState?.inputs?.metadata ?? s.oldState?.inputs?.metadata) as { name?: string; namespace?: string } | undefined;
  const { type, name } = parseUrn(s.urn);
  const kind = type.split(":").pop();
  return meta?.name ? `${kind} ${meta.namespace ? `${meta.namespace}/` : ""}${meta.name}` : `${kind} ${name}`;
}

/**
 * `namespaceRevisionsAfter` is what config asks for: a preview does not carry the stack's new
 * outputs, only the old ones (from the Stack step's old state).
 */
export function summarize(stack: string, preview: PreviewJson, namespaceRevisionsAfter: Record<string, string> = {}): string {
  const steps = (preview.steps ?? []).filter((s) => s.op !== "same" && s.op !== "read");
  const ops = ["create", "update", "replace", "delete"];
  const opOf = (s: Step) => (REPLACE_OPS.has(s.op) ? "replace" : s.op);
  const counts = new Map<string, Record<string, number>>();
  for (const s of steps) {
    if (s.op === "delete-replaced" || s.op === "create-replacement") continue; // counted once as replace
    const c = parseUrn(s.urn).component;
    const row = counts.get(c) ?? {};
    row[opOf(s)] = (row[opOf(s)] ?? 0) + 1;
    counts.set(c, row);
  }
  const lines = [`### \`pulumi preview\` of stack \`${stack}\``, ""];
  if (steps.length === 0) return [...lines, "No changes.", ""].join("\n");
  // (a canary move with no object change cannot happen: the tag or namespace object changes too)
  lines.push("| component | " + ops.join(" | ") + " |", "| --- | " + ops.map(() => "---").join(" | ") + " |");
  for (const [c, row] of [...counts.entries()].sort(([a], [b]) => a.localeCompare(b))) lines.push(`| ${c} | ${ops.map((o) => row[o] ?? 0).join(" | ")} |`);

  const replaced = steps.filter((s) => s.op === "replace" || s.op === "create-replacement").map(objectName);
  const deleted = steps.filter((s) => s.op === "delete").map(objectName);
  if (replaced.length) lines.push("", "**Replaced** (deleted and created again):", ...[...new Set(replaced)].map((n) => `- ${n}`));
  if (deleted.length) lines.push("", "**Deleted**:", ...deleted.map((n) => `- ${n}`));

  const canary: string[] = [];
  for (const s of steps) {
    const { type, name } = parseUrn(s.urn);
    if (type === "obs:istio:Revision" && s.op === "create") canary.push(`- adds control-plane revision \`${name.replace(/^istio-/, "")}\``);
    if (type === "obs:istio:Revision" && s.op === "delete") canary.push(`- removes control-plane revision \`${name.replace(/^istio-/, "")}\``);
    if (type.endsWith(":MutatingWebhookConfiguration") && name.includes("istio-revision-tag-") && s.op === "update") canary.push(`- moves revision tag \`${name.split("istio-revision-tag-")[1]}\``);
  }
  const stackStep = (preview.steps ?? []).find((s) => parseUrn(s.urn).type === "pulumi:pulumi:Stack");
  const before = (stackStep?.oldState?.outputs?.namespaceRevisions ?? {}) as Record<string, string>;
  for (const m of movedNamespaces(before, namespaceRevisionsAfter)) canary.push(`- namespace \`${m.namespace}\`: revision ${m.from} → ${m.to}; **its workloads restart** (rolling) after \`up\``);
  if (canary.length) lines.push("", "**Canary steps**:", ...canary);
  lines.push("");
  return lines.join("\n");
}
