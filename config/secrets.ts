// Secret keys inside a config section (`pulumi config set --secret --path obs:<section>.<key>`):
// taken out of the section before the schema parses it, checked without ever repeating the
// value, and handed on to the components as Pulumi secrets only.
import type { Issue } from "./schema.js";

/** Native-realm and Grafana passwords alike: at least 6 characters, no control characters. */
export function checkPassword(key: string, value: string, issues: Issue[]): void {
  if (value.length < 6) issues.push({ key, value: "(secret)", allowed: "a password of at least 6 characters" });
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f]/.test(value)) issues.push({ key, value: "(secret)", allowed: "a password without control characters" });
}

/**
 * Splits a raw section (as decoded from the stack config, secrets already decrypted) into the
 * part the schema parses and its secrets. Unless the section says `enabled: false`, every key
 * is required and checked as a password. Issues name the key, never the value.
 */
export function takeSecrets<K extends string>(raw: unknown, section: string, keys: readonly K[], issues: Issue[]): { rest: unknown; secrets?: Record<K, string> } {
  raw ??= {};
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return { rest: raw };
  const rest: Record<string, unknown> = { ...raw };
  const found: Partial<Record<K, string>> = {};
  const keyOf = (k: K) => `${section}.${k}`;
  const howToSet = (k: K) => `pulumi config set --secret --path ${keyOf(k)} <password>`;
  for (const k of keys) {
    const v = rest[k];
    delete rest[k];
    if (v === undefined) continue;
    if (typeof v !== "string") issues.push({ key: keyOf(k), value: "(secret)", allowed: `a string (set it with \`${howToSet(k)}\`)` });
    else found[k] = v;
  }
  if (rest.enabled === false || rest.enabled === "false") return { rest };
  for (const k of keys) {
    const v = found[k];
    if (v === undefined) {
      if (!issues.some((i) => i.key === keyOf(k))) issues.push({ key: keyOf(k), value: undefined, allowed: `required: a secret (${howToSet(k)})` });
    } else checkPassword(keyOf(k), v, issues);
  }
  return { rest, secrets: keys.every((k) => found[k] !== undefined) ? (found as Record<K, string>) : undefined };
}
