// Pins, the groups of tools each kind of work needs, and where a binary comes from: shared by
// every command that drives a tool, and by the program where it runs one (istioctl, kubectl).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/** Where Pulumi.yaml and config/ are read from: this repo, or a copy (tests use OBS_PROJECT_DIR). */
export const projectDir = process.env.OBS_PROJECT_DIR ?? repoRoot;
export const cacheRoot = process.env.OBS_CACHE_DIR ?? path.join(homedir(), ".cache", "observability-stack");
export const toolsRoot = path.join(cacheRoot, "tools");
/**
 * State folder of the embedded local cluster (`npm run cluster`), read from the environment when
 * called: the e2e tier and the bench set OBS_CLUSTER_DIR after this module has loaded.
 */
export const localClusterDir = (): string => process.env.OBS_CLUSTER_DIR ?? path.join(cacheRoot, "cluster");
/** The local cluster's admin kubeconfig: what the `local` stack deploys with. */
export const localKubeconfig = (): string => path.join(localClusterDir(), "kubeconfig");

export interface ModuleTool {
  readonly version: string;
  readonly module: string;
  readonly moduleVersion: string;
  readonly package: string;
  readonly versionFlag?: string;
  readonly localReplaces?: Record<string, string>;
  /** A module building several binaries into one cache entry (alertmanager and amtool). */
  readonly packages?: readonly string[];
  readonly binaries?: readonly string[];
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
  readonly actionlint: ModuleTool;
  readonly "pilot-discovery": { readonly package: string };
  readonly prometheus: ModuleTool;
  readonly alertmanager: ModuleTool;
  readonly "kube-score": ModuleTool;
}

export const pins: Pins = JSON.parse(readFileSync(path.join(repoRoot, "tools", "versions.json"), "utf8"));

export type ToolGroup = "up" | "local" | "test";

/** Binaries pinned per Istio minor ("1.30"), built from the same module, replaces and tag: istioctl, and istiod's pilot-discovery. */
export const ISTIO_BINARIES: readonly string[] = ["istioctl", "pilot-discovery"];
export const isIstioBinary = (binary: string): boolean => ISTIO_BINARIES.includes(binary);

/**
 * What each kind of work needs (`npm run tools -- --for GROUP`). A group has its own binaries
 * plus those of the group it extends; `istio` says which istioctl versions it takes: those the
 * stacks' revisions use (config/Pulumi.*.yaml) or every pinned one.
 */
export const TOOL_GROUPS: Record<ToolGroup, { readonly for: string; readonly extends?: ToolGroup; readonly binaries: readonly string[]; readonly istio?: "stacks" | "pinned"; readonly istioBinaries?: readonly string[] }> = {
  up: { for: "npm run render, preview, up, destroy, refresh, canary: any stack on a cluster you have", binaries: ["pulumi", "pulumi-resource-kubernetes", "kubectl"], istio: "stacks", istioBinaries: ["istioctl"] },
  local: { for: "npm run cluster, and the local stack (npm run up starts the cluster; one istiod per revision)", extends: "up", binaries: ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"], istioBinaries: ["pilot-discovery"] },
  test: { for: "npm test (the e2e tier): every pinned tool", extends: "local", binaries: ["promtool", "prometheus", "alertmanager", "amtool", "jaeger", "actionlint", "kube-score"], istio: "pinned" },
};

/** The Istio binaries a group takes, and at which versions: the stacks' revisions or every pinned one. */
export function groupIstio(group: ToolGroup): { versions?: "stacks" | "pinned"; binaries: string[] } {
  const g = TOOL_GROUPS[group];
  const base = g.extends ? groupIstio(g.extends) : { versions: undefined, binaries: [] };
  return { versions: g.istio ?? base.versions, binaries: [...base.binaries, ...(g.istioBinaries ?? [])] };
}
export const GROUP_NAMES = Object.keys(TOOL_GROUPS) as ToolGroup[];

/** One binary at one version: the pin's, or for istioctl the Istio minor ("1.30"). */
export interface ToolRef {
  readonly binary: string;
  readonly version: string;
}

/** The binaries of a group; with `stack`, istioctl only of the versions that stack uses. */
export function groupTools(group: ToolGroup, opts: { stack?: string } = {}): ToolRef[] {
  const g = TOOL_GROUPS[group];
  const refs = [...(g.extends ? groupTools(g.extends, opts) : []), ...g.binaries.map((binary) => ({ binary, version: pinnedVersion(binary) }))];
  const istio = groupIstio(group);
  const versions = istio.versions === "pinned" ? Object.keys(pins.istioctl.versions) : istio.versions === "stacks" ? stackIstioVersions(opts.stack) : [];
  for (const binary of istio.binaries) refs.push(...versions.map((version) => ({ binary, version })));
  return refs.filter((r, i) => refs.findIndex((o) => o.binary === r.binary && o.version === r.version) === i);
}

/** The smallest group that holds a tool (what the missing-tool line asks to build). */
export function groupOf(ref: ToolRef): ToolGroup {
  return GROUP_NAMES.find((g) => groupTools(g).some((t) => t.binary === ref.binary && t.version === ref.version)) ?? "test";
}

/** Istio versions of the revisions of one stack, or of every stack in config/. */
function stackIstioVersions(stack?: string): string[] {
  const dir = path.join(projectDir, "config");
  const files = stack ? [`Pulumi.${stack}.yaml`] : existsSync(dir) ? readdirSync(dir).filter((f) => /^Pulumi\.[^.]+\.yaml$/.test(f)) : [];
  const versions = new Set<string>();
  for (const f of files) {
    let doc: { config?: Record<string, { revisions?: { version?: unknown }[] }> } | undefined;
    try {
      doc = parse(readFileSync(path.join(dir, f), "utf8"));
    } catch {
      continue; // a missing or broken stack file is reported by the config loader, with its key
    }
    for (const r of doc?.config?.["obs:istio"]?.revisions ?? []) if (typeof r?.version === "string") versions.add(r.version);
  }
  return [...versions].sort();
}

/** The pinned version of a binary (not istioctl, which is pinned per Istio minor). */
export function pinnedVersion(binary: string): string {
  const pin = (pins as unknown as Record<string, { version?: string }>)[entryOf(binary)];
  if (!pin?.version || isIstioBinary(binary)) throw new Error(`unknown tool ${binary}`);
  return pin.version;
}

/** The cache entry (pin) that builds a binary: `kubernetes` for kube-apiserver, `alertmanager` for amtool. */
function entryOf(binary: string): string {
  const all = pins as unknown as Record<string, { binaries?: readonly string[] }>;
  return Object.keys(all).find((name) => name !== binary && all[name]?.binaries?.includes(binary)) ?? binary;
}

/** The binary names each cache entry holds, keyed by the cache folder name. */
export function binariesOf(name: string): string[] {
  const pin = (pins as unknown as Record<string, { binaries?: readonly string[] }>)[name];
  return pin?.binaries ? [...pin.binaries] : [name];
}

/**
 * Cache entries that can hold a binary, in lookup order. `kubernetes` builds its four binaries
 * together; `kubectl` alone is the smaller build the `up` group needs, in its own folder.
 */
export function cacheEntriesOf(binary: string, version: string): { name: string; version: string }[] {
  if (binary === "kubectl") return [{ name: "kubernetes", version }, { name: "kubectl", version }];
  return [{ name: entryOf(binary), version }];
}

export function toolDir(name: string, version: string): string {
  return path.join(toolsRoot, name, version);
}

/** Every cache entry the pin file asks for, in build order (what the e2e tier needs first). */
export function pinnedTools(): { name: string; version: string }[] {
  const list = [
    { name: "pulumi", version: pins.pulumi.version },
    { name: "pulumi-resource-kubernetes", version: pins["pulumi-resource-kubernetes"].version },
    { name: "etcd", version: pins.etcd.version },
    { name: "kubernetes", version: pins.kubernetes.version },
    { name: "kwok", version: pins.kwok.version },
  ];
  for (const binary of ISTIO_BINARIES) for (const v of Object.keys(pins.istioctl.versions)) list.push({ name: binary, version: v });
  for (const name of ["promtool", "prometheus", "alertmanager", "jaeger", "actionlint", "kube-score"] as const) list.push({ name, version: pins[name].version });
  return list;
}

export const STAMP = "tool.json";

/** kwok's PortForward CRD, kept from its module beside the kwok binary by `npm run tools` (the local cluster registers it). */
export const KWOK_PORTFORWARD_CRD = "kwok.x-k8s.io_portforwards.yaml";

export class MissingToolError extends Error {
  /** Set when the tool is pinned but found nowhere (not for a bad override or an unpinned version). */
  missing?: ToolRef;
}

/**
 * Binaries taken from PATH when their version fits the pin: how to ask for the version, and
 * what fits (pulumi of the pinned version or newer; istioctl and kubectl of the pinned minor).
 */
const PATH_DISCOVERY: Record<string, { readonly args: readonly string[]; readonly fits: "same minor" | "pinned or newer" }> = {
  pulumi: { args: ["version"], fits: "pinned or newer" },
  istioctl: { args: ["version", "--remote=false", "--short"], fits: "same minor" },
  kubectl: { args: ["version", "--client"], fits: "same minor" },
};

/** A found binary: where it is, where that came from, and its own version when known. */
export interface ResolvedTool {
  readonly binary: string;
  /** The version asked for: the pin's, or the Istio minor for istioctl. */
  readonly want: string;
  readonly path: string;
  /** `OBS_TOOL_<NAME>`, `PATH`, `Pulumi plugin cache` or `cache`. */
  readonly source: string;
  /** The binary's own version: probed, or the pinned build's (a cache istioctl's image tag). */
  readonly version?: string;
}

/** `OBS_TOOL_<NAME>`: upper case, non-alphanumerics as `_`, with the Istio minor for istioctl (OBS_TOOL_ISTIOCTL_1_30). */
export function toolEnvName(binary: string, istioVersion?: string): string {
  return `OBS_TOOL_${[binary, istioVersion].filter(Boolean).join("_")}`.toUpperCase().replace(/[^A-Z0-9]/g, "_");
}

const numbers = (v: string) => (v.match(/^(\d+)\.(\d+)(?:\.(\d+))?/) ?? []).slice(1).map((n) => Number(n ?? 0));

/** Whether a probed version fits the wanted one under a rule. */
export function versionFits(found: string, want: string, fits: "same minor" | "pinned or newer"): boolean {
  const [f, w] = [numbers(found), numbers(want)];
  if (f.length < 2 || w.length < 2) return false;
  if (fits === "same minor") return f[0] === w[0] && f[1] === w[1];
  for (let i = 0; i < 3; i++) if ((f[i] ?? 0) !== (w[i] ?? 0)) return (f[i] ?? 0) > (w[i] ?? 0);
  return true;
}

/** The first version-looking word of a `version` command's output (`v1.34.4`, `1.30.3`, `Client Version: v1.32.4-x`). */
export function parseVersion(output: string): string | undefined {
  return /(?:^|[\s:"v])v?(\d+\.\d+(?:\.\d+)?(?:[-+][0-9A-Za-z.+-]*)?)/.exec(output)?.[1];
}

const resolved = new Map<string, ResolvedTool>();

/**
 * Where a binary comes from, in this order: the `OBS_TOOL_<NAME>` variable; the same name on
 * PATH when its version fits (see PATH_DISCOVERY; a wrong one is ignored with a one-line note);
 * for the Kubernetes provider, Pulumi's plugin cache; our cache. A tool found nowhere is a
 * MissingToolError (returned, not thrown). Found tools are remembered for the process.
 */
export function findTool(binary: string, istioVersion?: string): ResolvedTool | MissingToolError {
  const key = `${binary} ${istioVersion ?? ""}`;
  const known = resolved.get(key);
  if (known) return known;
  const r = resolve(binary, istioVersion);
  if (!(r instanceof MissingToolError)) resolved.set(key, r);
  return r;
}

function resolve(binary: string, istioVersion?: string): ResolvedTool | MissingToolError {
  let want: string;
  if (isIstioBinary(binary)) {
    if (!istioVersion) throw new Error(`${binary} needs an Istio version`);
    if (!pins.istioctl.versions[istioVersion]) {
      const known = Object.keys(pins.istioctl.versions).join(", ");
      return new MissingToolError(`${binary} for Istio ${istioVersion} is not pinned (pinned: ${known}); add it to tools/versions.json and run: npm run tools`);
    }
    want = istioVersion;
  } else want = pinnedVersion(binary);

  const envName = toolEnvName(binary, isIstioBinary(binary) ? want : undefined);
  const override = process.env[envName];
  if (override) {
    if (!isExecutable(override)) return new MissingToolError(`${envName}=${override} is not an executable file; fix or unset it`);
    // istioctl's own version decides the image tag of what it renders
    return { binary, want, path: override, source: envName, version: binary === "istioctl" ? probeVersion(override, PATH_DISCOVERY.istioctl!.args) : undefined };
  }

  const rule = PATH_DISCOVERY[binary];
  const onPath = rule && whichOnPath(binary);
  if (rule && onPath) {
    const found = probeVersion(onPath, rule.args);
    if (found && versionFits(found, want, rule.fits)) return { binary, want, path: onPath, source: "PATH", version: found };
    const needs = rule.fits === "same minor" ? `${numbers(want).slice(0, 2).join(".")}.x` : `${want} or newer`;
    sayOnce(`[tools] ignoring ${onPath} on PATH: ${found ? `version ${found}` : "its version could not be read"}; ${binary} needs ${needs}`);
  }

  if (binary === "pulumi-resource-kubernetes") {
    const plugin = pluginCacheProvider(want);
    if (plugin) return { binary, want, path: plugin, source: "Pulumi plugin cache", version: want };
  }

  for (const e of cacheEntriesOf(binary, want)) {
    const dir = toolDir(e.name, e.version);
    const bin = path.join(dir, binary);
    if (existsSync(path.join(dir, STAMP)) && existsSync(bin)) return { binary, want, path: bin, source: "cache", version: isIstioBinary(binary) ? pins.istioctl.versions[want]!.imageTag : want };
  }
  const err = new MissingToolError(missingLine([{ binary, version: want }], groupOf({ binary, version: want })));
  err.missing = { binary, version: want };
  return err;
}

/** One line for tools found nowhere, naming the group to build. */
function missingLine(refs: ToolRef[], group: ToolGroup): string {
  const fix = `run: npm run tools -- --for ${group}`;
  if (refs.length === 1) {
    const r = refs[0]!;
    const dirs = cacheEntriesOf(r.binary, r.version).map((e) => toolDir(e.name, e.version));
    return `${r.binary} ${r.version} is not built (looked in ${dirs.join(" and ")}); ${fix}`;
  }
  const names = refs.map((r) => `${r.binary} ${r.version}`);
  return `${names.slice(0, -1).join(", ")} and ${names.at(-1)} are not built (looked in ${toolsRoot}); ${fix}`;
}

/**
 * Path of a pinned binary (see findTool for the order), or one clear line saying what is
 * missing and how to get it. Says once per process which binary it uses (stderr).
 */
export function toolPath(binary: string, istioVersion?: string): string {
  const r = findTool(binary, istioVersion);
  if (r instanceof MissingToolError) throw r;
  announceTool(r);
  return r.path;
}

/** A found binary in words: `istioctl 1.30: /usr/local/bin/istioctl (PATH, 1.30.5)`. */
export function describeTool(r: ResolvedTool): string {
  const extra = r.version && r.version !== r.want ? `, ${r.version}` : "";
  return `${r.binary} ${r.want}: ${r.path} (${r.source}${extra})`;
}

/** The one line naming the binary a command uses: `[tools] istioctl 1.30: /usr/local/bin/istioctl (PATH, 1.30.5)`. */
export function announceTool(r: ResolvedTool): void {
  sayOnce(`[tools] ${describeTool(r)}`);
}

/**
 * Checks the tools a command needs, before it starts (default: the whole group). Throws one
 * line naming every tool found nowhere and the group to build.
 */
export function preflight(group: ToolGroup, tools: readonly (string | ToolRef)[] = groupTools(group)): void {
  const missing: ToolRef[] = [];
  for (const t of tools) {
    const ref = typeof t === "string" ? { binary: t, version: pinnedVersion(t) } : t;
    const r = findTool(ref.binary, isIstioBinary(ref.binary) ? ref.version : undefined);
    if (r instanceof MissingToolError) {
      if (!r.missing) throw r;
      missing.push(ref);
    }
  }
  if (missing.length) throw new MissingToolError(missingLine(missing, group));
}

/**
 * Directories to put first on PATH so the engine finds the Kubernetes provider (and scripts
 * kubectl) that findTool chose. Tools found on PATH are already there; missing ones are skipped.
 */
export function toolPathDirs(binaries: readonly string[] = ["pulumi-resource-kubernetes", "pulumi", "kubectl"]): string[] {
  const dirs: string[] = [];
  for (const b of binaries) {
    const r = findTool(b);
    if (r instanceof MissingToolError || r.source === "PATH") continue;
    const dir = dirNamedFor(r);
    if (!dirs.includes(dir)) dirs.push(dir);
  }
  return dirs;
}

/** A folder where the binary goes by its own name: its own, or a symlink for an override named otherwise. */
function dirNamedFor(r: ResolvedTool): string {
  if (path.basename(r.path) === r.binary) return path.dirname(r.path);
  const dir = path.join(cacheRoot, "shims", createHash("sha256").update(path.resolve(r.path)).digest("hex").slice(0, 12));
  try {
    mkdirSync(dir, { recursive: true });
    if (!existsSync(path.join(dir, r.binary))) symlinkSync(path.resolve(r.path), path.join(dir, r.binary));
  } catch {
    // a concurrent command made it
  }
  return dir;
}

function isExecutable(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first `binary` on PATH, skipping our own cache (which findTool checks last, as the cache). */
function whichOnPath(binary: string): string | undefined {
  const ours = [toolsRoot, path.join(cacheRoot, "shims")].map((d) => path.resolve(d) + path.sep);
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (!dir || ours.some((o) => (path.resolve(dir) + path.sep).startsWith(o))) continue;
    const candidate = path.join(dir, binary);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** `$PULUMI_HOME/plugins/resource-kubernetes-v<version>/` or `~/.pulumi/plugins/...`, when complete. */
function pluginCacheProvider(version: string): string | undefined {
  for (const home of [process.env.PULUMI_HOME, path.join(homedir(), ".pulumi")]) {
    if (!home) continue;
    const dir = path.join(home, "plugins", `resource-kubernetes-v${version}`);
    const bin = path.join(dir, "pulumi-resource-kubernetes");
    if (isExecutable(bin) && !existsSync(`${dir}.partial`)) return bin;
  }
  return undefined;
}

// Probed versions: per process, and on disk keyed by the file's identity, so that a command
// pays for a probe (~0.2 s for kubectl) once per binary, not once per run.
const probed = new Map<string, string | undefined>();
const probeFile = () => path.join(cacheRoot, "tool-versions.json");

function probeVersion(file: string, args: readonly string[]): string | undefined {
  let id: string;
  try {
    const real = realpathSync(file);
    const st = statSync(real);
    id = `${real}|${st.size}|${st.mtimeMs}|${args.join(" ")}`;
  } catch {
    return undefined;
  }
  if (probed.has(id)) return probed.get(id);
  const onDisk = readProbes();
  if (id in onDisk) {
    probed.set(id, onDisk[id]);
    return onDisk[id];
  }
  const r = spawnSync(file, args, { encoding: "utf8", timeout: 20_000, env: { ...process.env, KUBECONFIG: "/dev/null", PULUMI_SKIP_UPDATE_CHECK: "true" }, stdio: ["ignore", "pipe", "pipe"] });
  const version = r.status === 0 ? parseVersion(r.stdout) : undefined;
  probed.set(id, version);
  if (version) writeProbe(id, version);
  return version;
}

function readProbes(): Record<string, string> {
  try {
    return JSON.parse(readFileSync(probeFile(), "utf8"));
  } catch {
    return {};
  }
}

function writeProbe(id: string, version: string): void {
  try {
    mkdirSync(cacheRoot, { recursive: true });
    const tmp = `${probeFile()}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ ...readProbes(), [id]: version }, null, 1));
    renameSync(tmp, probeFile());
  } catch {
    // only a cache: the next command probes again
  }
}

const said = new Set<string>();
function sayOnce(line: string): void {
  if (said.has(line)) return;
  said.add(line);
  process.stderr.write(`${line}\n`);
}
