// The config reference table README.md embeds; the usage is below (--help).
import { parseArgs } from "node:util";
import { cliArgs, HELP, isMain } from "./lib/args.js";
import { schema } from "../config/index.js";
import { referenceRows } from "../lib/schema.js";

const USAGE = `
usage: npm run docs:config

Prints the configuration reference: a Markdown table with one row per key (allowed values,
default, meaning), generated from the config schema. README.md embeds it; npm run docs:readme
writes it there.

options:
  -h, --help  this text

example:
  npm run -s docs:config > /tmp/config-reference.md
`;

export function configReference(): string {
  const esc = (s: string) => s.replace(/\|/g, "\\|");
  const rows = Object.entries(schema).flatMap(([k, f]) => referenceRows(`obs:${k}`, f));
  return ["| key | allowed | default | meaning |", "| --- | --- | --- | --- |", ...rows.map((r) => `| \`${r[0]}\` | ${esc(r[1]!)} | ${esc(r[2]!)} | ${esc(r[3]!)} |`)].join("\n");
}

if (isMain(import.meta.url)) {
  cliArgs("npm run docs:config", USAGE, (args) => parseArgs({ args, strict: true, options: { ...HELP } }));
  console.log(configReference());
}
