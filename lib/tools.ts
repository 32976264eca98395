// Pins, cache paths and the preflight check shared by every command that drives a tool, and
// by the program where it runs a pinned tool (istioctl, kubectl).
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/** Where Pulumi.yaml and config/ are read from: this repo, or a copy (tests use OBS_PROJECT_DIR). */
export const projectDir = process.env.OBS_PROJECT_DIR ?? repoRoot;
export const cacheRoot = process.env.OBS_CACHE_DIR ?? path.join(homedir(), ".cache", "observability-stack");
export const toolsRoot = path.join(cacheRoot, "tools");
/** State of the embedded local cluster (`npm run cluster`); its kubeconfig is what the `local` stack deploys with. */
export const clusterDir = process.env.OBS_CLUSTER_DIR ?? path.join(cacheRoot, "cluster");
export const kubeconfigPath = path.join(clusterDir, "kubeconfig");

export interface ModuleTool {
  readonly version: string;
  readonly module: string;
  readonly moduleVersion: string;
  readonly package: string;
  readonly versionFlag?: string;
  readonly localReplaces?: Record<string, string>;
}

export interface IstioVersionPin {
  readonly moduleVersion: string;
  readonly imageTag: string;
  /** Dependencies the proxy does not serve at the pinned pseudo-version, mapped to served tags. */
  readonly replace?: Record<string, string>;
}

export interface Pins {
  readonly go: { readonly minimum: string };
  readonly pulumi: ModuleTool;
  readonly "pulumi-language-nodejs": { readonly version: string; readonly module: string; readonly servedHere: boolean };
  readonly "pulumi-resource-kubernetes": ModuleTool;
  readonly kubernetes: Omit<ModuleTool, "package"> & { readonly binaries: readonly string[]; readonly stagingVersion: string };
  readonly etcd: ModuleTool;
  readonly kwok: ModuleTool;
  readonly istioctl: { readonly module: string; readonly package: string; readonly hub: string; readonly versions: Record<string, IstioVersionPin> };
  readonly promtool: ModuleTool;
  readonly jaeger: ModuleTool;
}

export const pins: Pins = JSON.parse(readFileSync(path.join(repoRoot, "tools", "versions.json"), "utf8"));

/** The binary names each toolchain entry installs, keyed by the cache folder name. */
export function binariesOf(name: string): string[] {
  if (name === "kubernetes") return [...pins.kubernetes.binaries];
  return [name];
}

export function toolDir(name: string, version: string): string {
  return path.join(toolsRoot, name, version);
}

/** Every (name, version) pair the pin file asks for, in build order (what the e2e tier needs first). */
export function pinnedTools(): { name: string; version: string }[] {
  const list = [
    { name: "pulumi", version: pins.pulumi.version },
    { name: "pulumi-resource-kubernetes", version: pins["pulumi-resource-kubernetes"].version },
    { name: "etcd", version: pins.etcd.version },
    { name: "kubernetes", version: pins.kubernetes.version },
    { name: "kwok", version: pins.kwok.version },
  ];
  for (const v of Object.keys(pins.istioctl.versions)) list.push({ name: "istioctl", version: v });
  list.push({ name: "promtool", version: pins.promtool.version }, { name: "jaeger", version: pins.jaeger.version });
  return list;
}

export const STAMP = "tool.json";

export class MissingToolError extends Error {}

/**
 * Path of a pinned binary, or one clear line saying what is missing and how to fix it.
 * `name` is a binary (kube-apiserver, istioctl, ...); istioctl takes the Istio version.
 */
export function toolPath(binary: string, istioVersion?: string): string {
  const { entry, version } = locate(binary, istioVersion);
  const dir = toolDir(entry, version);
  const bin = path.join(dir, binary);
  if (!existsSync(path.join(dir, STAMP)) || !existsSync(bin)) {
    throw new MissingToolError(`${binary} ${version} is not built (looked in ${dir}); run: npm run tools`);
  }
  return bin;
}

function locate(binary: string, istioVersion?: string): { entry: string; version: string } {
  if (pins.kubernetes.binaries.includes(binary)) return { entry: "kubernetes", version: pins.kubernetes.version };
  if (binary === "istioctl") {
    if (!istioVersion) throw new Error("istioctl needs an Istio version");
    if (!pins.istioctl.versions[istioVersion]) {
      const known = Object.keys(pins.istioctl.versions).join(", ");
      throw new MissingToolError(`istioctl for Istio ${istioVersion} is not pinned (pinned: ${known}); add it to tools/versions.json and run: npm run tools`);
    }
    return { entry: "istioctl", version: istioVersion };
  }
  const pin = (pins as unknown as Record<string, { version?: string }>)[binary];
  if (!pin?.version) throw new Error(`unknown tool ${binary}`);
  return { entry: binary, version: pin.version };
}

/** Directories to put first on PATH so the engine finds pulumi and its kubernetes provider. */
export function toolPathDirs(): string[] {
  return [toolDir("pulumi", pins.pulumi.version), toolDir("pulumi-resource-kubernetes", pins["pulumi-resource-kubernetes"].version), toolDir("kubernetes", pins.kubernetes.version)];
}

/** Check several binaries at once; throws one error listing every missing one. */
export function preflight(binaries: string[]): void {
  const problems: string[] = [];
  for (const b of binaries) {
    try {
      toolPath(b);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  if (problems.length) throw new MissingToolError(problems.join("\n"));
}
