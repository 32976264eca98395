// usage: npm run render -- --stack S --out DIR
// Writes every Kubernetes object of stack S as YAML under DIR (DIR is emptied first). No cluster needed.
import { renderStack } from "./lib/render.js";

function arg(name: string): string | undefined {
  const argv = process.argv.slice(2);
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
}

async function main(): Promise<number> {
  const stack = arg("--stack") ?? "local";
  const out = arg("--out");
  if (!out) {
    console.error("usage: npm run render -- --stack S --out DIR");
    return 2;
  }
  const r = await renderStack(stack, out);
  console.log(`rendered stack '${stack}': ${r.files.length} files under ${out} in ${r.seconds.toFixed(1)}s`);
  return 0;
}

main().then(
  (c) => process.exit(c),
  (e: Error) => {
    console.error(`npm run render: ${e.message}`);
    process.exit(1);
  },
);
