// usage: npm run docs:config  — prints the config reference table that README.md embeds.
import { schema } from "../config/index.js";
import { referenceRows } from "../lib/schema.js";

export function configReference(): string {
  const esc = (s: string) => s.replace(/\|/g, "\\|");
  const rows = Object.entries(schema).flatMap(([k, f]) => referenceRows(`obs:${k}`, f));
  return ["| key | allowed | default | meaning |", "| --- | --- | --- | --- |", ...rows.map((r) => `| \`${r[0]}\` | ${esc(r[1]!)} | ${esc(r[2]!)} | ${esc(r[3]!)} |`)].join("\n");
}

if (process.argv[1]?.endsWith("config-reference.ts")) console.log(configReference());
