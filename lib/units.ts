// Units the config speaks: Kubernetes quantities, JVM heap sizes, Fluentd sizes, Prometheus
// durations and sizes. One parser per unit, one behaviour on bad input: an Issue naming the
// key, the value and what is allowed, and `undefined` as the result (never NaN, never a throw).
import type { Issue } from "./schema.js";

const QUANTITY: Record<string, number> = { "": 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DURATION_MS: Record<string, number> = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3, y: 365 * 86400e3 };
const PROM_BYTES: Record<string, number> = { B: 1, KB: 2 ** 10, MB: 2 ** 20, GB: 2 ** 30, TB: 2 ** 40, PB: 2 ** 50, EB: 2 ** 60 };

/** A Kubernetes quantity: the number, then its suffix (the schema tests it, quantityBytes reads it). */
export const QUANTITY_PATTERN = /^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
export const QUANTITY_DOC = "a Kubernetes quantity such as 500m, 2, 512Mi or 10Gi";

function parse(value: string, re: RegExp, scale: (unit: string) => number, key: string, allowed: string, issues: Issue[]): number | undefined {
  const m = typeof value === "string" ? re.exec(value) : null;
  if (!m) return void issues.push({ key, value, allowed });
  return Number(m[1]) * scale(m[2] ?? "");
}

/** Bytes (or cores, for CPU) of a Kubernetes quantity: 512Mi, 2G, 500m. */
export function quantityBytes(q: string, key: string, issues: Issue[]): number | undefined {
  return parse(q, QUANTITY_PATTERN, (u) => QUANTITY[u]!, key, QUANTITY_DOC, issues);
}

/** Bytes of a JVM size as -Xmx reads it: 512m, 2g (k, m, g are powers of 1024, either case). */
export function jvmBytes(size: string, key: string, issues: Issue[]): number | undefined {
  return parse(size, /^([0-9]+)([kKmMgG])$/, (u) => 1024 ** ("kmg".indexOf(u.toLowerCase()) + 1), key, "a JVM size such as 512m or 2g", issues);
}

/** Bytes of a Fluentd size as Fluentd reads it (k/m/g/t are powers of 1024; a trailing B is ignored). */
export function fluentdBytes(size: string, key: string, issues: Issue[]): number | undefined {
  return parse(size, /^([0-9]+)([kmgtKMGT])?[bB]?$/, (u) => 1024 ** (u ? "kmgt".indexOf(u.toLowerCase()) + 1 : 0), key, "a Fluentd size such as 256m or 2g", issues);
}

/** Milliseconds of a single-unit Prometheus duration: 30s, 5m, 15d. */
export function durationMs(d: string, key: string, issues: Issue[]): number | undefined {
  return parse(d, /^([0-9]+)(ms|s|m|h|d|w|y)$/, (u) => DURATION_MS[u]!, key, "a duration such as 30s, 5m or 15d", issues);
}

/** Bytes of a Prometheus size (retention): 40GB, powers of 1024. */
export function prometheusBytes(s: string, key: string, issues: Issue[]): number | undefined {
  return parse(s, /^([0-9]+)(B|KB|MB|GB|TB|PB|EB)$/, (u) => PROM_BYTES[u]!, key, "a size such as 512MB or 40GB", issues);
}

/**
 * For builders, which only ever see config the schema has validated: the parsed number. A value
 * that does not parse here means a builder was called with unchecked input (a bug, not bad
 * config), so it throws with the same message the schema would have given.
 */
export function validated(unit: (value: string, key: string, issues: Issue[]) => number | undefined, value: string, key = "value"): number {
  const issues: Issue[] = [];
  const n = unit(value, key, issues);
  if (n === undefined) throw new Error(`${key} = ${JSON.stringify(value)}: expected ${issues[0]?.allowed}`);
  return n;
}
