// Shared by the e2e files: tool paths on PATH, a throwaway file backend, kubectl on the test cluster.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { parse, stringify } from "yaml";
import os from "node:os";
import path from "node:path";
import { LocalWorkspace, type Stack } from "@pulumi/pulumi/automation/index.js";
import { cacheRoot, localKubeconfig, toolPathDirs } from "../../lib/tools.js";
import { LOCAL_PASSPHRASE, projectProgram } from "../../scripts/lib/pulumi.js";

process.env.OBS_CLUSTER_DIR ??= path.join(cacheRoot, "cluster-e2e");
export const { kubectl } = await import("../../scripts/lib/cluster.js");
/** The e2e cluster's kubeconfig (OBS_CLUSTER_DIR is set above, before this is read). */
export const kubeconfigPath = localKubeconfig();

export function e2eEnv(): Record<string, string> {
  return {
    PATH: [...toolPathDirs(), process.env.PATH ?? ""].join(path.delimiter),
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_CONFIG_PASSPHRASE: LOCAL_PASSPHRASE,
    PULUMI_HOME: path.join(cacheRoot, "pulumi-home"),
    OBS_CLUSTER_DIR: process.env.OBS_CLUSTER_DIR!,
  };
}

/** An inline-program stack on a fresh file backend (the real engine and provider). */
export async function inlineStack(project: string, stackName: string, program: () => Promise<Record<string, unknown> | void>): Promise<Stack> {
  const env = e2eEnv();
  process.env.PATH = env.PATH;
  const backend = mkdtempSync(path.join(os.tmpdir(), `obs-e2e-${project}-`));
  return LocalWorkspace.createOrSelectStack(
    { stackName, projectName: project, program: program as () => Promise<Record<string, unknown>> },
    { envVars: env, projectSettings: { name: project, runtime: "nodejs", backend: { url: `file://${backend}` } } },
  );
}

export function getJson(args: string[]): any {
  return JSON.parse(kubectl([...args, "-o", "json"]));
}

/** A copy of Pulumi.yaml and one stack's config in a temp dir, so tests never touch config/. */
export function stackWorkDir(stack: string, edit?: (config: Record<string, unknown>) => void): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `obs-e2e-stack-${stack}-`));
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
  writeFileSync(path.join(dir, "Pulumi.yaml"), readFileSync(path.join(root, "Pulumi.yaml")));
  mkdirSync(path.join(dir, "config"));
  const doc = parse(readFileSync(path.join(root, "config", `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
  edit?.(doc.config);
  writeFileSync(path.join(dir, "config", `Pulumi.${stack}.yaml`), stringify(doc));
  mkdirSync(path.join(dir, "state"));
  return dir;
}

/** The project's own program (index.ts) as an inline program, on a stack copied to `workDir`. */
export async function projectStack(stack: string, workDir: string): Promise<Stack> {
  const env: Record<string, string> = { ...e2eEnv(), PULUMI_BACKEND_URL: `file://${path.join(workDir, "state")}` };
  process.env.PATH = env.PATH;
  return LocalWorkspace.createOrSelectStack({ stackName: stack, projectName: "observability-stack", program: projectProgram as () => Promise<Record<string, unknown>> }, { workDir, envVars: env });
}

/** Seconds per named step, for the figures a test prints (and the closing notes quote). */
export function stopwatch(): { timings: Record<string, number>; timed: <T>(name: string, f: () => Promise<T>) => Promise<T> } {
  const timings: Record<string, number> = {};
  const timed = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    try {
      return await f();
    } finally {
      timings[name] = (Date.now() - t0) / 1000;
    }
  };
  return { timings, timed };
}
