// Builds or verifies the pinned tools; the usage is below (--help).
import { createHash } from "node:crypto";
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { $ } from "zx/core";
import { cliArgs, HELP, UsageError } from "./lib/args.js";
import { binariesOf, cacheEntriesOf, cacheRoot, describeTool, findTool, GROUP_NAMES, groupIstio, groupTools, isIstioBinary, KWOK_PORTFORWARD_CRD, MissingToolError, type ModuleTool, pinnedTools, pins, STAMP, TOOL_GROUPS, type ToolGroup, type ToolRef, toolDir, toolsRoot } from "../lib/tools.js";

// every cache entry --only can name: the pinned ones and kubectl alone (the up group's smaller build)
const allEntries = [...pinnedTools(), { name: "kubectl", version: pins.kubernetes.version }];
const entryNames = [...new Set(allEntries.map((t) => t.name))];
const groupLines = GROUP_NAMES.map((g) => {
  const { extends: base, binaries, istio, istioBinaries = [] } = TOOL_GROUPS[g];
  const versions = (b: string) => groupTools(g).filter((t) => t.binary === b).map((t) => t.version).join(", ") || "(none)";
  const mode = istio ?? groupIstio(g).versions;
  const own = [...(base ? [base] : []), ...binaries, ...istioBinaries.map((b) => `${b} ${versions(b)}${mode === "stacks" ? " (the stacks' revisions)" : ""}`), ...(istio && base ? [`and every Istio binary at ${versions("istioctl")}`] : [])];
  return `  ${g.padEnd(6)} ${own.join(", ")}\n         for ${TOOL_GROUPS[g].for}`;
});

const USAGE = `
usage: npm run tools [-- --for up|local|test] [--only NAME[,NAME...]] [--verify]

Builds the pinned tools (tools/versions.json) a kind of work needs from their Go modules
(Go >= ${pins.go.minimum} needed) into ${toolsRoot}/<name>/<version>/,
and verifies what is already there against its checksums. A tool named by OBS_TOOL_<NAME>
(OBS_TOOL_ISTIOCTL_1_30=/path), found on PATH at a fitting version (pulumi of the pinned
version or newer; istioctl, kubectl of the pinned minor) or, for the Kubernetes provider, in
Pulumi's plugin cache is used as it is and not built. Idempotent; a lock keeps concurrent
runs apart. OBS_CACHE_DIR moves the cache.

groups (--for; each includes the one before):
${groupLines.join("\n")}

options:
  --for GROUP            the tools of GROUP: up, local or test (default: test, everything)
  --only NAME[,NAME...]  only these cache entries, whatever PATH has (default: all): ${entryNames.join(", ")}
  --verify               only verify, build nothing: exit 1 naming the tools missing or changed
  -h, --help             this text

examples:
  npm run tools -- --for up
  npm run tools -- --for local --verify
  npm run tools -- --only istioctl,kwok
`;

const { values: flags } = cliArgs(
  "npm run tools",
  USAGE,
  (argv) => parseArgs({ args: argv, strict: true, options: { ...HELP, for: { type: "string" }, only: { type: "string" }, verify: { type: "boolean", default: false } } }),
  ({ values }) => {
    if (values.for !== undefined && !GROUP_NAMES.includes(values.for as ToolGroup)) throw new UsageError(`--for ${values.for}: no such group (groups: ${GROUP_NAMES.join(", ")})`);
    if (values.for !== undefined && values.only !== undefined) throw new UsageError("--for and --only exclude each other");
  },
);

const started = Date.now();
const elapsed = (from = started) => {
  const s = Math.round((Date.now() - from) / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
};
const log = (msg: string) => console.log(`[tools ${elapsed()}] ${msg}`);

class BuildError extends Error {}

function goEnv(): NodeJS.ProcessEnv {
  // -mod=mod lets the wrapper modules resolve their go.sum as they build; CGO off gives static binaries.
  return { ...process.env, GOFLAGS: "-mod=mod -buildvcs=false", CGO_ENABLED: "0", GOTOOLCHAIN: process.env.GOTOOLCHAIN ?? "local" };
}

// output kept, never echoed; a failure is a result to look at, not an exception
const quiet = $({ quiet: true, nothrow: true });

async function checkGo(): Promise<string> {
  const r = await quiet`go env GOVERSION`;
  if (!r.ok) {
    throw new BuildError(`go is not installed: the tools are built from Go modules; install Go >= ${pins.go.minimum} (e.g. apt-get install golang-go, or the official tarball) and rerun: npm run tools`);
  }
  const v = r.stdout.trim().replace(/^go/, "");
  const [maj, min] = v.split(".").map(Number);
  const [wantMaj, wantMin] = pins.go.minimum.split(".").map(Number);
  if (maj! < wantMaj! || (maj === wantMaj && min! < wantMin!)) {
    throw new BuildError(`go ${v} is too old: the tools need Go >= ${pins.go.minimum}; install a newer Go and rerun: npm run tools`);
  }
  return v;
}

/** Runs `go <args>`, showing nothing but a heartbeat; returns its stdout; on failure shows the tail of its output. */
async function go(what: string, args: string[], cwd: string): Promise<string> {
  const stepStart = Date.now();
  const beat = setInterval(() => log(`  ${what}: still running (${elapsed(stepStart)})`), 30_000);
  const r = await quiet({ cwd, env: goEnv() })`go ${args}`.finally(() => clearInterval(beat));
  if (r.ok) return r.stdout;
  const tail = r.stdall.trim().split("\n").slice(-15).join("\n");
  throw new BuildError(`${what} failed (exit ${r.exitCode}):\n${tail}`);
}

interface Recipe {
  module: string;
  moduleVersion: string;
  packages: string[];
  ldflags: string[];
  /** Module paths whose upstream replace points into the upstream repo, mapped to a published version. */
  localReplaces: (modPath: string) => string | undefined;
  /** Extra replace directives: module -> version. */
  extraReplaces?: Record<string, string>;
  /** Build from a writable copy of the module itself instead of a wrapper module. */
  fromCopy?: (srcDir: string) => void;
  /** Files of the module kept beside the binaries (name in the tool dir -> path in the module), hashed in the stamp like them. */
  files?: Record<string, string>;
}

function recipe(name: string, version: string): Recipe {
  const simple = (t: ModuleTool): Recipe => ({
    module: t.module,
    moduleVersion: t.moduleVersion,
    packages: [t.package],
    ldflags: t.versionFlag ? [`-X ${t.versionFlag}`] : [],
    localReplaces: (m) => t.localReplaces?.[m],
  });
  switch (name) {
    case "pulumi":
    case "etcd":
    case "jaeger":
    case "actionlint":
      return simple(pins[name]);
    case "kwok":
      // the local cluster registers kwok's PortForward kind (istiod's ports reached through the API server, scripts/lib/istiod.ts)
      return { ...simple(pins.kwok), files: { [KWOK_PORTFORWARD_CRD]: `kustomize/crd/bases/${KWOK_PORTFORWARD_CRD}` } };
    case "kube-score":
      return simple(pins[name]);
    case "promtool":
    case "prometheus": {
      const t = pins[name];
      return { ...simple(t), ldflags: [`-X github.com/prometheus/common/version.Version=${t.version}`] };
    }
    case "alertmanager": {
      const t = pins.alertmanager;
      return {
        ...simple(t),
        packages: (t.packages ?? [t.package]).map((p) => `./${path.relative(t.module, p)}`),
        ldflags: [`-X github.com/prometheus/common/version.Version=${t.version}`],
        fromCopy: writeAlertmanagerUiStub,
      };
    }
    case "pulumi-resource-kubernetes": {
      const t = pins["pulumi-resource-kubernetes"];
      return {
        ...simple(t),
        packages: ["./cmd/pulumi-resource-kubernetes"],
        fromCopy: (src) => writeProviderEmbeds(path.join(src, "cmd", "pulumi-resource-kubernetes"), t.version),
      };
    }
    case "kubernetes":
    case "kubectl": {
      const k = pins.kubernetes;
      const [major, minor] = k.version.split(".");
      const keys = { gitVersion: `v${k.version}`, gitMajor: major, gitMinor: minor, gitTreeState: "clean", buildDate: "1970-01-01T00:00:00Z" };
      const ldflags = Object.entries(keys).flatMap(([key, val]) => [`-X k8s.io/component-base/version.${key}=${val}`, `-X k8s.io/client-go/pkg/version.${key}=${val}`]);
      return {
        module: k.module,
        moduleVersion: k.moduleVersion,
        packages: binariesOf(name).map((b) => `k8s.io/kubernetes/cmd/${b}`),
        ldflags,
        localReplaces: (m) => (m.startsWith("k8s.io/") ? k.stagingVersion : undefined),
      };
    }
    case "istioctl":
    case "pilot-discovery": {
      const i = pins.istioctl;
      const pin = i.versions[version]!;
      return {
        module: i.module,
        moduleVersion: pin.moduleVersion,
        packages: [pins[name].package],
        ldflags: [`-X istio.io/istio/pkg/version.buildVersion=${pin.imageTag}`, `-X istio.io/istio/pkg/version.buildHub=${i.hub}`, `-X istio.io/istio/pkg/version.buildTag=${pin.imageTag}`],
        localReplaces: () => undefined,
        extraReplaces: pin.replace,
      };
    }
  }
  throw new BuildError(`no recipe for ${name}`);
}

// The provider embeds a versioned schema and a minified mapping, generated upstream by `make`;
// the module zip has only their sources.
function writeProviderEmbeds(cmdDir: string, version: string): void {
  const schema = JSON.parse(readFileSync(path.join(cmdDir, "schema.json"), "utf8"));
  schema.version = version;
  writeFileSync(path.join(cmdDir, "schema-embed.json"), JSON.stringify(schema));
  const mapping = JSON.parse(readFileSync(path.join(cmdDir, "terraform-mapping.json"), "utf8"));
  writeFileSync(path.join(cmdDir, "terraform-mapping-embed.json"), JSON.stringify(mapping));
}

// Alertmanager embeds its web UI from ui/app/dist, built upstream with npm and not in the module
// zip. The tests use its API and amtool, not the UI: a one-page placeholder stands in for it.
function writeAlertmanagerUiStub(src: string): void {
  for (const ui of ["elm", "mantine"]) {
    const dir = path.join(src, "ui", "app", "dist", ui);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "index.html"), "<!doctype html><title>Alertmanager</title><p>This Alertmanager was built by observability-stack without its web UI; use the API or amtool.</p>\n");
  }
}

async function download(mod: string, version: string, workDir: string): Promise<{ Dir: string; GoMod: string }> {
  let out: string;
  try {
    out = await go(`download ${mod}@${version}`, ["mod", "download", "-json", `${mod}@${version}`], workDir);
  } catch (e) {
    throw new BuildError(`${(e as Error).message}\nThe Go module proxy must serve ${mod}@${version} (check GOPROXY, network, and tools/versions.json).`);
  }
  const info = JSON.parse(out);
  if (info.Error) throw new BuildError(`download ${mod}@${version}: ${info.Error}`);
  return info;
}

/** replace directives of an upstream go.mod: [from, to] with to = "path version" or a local path. */
function parseReplaces(goMod: string): [string, string][] {
  const out: [string, string][] = [];
  let inBlock = false;
  for (const raw of goMod.split("\n")) {
    const line = raw.replace(/\/\/.*$/, "").trim();
    if (line.startsWith("replace (")) inBlock = true;
    else if (inBlock && line === ")") inBlock = false;
    else if (inBlock || line.startsWith("replace ")) {
      const body = line.replace(/^replace\s+/, "");
      const m = body.match(/^(\S+)(?:\s+\S+)?\s*=>\s*(.+)$/);
      if (m) out.push([m[1]!, m[2]!.trim()]);
    }
  }
  return out;
}

async function buildTool(name: string, version: string, index: string): Promise<void> {
  const r = recipe(name, version);
  const buildRoot = path.join(cacheRoot, "build", `${name}-${version}`);
  mkdirSync(buildRoot, { recursive: true });
  log(`${index} ${name} ${version}: fetching ${r.module}@${r.moduleVersion}`);
  const info = await download(r.module, r.moduleVersion, buildRoot);

  let modDir: string;
  if (r.fromCopy) {
    modDir = path.join(buildRoot, "src");
    rmSync(modDir, { recursive: true, force: true });
    cpSync(info.Dir, modDir, { recursive: true });
    makeWritable(modDir);
    r.fromCopy(modDir);
    const goMod = readFileSync(path.join(modDir, "go.mod"), "utf8")
      .split("\n")
      .filter((l) => !/^replace\s+\S+\s*=>\s*\.\.?\//.test(l))
      .join("\n");
    writeFileSync(path.join(modDir, "go.mod"), goMod);
  } else {
    modDir = path.join(buildRoot, "wrapper");
    mkdirSync(modDir, { recursive: true });
    const lines = [`module obsbuild/${name}`, "", "go 1.26", "", `require ${r.module} ${r.moduleVersion}`, ""];
    for (const [from, to] of parseReplaces(readFileSync(info.GoMod, "utf8"))) {
      if (to.startsWith(".") || to.startsWith("/")) {
        const v = r.localReplaces(from);
        if (v) lines.push(`replace ${from} => ${from} ${v}`);
      } else lines.push(`replace ${from} => ${to}`);
    }
    for (const [mod, v] of Object.entries(r.extraReplaces ?? {})) lines.push(`replace ${mod} => ${mod} ${v}`);
    writeFileSync(path.join(modDir, "go.mod"), lines.join("\n") + "\n");
    rmSync(path.join(modDir, "go.sum"), { force: true });
  }

  const tmpOut = path.join(toolsRoot, name, `.tmp-${version}-${process.pid}`);
  rmSync(tmpOut, { recursive: true, force: true });
  mkdirSync(tmpOut, { recursive: true });
  log(`${index} ${name} ${version}: go build ${r.packages.join(" ")} (a cold build takes minutes)`);
  const buildStart = Date.now();
  const ldflags = ["-s", "-w", ...r.ldflags].join(" ");
  try {
    // one package: name the binary (etcd's main package is its module root, go would call it "server")
    const output = r.packages.length === 1 ? path.join(tmpOut, binariesOf(name)[0]!) : tmpOut + "/";
    await go(`go build ${name}`, ["build", "-trimpath", "-ldflags", ldflags, "-o", output, ...r.packages], modDir);
    for (const [file, inModule] of Object.entries(r.files ?? {})) cpSync(path.join(info.Dir, inModule), path.join(tmpOut, file));
    const stamp = { name, version, module: r.module, moduleVersion: r.moduleVersion, builtAt: new Date().toISOString(), buildSeconds: Math.round((Date.now() - buildStart) / 1000), sha256: hashes(tmpOut, keptFiles(name, version)) };
    writeFileSync(path.join(tmpOut, STAMP), JSON.stringify(stamp, null, 2) + "\n");
    await verifyRuns(name, version, tmpOut);
    const finalDir = toolDir(name, version);
    rmSync(finalDir, { recursive: true, force: true });
    renameSync(tmpOut, finalDir);
    log(`${index} ${name} ${version}: built in ${elapsed(buildStart)} -> ${finalDir}`);
  } catch (e) {
    rmSync(tmpOut, { recursive: true, force: true });
    throw new BuildError(`${name} ${version}: ${(e as Error).message}`);
  }
}

function makeWritable(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    chmodSync(p, entry.isDirectory() ? 0o755 : 0o644);
    if (entry.isDirectory()) makeWritable(p);
  }
  chmodSync(dir, 0o755);
}

/** What a tool's cache entry holds and its stamp hashes: its binaries and the module files its recipe keeps. */
const keptFiles = (name: string, version: string): string[] => [...binariesOf(name), ...Object.keys(recipe(name, version).files ?? {})];

function hashes(dir: string, bins: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const b of bins) {
    const p = path.join(dir, b);
    if (!existsSync(p)) throw new BuildError(`expected ${b} in ${dir}, it is not there`);
    out[b] = createHash("sha256").update(readFileSync(p)).digest("hex");
  }
  return out;
}

/** The binary runs and reports the pinned version (or embeds the pinned module). */
async function verifyRuns(name: string, version: string, dir: string): Promise<void> {
  for (const b of binariesOf(name)) {
    const bi = await quiet`go version -m ${path.join(dir, b)}`;
    if (!bi.ok) throw new BuildError(`${b}: not a Go binary (${bi.stderr.trim()})`);
    const r = recipe(name, version);
    // -trimpath keeps ldflags out of the build info; a copy build is the main module itself
    const embedsPin = bi.stdout.includes(`${r.module}\t${r.moduleVersion}`) || (!!r.fromCopy && bi.stdout.includes(`mod\t${r.module}\t`));
    if (!embedsPin) throw new BuildError(`${b}: build info does not mention ${r.module} ${r.moduleVersion}`);
  }
}

function verifyCached(name: string, version: string): boolean {
  const dir = toolDir(name, version);
  const stampPath = path.join(dir, STAMP);
  if (!existsSync(stampPath)) return false;
  try {
    const stamp = JSON.parse(readFileSync(stampPath, "utf8"));
    const kept = keptFiles(name, version);
    const now = hashes(dir, kept);
    return Object.entries(stamp.sha256 as Record<string, string>).every(([b, h]) => now[b] === h) && kept.every((b) => stamp.sha256[b]);
  } catch {
    return false;
  }
}

// A lock directory: mkdir is atomic. A lock whose owner pid is gone is stale and taken over.
async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  const lock = path.join(toolsRoot, ".lock");
  mkdirSync(toolsRoot, { recursive: true });
  const waitStart = Date.now();
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(path.join(lock, "pid"), String(process.pid));
      break;
    } catch {
      const owner = Number(readFileSync(path.join(lock, "pid"), { encoding: "utf8", flag: "a+" }) || 0);
      if (!owner || !alive(owner)) {
        // a pid-less lock younger than a few seconds is a run that is just writing its pid
        if (!owner && Date.now() - statSync(lock).mtimeMs < 5000) {
          await sleep(1000);
          continue;
        }
        log(`removing stale lock of pid ${owner || "?"}`);
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if ((Date.now() - waitStart) % 30_000 < 2000) log(`waiting for another 'npm run tools' (pid ${owner}) to finish`);
      await sleep(2000);
    }
  }
  const release = () => rmSync(lock, { recursive: true, force: true });
  process.once("SIGINT", () => (release(), process.exit(130)));
  process.once("SIGTERM", () => (release(), process.exit(143)));
  try {
    return await fn();
  } finally {
    release();
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Entry = { name: string; version: string };

/** The cache entries a group needs. Tools found elsewhere (OBS_TOOL_*, PATH, Pulumi's plugin cache) are used as they are. */
function entriesFor(group: ToolGroup): Entry[] {
  const inCache: ToolRef[] = [];
  for (const ref of groupTools(group)) {
    const r = findTool(ref.binary, isIstioBinary(ref.binary) ? ref.version : undefined);
    if (r instanceof MissingToolError && !r.missing) throw new BuildError(r.message);
    if (!(r instanceof MissingToolError) && r.source !== "cache") {
      log(`${describeTool(r)}: used as it is, not built`);
      continue;
    }
    inCache.push(ref);
  }
  // kubectl alone is a smaller build, unless the group needs the other Kubernetes binaries or they are there already
  const withServers = inCache.some((r) => r.binary !== "kubectl" && cacheEntriesOf(r.binary, r.version)[0]!.name === "kubernetes");
  const entries: Entry[] = [];
  for (const ref of inCache) {
    const candidates = cacheEntriesOf(ref.binary, ref.version);
    const entry = withServers ? candidates[0]! : (candidates.find((c) => existsSync(path.join(toolDir(c.name, c.version), STAMP))) ?? candidates.at(-1)!);
    if (!entries.some((e) => e.name === entry.name && e.version === entry.version)) entries.push(entry);
  }
  return entries;
}

async function main(): Promise<void> {
  const only = flags.only?.split(",");
  const group = (flags.for ?? "test") as ToolGroup;
  const what = only ? "pinned tools" : `tools of group ${group}`;
  const fix = only ? `npm run tools -- --only ${only.join(",")}` : `npm run tools -- --for ${group}`;
  const wanted = only ? allEntries.filter((t) => only.includes(t.name)) : entriesFor(group);
  if (only && wanted.length === 0) throw new BuildError(`--only ${only.join(",")}: no such tool; known: ${entryNames.join(", ")}`);
  const missingOf = () =>
    wanted.filter((t) => {
      const ok = verifyCached(t.name, t.version);
      if (ok) log(`${t.name} ${t.version}: ok (cached, checksums match)`);
      return !ok;
    });

  // verifying reads finished builds only (a build is moved in when complete): no lock needed
  if (flags.verify) {
    const missing = missingOf();
    if (missing.length) throw new BuildError(`${missing.length} of ${wanted.length} ${what} missing or changed in ${toolsRoot}: ${missing.map((t) => `${t.name} ${t.version}`).join(", ")}; run: ${fix}`);
    log(`${what}: all ${wanted.length} present in ${toolsRoot}`);
    return;
  }

  await withLock(async () => {
    const missing = missingOf();
    if (missing.length === 0) {
      log(`${what}: all ${wanted.length} present in ${toolsRoot}`);
      return;
    }
    log(`go ${await checkGo()}; building ${missing.length} of ${wanted.length}: ${missing.map((t) => `${t.name} ${t.version}`).join(", ")}`);
    const failures: string[] = [];
    for (const [i, t] of missing.entries()) {
      try {
        await buildTool(t.name, t.version, `(${i + 1}/${missing.length})`);
      } catch (e) {
        failures.push((e as Error).message);
        log(`FAILED ${(e as Error).message}`);
      }
    }
    if (failures.length) throw new BuildError(`${failures.length} tool(s) failed to build:\n${failures.join("\n")}`);
    log(`done: ${missing.length} built`);
  });
}

main().catch((e) => {
  console.error(e instanceof BuildError ? `npm run tools: ${e.message}` : e);
  process.exit(1);
});
