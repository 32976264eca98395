// Offline render: the stack's program through the real engine with the provider in
// render-to-directory mode, on a throwaway backend. No cluster is contacted.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse, stringify } from "yaml";
import { LOCAL_PASSPHRASE, projectProgram, pulumiEnv, runWithProgram, selectStackAsync } from "./pulumi.js";
import { SECRET_KEYS } from "../../config/index.js";
import { withReceiverPlaceholders } from "../../components/prometheus/alerting/config.js";
import { withoutSecrets } from "../../config/target.js";
import { projectDir } from "../../lib/tools.js";

/** Stack config with the target switched to renderDir and secure values replaced by placeholders. */
export function renderConfig(stack: string, outDir: string): Record<string, unknown> {
  const file = path.join(projectDir, "config", `Pulumi.${stack}.yaml`);
  const doc = (parse(readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
  const config: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc.config ?? {})) {
    config[k] = withoutSecrets(v, (key) => `rendered-offline-placeholder-${key}`, k);
  }
  // passwords exist only as secrets of the real stack: offline they are placeholders
  for (const [name, keys] of Object.entries(SECRET_KEYS)) {
    const section = { ...((config[`obs:${name}`] ?? {}) as Record<string, unknown>) };
    for (const k of keys) if (typeof section[k] !== "string") section[k] = `rendered-offline-placeholder-${k}`;
    config[`obs:${name}`] = section;
  }
  // the receivers' secrets are per receiver (not in SECRET_KEYS)
  if (config["obs:alerting"]) config["obs:alerting"] = withReceiverPlaceholders(config["obs:alerting"]);
  const k8sCfg = (config["obs:kubernetes"] ?? {}) as Record<string, unknown>;
  config["obs:kubernetes"] = { ...k8sCfg, context: "", kubeconfig: "", renderDir: outDir };
  return { config };
}

export interface RenderSummary {
  readonly files: string[];
  readonly seconds: number;
}

export async function renderStack(stack: string, outDir: string, opts: { quiet?: boolean } = {}): Promise<RenderSummary> {
  const t0 = Date.now();
  const out = path.resolve(outDir);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const work = mkdtempSync(path.join(os.tmpdir(), `obs-render-${stack}-`));
  try {
    writeFileSync(path.join(work, "Pulumi.yaml"), readFileSync(path.join(projectDir, "Pulumi.yaml")));
    mkdirSync(path.join(work, "config"));
    writeFileSync(path.join(work, "config", `Pulumi.${stack}.yaml`), stringify(renderConfig(stack, out)));
    const env = pulumiEnv({ stack, backendUrl: `file://${path.join(work, "state")}`, passphrase: LOCAL_PASSPHRASE });
    // this backend is deleted after the run: a checkpoint per step (most of the engine's CPU) protects nothing
    env.PULUMI_SKIP_CHECKPOINTS = "true";
    await selectStackAsync(stack, env, work);
    const { code, stdout } = await runWithProgram(projectProgram, ["up", "--yes", "--skip-preview", "--stack", stack, "--suppress-progress", "--non-interactive"], env, { cwd: work, capture: true });
    if (code !== 0) throw new Error(`render of stack '${stack}' failed:\n${stdout.split("\n").slice(-40).join("\n")}`);
    if (!opts.quiet) process.stdout.write(stdout.split("\n").filter((l) => /Resources:|created|error/i.test(l)).join("\n") + "\n");
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const files = listFiles(out);
  // a successful run that wrote nothing declared nothing: never hand an empty render on as a review
  if (!files.some((f) => f.endsWith(".yaml"))) throw new Error(`render of stack '${stack}' wrote no object to ${out}, though the engine reported success`);
  return { files, seconds: (Date.now() - t0) / 1000 };
}

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? listFiles(p) : [p];
  });
}
