// The whole test suite; the usage is below (--help).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { cliArgs, HELP } from "./lib/args.js";
import { repoRoot } from "../lib/tools.js";

const USAGE = `
usage: npm test

npm run tools -- --for test builds or verifies every pinned tool, then the unit tier runs (its
injector-shape tests run the pinned istioctl), then the end-to-end tier, whose global setup
starts and stops its own local cluster (cluster-e2e; yours is not touched). Ends with one line,
\`N passed, N failed\`, also written to .test-summary; exit 1 if anything failed. If the tools
fail to build, the e2e tier counts as one failure.

options:
  -h, --help  this text

examples:
  npm test
  npm run test:unit        (the unit tier alone; the injector-shape tests need the pinned istioctl)
`;

cliArgs("npm test", USAGE, (args) => parseArgs({ args, strict: true, options: { ...HELP } }));

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

const tmp = mkdtempSync(path.join(os.tmpdir(), "obs-test-"));
const vitest = path.join(repoRoot, "node_modules", "vitest", "vitest.mjs");

function tier(name: "unit" | "e2e"): Counts & { exit: number } {
  const report = path.join(tmp, `${name}.json`);
  console.log(`\n=== ${name} tier ===`);
  const r = spawnSync(process.execPath, [vitest, "run", "--project", name, "--reporter=default", "--reporter=json", `--outputFile.json=${report}`], { cwd: repoRoot, stdio: "inherit", env: process.env });
  try {
    const j = JSON.parse(readFileSync(report, "utf8"));
    // a run that errored outside any test (a file that never ran, a worker error) still fails
    const errored = r.status !== 0 && j.numFailedTests === 0 ? 1 : 0;
    if (errored) console.log(`${name} tier: vitest exited ${r.status} with no failed test: counted as one failure`);
    return { passed: j.numPassedTests, failed: j.numFailedTests + errored, skipped: j.numPendingTests + j.numTodoTests, exit: r.status ?? 1 };
  } catch {
    return { passed: 0, failed: 1, skipped: 0, exit: r.status ?? 1 };
  }
}

const total: Counts = { passed: 0, failed: 0, skipped: 0 };
const add = (c: Counts) => ((total.passed += c.passed), (total.failed += c.failed), (total.skipped += c.skipped));

console.log("\n=== tools (npm run tools -- --for test) ===");
const tools = spawnSync(process.execPath, [path.join(repoRoot, "node_modules", "tsx", "dist", "cli.mjs"), path.join(repoRoot, "scripts", "tools.ts"), "--for", "test"], { cwd: repoRoot, stdio: "inherit" });

const unit = tier("unit");
add(unit);
if (tools.status !== 0) {
  console.log("the e2e tier needs the pinned tools: npm run tools failed, so every e2e file counts as failed");
  total.failed += 1;
} else add(tier("e2e"));

const line = `${total.passed} passed, ${total.failed} failed${total.skipped ? `, ${total.skipped} skipped` : ""}`;
writeFileSync(path.join(repoRoot, ".test-summary"), line + "\n");
console.log(`\n${line}`);
process.exit(total.failed > 0 || unit.exit !== 0 ? 1 : 0);
