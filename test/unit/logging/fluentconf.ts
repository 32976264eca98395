// A reader for the subset of Fluentd's config syntax the builder emits: nested
// `<directive arg>` sections and `key value` parameters. Enough to assert on structure.

export interface Section {
  readonly name: string;
  readonly arg: string;
  readonly params: Record<string, string>;
  readonly children: Section[];
}

export function parseFluentConf(text: string): Section {
  const root: Section = { name: "root", arg: "", params: {}, children: [] };
  const stack: Section[] = [root];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const close = /^<\/(\w+)>$/.exec(line);
    if (close) {
      const open = stack.pop();
      if (!open || open.name !== close[1] || stack.length === 0) throw new Error(`line ${i + 1}: </${close[1]}> closes <${open?.name}>`);
      return;
    }
    const open = /^<(\w+)(?:\s+(.+))?>$/.exec(line);
    if (open) {
      const s: Section = { name: open[1]!, arg: open[2] ?? "", params: {}, children: [] };
      stack.at(-1)!.children.push(s);
      stack.push(s);
      return;
    }
    const param = /^(\S+)(?:\s+(.*))?$/.exec(line)!;
    const params = stack.at(-1)!.params;
    if (param[1]! in params) throw new Error(`line ${i + 1}: ${param[1]} set twice`);
    params[param[1]!] = param[2] ?? "";
  });
  if (stack.length !== 1) throw new Error(`unclosed <${stack.at(-1)!.name}>`);
  return root;
}

/** Sections named `name` (and with `arg`, when given) anywhere below `s`. */
export function find(s: Section, name: string, arg?: string): Section[] {
  const out: Section[] = [];
  for (const c of s.children) {
    if (c.name === name && (arg === undefined || c.arg === arg)) out.push(c);
    out.push(...find(c, name, arg));
  }
  return out;
}

export function one(s: Section, name: string, arg?: string): Section {
  const all = find(s, name, arg);
  if (all.length !== 1) throw new Error(`expected one <${name}${arg ? " " + arg : ""}>, found ${all.length}`);
  return all[0]!;
}

/** A `/.../` regexp parameter as a JavaScript RegExp (named groups read the same). */
export function regexpParam(value: string | undefined): RegExp {
  const m = /^\/(.*)\/$/.exec(value ?? "");
  if (!m) throw new Error(`not a /regexp/: ${value}`);
  return new RegExp(m[1]!);
}
