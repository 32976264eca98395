// A small validating schema: each field knows its type, default and doc line, so parsing,
// the error report and the README's config reference all come from one definition.
import { QUANTITY_DOC, QUANTITY_PATTERN, quantityBytes } from "./units.js";

export interface Issue {
  readonly key: string;
  readonly value: unknown;
  readonly allowed: string;
}

export interface Field<T> {
  readonly kind: string;
  readonly doc: string;
  readonly allowed: string;
  readonly hasDefault: boolean;
  readonly defaultValue?: T;
  /** Returns the parsed value, or pushes issues and returns undefined. */
  parse(value: unknown, key: string, issues: Issue[]): T | undefined;
  /** Nested fields, for the reference table. */
  readonly children?: Record<string, Field<unknown>>;
}

type Opts<T> = { doc: string; default?: T };

function field<T>(kind: string, allowed: string, opts: Opts<T>, check: (v: unknown, key: string, issues: Issue[]) => T | undefined, children?: Record<string, Field<unknown>>): Field<T> {
  const hasDefault = "default" in opts;
  return {
    kind,
    doc: opts.doc,
    allowed,
    hasDefault,
    defaultValue: opts.default,
    children,
    parse(value, key, issues) {
      if (value === undefined || value === null) {
        if (hasDefault) return structuredClone(opts.default) as T;
        issues.push({ key, value: undefined, allowed: `required: ${allowed}` });
        return undefined;
      }
      return check(value, key, issues);
    },
  };
}

export const str = (opts: Opts<string> & { pattern?: RegExp; patternDoc?: string }) =>
  field<string>("string", opts.patternDoc ?? "a string", opts, (v, key, issues) => {
    if (typeof v !== "string") return void issues.push({ key, value: v, allowed: opts.patternDoc ?? "a string" });
    if (opts.pattern && !opts.pattern.test(v)) return void issues.push({ key, value: v, allowed: opts.patternDoc ?? String(opts.pattern) });
    return v;
  });

export const bool = (opts: Opts<boolean>) =>
  field<boolean>("boolean", "true or false", opts, (v, key, issues) => {
    if (typeof v === "boolean") return v;
    if (v === "true" || v === "false") return v === "true";
    issues.push({ key, value: v, allowed: "true or false" });
    return undefined;
  });

export const num = (opts: Opts<number> & { min?: number; max?: number; integer?: boolean }) => {
  const range = `${opts.integer ? "an integer" : "a number"}${opts.min !== undefined ? ` >= ${opts.min}` : ""}${opts.max !== undefined ? `${opts.min !== undefined ? " and" : ""} <= ${opts.max}` : ""}`;
  return field<number>("number", range, opts, (v, key, issues) => {
    const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
    if (typeof n !== "number" || Number.isNaN(n) || (opts.integer && !Number.isInteger(n)) || (opts.min !== undefined && n < opts.min) || (opts.max !== undefined && n > opts.max)) {
      return void issues.push({ key, value: v, allowed: range });
    }
    return n;
  });
};

export const oneOf = <const T extends string>(values: readonly T[], opts: Opts<T>) =>
  field<T>("enum", `one of ${values.join(", ")}`, opts, (v, key, issues) => {
    if (typeof v === "string" && (values as readonly string[]).includes(v)) return v as T;
    issues.push({ key, value: v, allowed: `one of ${values.join(", ")}` });
    return undefined;
  });

/** Kubernetes resource quantity, e.g. 500m, 2, 512Mi, 10Gi. */
export const quantity = (opts: Opts<string>) => str({ ...opts, pattern: QUANTITY_PATTERN, patternDoc: QUANTITY_DOC });

/** A volume's size: a Kubernetes quantity above zero. */
export const volumeSize = (opts: Opts<string>) =>
  field<string>("string", "a Kubernetes quantity above 0 such as 10Gi", opts, (v, key, issues) => {
    const allowed = "a Kubernetes quantity above 0 such as 10Gi";
    if (typeof v !== "string" || !((quantityBytes(v, key, []) ?? 0) > 0)) return void issues.push({ key, value: v, allowed });
    return v;
  });

/** A DNS-1123 subdomain: the names of most Kubernetes objects (Secrets, StorageClasses). */
export const DNS_SUBDOMAIN = /^[a-z0-9]([-.a-z0-9]{0,251}[a-z0-9])?$/;

/** A StorageClass name (DNS-1123 subdomain), or empty for the cluster's default class. */
export const storageClassName = (opts: Opts<string>) => str({ ...opts, pattern: new RegExp(`^$|${DNS_SUBDOMAIN.source}`), patternDoc: "a StorageClass name (DNS-1123 subdomain) or empty (the cluster's default class)" });

/** A DNS-1123 label, unanchored: namespaces, revision and tag names; part of longer patterns (hosts). */
export const LABEL = "[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?";
export const DNS_LABEL = new RegExp(`^${LABEL}$`);

export const dnsLabel = (opts: Opts<string>) => str({ ...opts, pattern: DNS_LABEL, patternDoc: "a DNS-1123 label (lowercase letters, digits and '-', at most 63, starting and ending alphanumeric)" });

export type Shape = Record<string, Field<unknown>>;
export type Infer<S extends Shape> = { [K in keyof S]: S[K] extends Field<infer T> ? T : never };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export const obj = <S extends Shape>(shape: S, opts: { doc: string; optional?: boolean }) => {
  const f = field<Infer<S>>("object", "an object", { doc: opts.doc }, (v, key, issues) => parseObject(shape, v, key, issues), shape);
  if (opts.optional === false) return f;
  // a missing optional object is an empty one, so its fields' own defaults apply
  return { ...f, hasDefault: true, parse: (v: unknown, key: string, issues: Issue[]) => f.parse(v ?? {}, key, issues) };
};

export function parseObject<S extends Shape>(shape: S, v: unknown, key: string, issues: Issue[]): Infer<S> | undefined {
  if (!isPlainObject(v)) return void issues.push({ key, value: v, allowed: "an object" });
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    if (!(k in shape)) issues.push({ key: `${key}.${k}`, value: v[k], allowed: `a known key (unknown key; known: ${Object.keys(shape).join(", ")})` });
  }
  let ok = true;
  for (const [k, f] of Object.entries(shape)) {
    const before = issues.length;
    const parsed = f.parse(v[k], `${key}.${k}`, issues);
    if (issues.length > before) ok = false;
    if (parsed !== undefined) out[k] = parsed;
  }
  return ok ? (out as Infer<S>) : undefined;
}

export const list = <T>(item: Field<T>, opts: Opts<T[]>) =>
  field<T[]>("list", `a list of ${item.allowed}`, opts, (v, key, issues) => {
    if (!Array.isArray(v)) return void issues.push({ key, value: v, allowed: `a list of ${item.allowed}` });
    const out: T[] = [];
    v.forEach((x, i) => {
      const p = item.parse(x, `${key}[${i}]`, issues);
      if (p !== undefined) out.push(p);
    });
    return out.length === v.length ? out : undefined;
  }, item.children);

export const record = <T>(value: Field<T>, opts: Opts<Record<string, T>> & { keyDoc?: string; keyPattern?: RegExp }) =>
  field<Record<string, T>>("map", `a map of ${opts.keyDoc ?? "name"} to ${value.allowed}`, opts, (v, key, issues) => {
    if (!isPlainObject(v)) return void issues.push({ key, value: v, allowed: `a map of ${opts.keyDoc ?? "name"} to ${value.allowed}` });
    const out: Record<string, T> = {};
    let ok = true;
    for (const [k, x] of Object.entries(v)) {
      if (opts.keyPattern && !opts.keyPattern.test(k)) {
        issues.push({ key: `${key}.${k}`, value: k, allowed: `a key that is ${opts.keyDoc}` });
        ok = false;
      }
      const before = issues.length;
      const p = value.parse(x, `${key}.${k}`, issues);
      if (issues.length > before) ok = false;
      if (p !== undefined) out[k] = p;
    }
    return ok ? out : undefined;
  }, value.children);

export function formatIssues(issues: readonly Issue[]): string {
  const show = (v: unknown) => (v === undefined ? "(missing)" : JSON.stringify(v));
  return issues.map((i) => `  - ${i.key} = ${show(i.value)}: expected ${i.allowed}`).join("\n");
}

/** Rows for the README config reference: key, type/allowed values, default, doc. */
export function referenceRows(prefix: string, f: Field<unknown>): string[][] {
  const rows: string[][] = [[prefix, f.allowed, f.hasDefault && f.kind !== "object" ? (f.defaultValue === undefined ? "optional" : "`" + JSON.stringify(f.defaultValue) + "`") : f.kind === "object" ? "" : "required", f.doc]];
  if (f.children) {
    const childPrefix = f.kind === "list" ? `${prefix}[]` : f.kind === "map" ? `${prefix}.<name>` : prefix;
    for (const [k, c] of Object.entries(f.children)) rows.push(...referenceRows(`${childPrefix}.${k}`, c));
  }
  return rows;
}

type CpuMemory = { cpu: string; memory: string; "ephemeral-storage"?: string };

/** Ephemeral storage (writable layer, logs, emptyDir) when a container's section names none. */
export const EPHEMERAL_STORAGE = { request: "100Mi", limit: "1Gi" } as const;

const RESOURCE_NAMES = ["cpu", "memory", "ephemeral-storage"] as const;

/**
 * A container's requests and limits (cpu, memory, ephemeral-storage), each with its default; the
 * keys are Kubernetes' own, so a section is handed to a container as it is. A request above its
 * limit (which the API server refuses in the middle of an `up`) is an issue at preview.
 */
export const resources = (doc: string, requests: CpuMemory, limits: CpuMemory) => {
  const f = obj(
    {
      requests: obj(
        {
          cpu: quantity({ doc: "CPU request", default: requests.cpu }),
          memory: quantity({ doc: "memory request", default: requests.memory }),
          "ephemeral-storage": quantity({ doc: "ephemeral storage request (writable layer, logs, emptyDir)", default: requests["ephemeral-storage"] ?? EPHEMERAL_STORAGE.request }),
        },
        { doc: "requests" },
      ),
      limits: obj(
        {
          cpu: quantity({ doc: "CPU limit", default: limits.cpu }),
          memory: quantity({ doc: "memory limit", default: limits.memory }),
          "ephemeral-storage": quantity({ doc: "ephemeral storage limit (the kubelet evicts the pod above it)", default: limits["ephemeral-storage"] ?? EPHEMERAL_STORAGE.limit }),
        },
        { doc: "limits" },
      ),
    },
    { doc },
  );
  return {
    ...f,
    parse(v: unknown, key: string, issues: Issue[]) {
      const r = f.parse(v, key, issues);
      if (r && !checkRequestsWithinLimits(r, key, issues)) return undefined;
      return r;
    },
  };
};

/** Pushes an issue for each resource whose request is above its limit; true when there is none. */
export function checkRequestsWithinLimits(r: { requests: Partial<Record<string, string>>; limits: Partial<Record<string, string>> }, key: string, issues: Issue[]): boolean {
  let ok = true;
  for (const name of RESOURCE_NAMES) {
    const req = r.requests[name];
    const lim = r.limits[name];
    if (req === undefined || lim === undefined) continue;
    const a = quantityBytes(req, `${key}.requests.${name}`, []);
    const b = quantityBytes(lim, `${key}.limits.${name}`, []);
    if (a === undefined || b === undefined || a <= b) continue;
    issues.push({ key: `${key}.requests.${name}`, value: req, allowed: `at most its limit, limits.${name} = ${lim} (the API server refuses a request above its limit)` });
    ok = false;
  }
  return ok;
}
