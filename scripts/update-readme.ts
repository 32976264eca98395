// Writes the config reference into README.md; the usage is below (--help).
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { cliArgs, HELP, isMain } from "./lib/args.js";
import { configReference } from "./config-reference.js";
import { repoRoot } from "../lib/tools.js";

const USAGE = `
usage: npm run docs:readme

Rewrites the configuration reference in README.md, between the markers
<!-- config-reference:start --> and <!-- config-reference:end -->, from the config schema
(the table npm run docs:config prints). Nothing else in README.md changes.

options:
  -h, --help  this text

example:
  npm run docs:readme && git diff README.md
`;

export function withReference(readme: string): string {
  return readme.replace(/(<!-- config-reference:start -->\n)[\s\S]*?(<!-- config-reference:end -->)/, `$1${configReference()}\n$2`);
}

if (isMain(import.meta.url)) {
  cliArgs("npm run docs:readme", USAGE, (args) => parseArgs({ args, strict: true, options: { ...HELP } }));
  const file = path.join(repoRoot, "README.md");
  writeFileSync(file, withReference(readFileSync(file, "utf8")));
}
