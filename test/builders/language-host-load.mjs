// Loads the program the way Pulumi's standard nodejs language host does in automatic ESM mode
// (@pulumi/pulumi 3.260's cmd/run): the SDK's own ESM hooks (cmd/run/hooks.js) registered with
// the options run.js builds from the project's tsconfig. Then it imports index.ts and prints one
// JSON line: { seconds, defaultExport }.
// Note, measured here: those options never reach ts-node in this mode. hooks.js creates its
// ts-node service while it is being evaluated, before Node calls its initialize() with them, so
// ts-node reads tsconfig.json itself, including its "ts-node" section; that section, not
// PULUMI_NODEJS_TRANSPILE_ONLY or `noCheck`, is what turns type-checking off for `pulumi up`.
// Run from the project directory: node test/builders/language-host-load.mjs
import { register, createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

const project = process.cwd();
const require = createRequire(path.join(project, "package.json"));
const sdk = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
const tsutils = require(path.join(sdk, "tsutils.js"));
const compilerOptions = tsutils.loadTypeScriptCompilerOptions("tsconfig.json");
const env = process.env.PULUMI_NODEJS_TRANSPILE_ONLY;
const transpileOnly = env ? env === "true" : compilerOptions.noCheck;
const { typescriptRequire } = tsutils.typeScriptRequireStrings();
const options = {
  compiler: typescriptRequire,
  transpileOnly,
  project: "tsconfig.json",
  skipProject: false,
  compilerOptions: { target: "ES2022", module: "nodenext", moduleResolution: "nodenext", sourceMap: "true", ...compilerOptions },
};
register("./hooks.js", pathToFileURL(path.join(sdk, "cmd", "run", "run.js")), { data: options });
const t0 = performance.now();
const program = await import(pathToFileURL(path.join(project, "index.ts")).href);
console.log(JSON.stringify({ seconds: Number(((performance.now() - t0) / 1000).toFixed(2)), defaultExport: typeof program.default }));
