// The layers of DESIGN.md, read off the source tree: imports point one way.
//   lib/ is a leaf; product code (index.ts, config/, components/) never imports scripts/;
//   a component imports no other component except the shared k8s/ and mesh/.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const SHARED = new Set(["k8s", "mesh"]);

function sources(dir: string): string[] {
  return readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === "node_modules" ? [] : sources(rel);
    return e.name.endsWith(".ts") ? [rel] : [];
  });
}

/** Relative module specifiers of every import, export-from and dynamic import(), parsed by TypeScript. */
export function importsOf(file: string, text = readFileSync(path.join(root, file), "utf8")): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const out: string[] = [];
  const visit = (n: ts.Node) => {
    if ((ts.isImportDeclaration(n) || ts.isExportDeclaration(n)) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) out.push(n.moduleSpecifier.text);
    if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword && n.arguments[0] && ts.isStringLiteral(n.arguments[0])) out.push(n.arguments[0].text);
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out.filter((s) => s.startsWith("."));
}

/** Repo-relative target of a relative import (`.js` written, `.ts` on disk). */
const resolve = (from: string, spec: string) => path.relative(root, path.resolve(root, path.dirname(from), spec)).replace(/\.js$/, ".ts");
const top = (rel: string) => rel.split(path.sep)[0]!;
const componentOf = (rel: string) => (top(rel) === "components" ? rel.split(path.sep)[1] : undefined);

/** Every import that breaks a layer rule, as "from -> to: rule". */
export function violations(files: readonly string[], read?: (f: string) => string): string[] {
  const bad: string[] = [];
  for (const from of files) {
    for (const spec of importsOf(from, read?.(from))) {
      const to = resolve(from, spec);
      const layer = top(from);
      if (layer === "lib" && top(to) !== "lib") bad.push(`${from} -> ${to}: lib/ is a leaf and imports nothing else of the project`);
      if ((from === "index.ts" || layer === "config" || layer === "components" || layer === "lib") && top(to) === "scripts") bad.push(`${from} -> ${to}: product code never imports scripts/`);
      const a = componentOf(from);
      const b = componentOf(to);
      if (a && b && a !== b && !SHARED.has(a) && !SHARED.has(b)) bad.push(`${from} -> ${to}: a component imports only k8s/ and mesh/, never another component`);
      if (a && SHARED.has(a) && b && !SHARED.has(b)) bad.push(`${from} -> ${to}: the shared k8s/ and mesh/ import no part`);
      if (layer === "components" && top(to) === "config") bad.push(`${from} -> ${to}: components get typed args, never the stack config`);
    }
  }
  return bad;
}

const product = ["index.ts", ...sources("config"), ...sources("components"), ...sources("lib")];

describe("import graph", () => {
  it("finds the imports it checks (the parser sees static, re-export and dynamic imports)", () => {
    expect(importsOf("x.ts", 'import a from "./a.js";\nexport { b } from "../b.js";\nconst c = await import("./c.js");\nimport "node:fs";')).toEqual(["./a.js", "../b.js", "./c.js"]);
    expect(product.length).toBeGreaterThan(50);
    expect(product).toContain("lib/schema.ts");
  });

  it("catches each kind of violation (so a clean tree means something)", () => {
    const fake: Record<string, string> = {
      "lib/x.ts": 'import { a } from "../components/k8s/labels.js";',
      "config/y.ts": 'import { b } from "../scripts/lib/cluster.js";',
      "components/grafana/z.ts": 'import { c } from "../prometheus/rules.js";\nimport { d } from "../mesh/metrics.js";',
      "components/mesh/w.ts": 'import { e } from "../istio/config.js";',
      "components/kiali/v.ts": 'import { f } from "../../config/index.js";',
    };
    expect(violations(Object.keys(fake), (f) => fake[f]!)).toEqual([
      "lib/x.ts -> components/k8s/labels.ts: lib/ is a leaf and imports nothing else of the project",
      "config/y.ts -> scripts/lib/cluster.ts: product code never imports scripts/",
      "components/grafana/z.ts -> components/prometheus/rules.ts: a component imports only k8s/ and mesh/, never another component",
      "components/mesh/w.ts -> components/istio/config.ts: the shared k8s/ and mesh/ import no part",
      "components/kiali/v.ts -> config/index.ts: components get typed args, never the stack config",
    ]);
  });

  it("points one way in this tree", () => {
    expect(violations(product)).toEqual([]);
  });
});
