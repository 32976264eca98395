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

export const setSecretCommand = (key: string, value = "<password>") => `pulumi config set --secret --path ${key} ${value}`;

/**
 * Takes the secret keys out of a raw section (as decoded from the stack config, secrets
 * already decrypted): `rest` is what the schema parses, `found` the string values, and
 * `disabled` whether the section says `enabled: false`. A non-string value is an issue that
 * names the key, never the value.
 */
export function extractSecrets<K extends string>(raw: unknown, section: string, keys: readonly K[], issues: Issue[], valueName = "<password>"): { rest: unknown; found: Partial<Record<K, string>>; disabled: boolean } {
  raw ??= {};
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return { rest: raw, found: {}, disabled: true };
  const rest: Record<string, unknown> = { ...raw };
  const found: Partial<Record<K, string>> = {};
  for (const k of keys) {
    const v = rest[k];
    delete rest[k];
    if (v === undefined) continue;
    if (typeof v !== "string") issues.push({ key: `${section}.${k}`, value: "(secret)", allowed: `a string (set it with \`${setSecretCommand(`${section}.${k}`, valueName)}\`)` });
    else found[k] = v;
  }
  return { rest, found, disabled: rest.enabled === false || rest.enabled === "false" };
}

/**
 * Splits a raw section into the part the schema parses and its secrets. Unless the section
 * says `enabled: false`, every key is required and checked as a password.
 */
export function takeSecrets<K extends string>(raw: unknown, section: string, keys: readonly K[], issues: Issue[]): { rest: unknown; secrets?: Record<K, string> } {
  const { rest, found, disabled } = extractSecrets(raw, section, keys, issues);
  if (disabled) return { rest };
  for (const k of keys) {
    const key = `${section}.${k}`;
    const v = found[k];
    if (v === undefined) {
      if (!issues.some((i) => i.key === key)) issues.push({ key, value: undefined, allowed: `required: a secret (${setSecretCommand(key)})` });
    } else checkPassword(key, v, issues);
  }
  return { rest, secrets: keys.every((k) => found[k] !== undefined) ? (found as Record<K, string>) : undefined };
}
