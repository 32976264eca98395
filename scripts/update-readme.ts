// usage: npm run docs:readme — rewrites the config reference between the README markers.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { configReference } from "./config-reference.js";
import { repoRoot } from "../lib/tools.js";

export function withReference(readme: string): string {
  return readme.replace(/(<!-- config-reference:start -->\n)[\s\S]*?(<!-- config-reference:end -->)/, `$1${configReference()}\n$2`);
}

const file = path.join(repoRoot, "README.md");
writeFileSync(file, withReference(readFileSync(file, "utf8")));
