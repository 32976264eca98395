// Writes the config reference into README.md; the usage is below (--help).
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { cliArgs, HELP, isMain } from "./lib/args.js";
import { configReference } from "./config-reference.js";
import { flowsMarkdown } from "../components/mesh/flows.js";
import { repoRoot } from "../lib/tools.js";

const USAGE = `
usage: npm run docs:readme

Rewrites the configuration reference in README.md, between the markers
<!-- config-reference:start --> and <!-- config-reference:end -->, from the config schema
(the table npm run docs:config prints), and the network flows table between
<!-- network-flows:start --> and <!-- network-flows:end --> (components/mesh/flows.ts).
Nothing else in README.md changes.

options:
  -h, --help  this text

example:
  npm run docs:readme && git diff README.md
`;

export function withReference(readme: string): string {
  return readme
    .replace(/(<!-- config-reference:start -->\n)[\s\S]*?(<!-- config-reference:end -->)/, `$1${configReference()}\n$2`)
    .replace(/(<!-- network-flows:start -->\n)[\s\S]*?(<!-- network-flows:end -->)/, `$1${flowsMarkdown()}\n$2`);
}

if (isMain(import.meta.url)) {
  cliArgs("npm run docs:readme", USAGE, (args) => parseArgs({ args, strict: true, options: { ...HELP } }));
  const file = path.join(repoRoot, "README.md");
  writeFileSync(file, withReference(readFileSync(file, "utf8")));
}
