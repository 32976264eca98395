// Tools on demand and PATH discovery with the real pinned binaries, in throwaway caches built
// from symlinks to the real ones: with only the `up` group, `npm run render -- --stack prod`
// works and `npm run cluster -- up` refuses in one line naming `local`; a symlink to the pinned
// istioctl on PATH is what renders (the command says so) and the cache's istioctl never runs;
// the pinned istioctl of another minor on PATH is ignored with a note.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cacheRoot, pins, STAMP, toolDir, toolsRoot } from "../../lib/tools.js";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const tsx = path.join(repo, "node_modules", "tsx", "dist", "cli.mjs");
const ISTIO = "1.30";
const TAG = pins.istioctl.versions[ISTIO]!.imageTag;
const K = pins.kubernetes.version;
const made: string[] = [];
const tmp = (what: string) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), `obs-e2e-tools-${what}-`));
  made.push(dir);
  return dir;
};
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** The real cache's binary (built by npm run tools), failing the test with the fix when it is not there. */
function realBinary(binary: string, version: string): string {
  const dirs = binary === "kubectl" ? [toolDir("kubernetes", version), toolDir("kubectl", version)] : [toolDir(binary, version)];
  const found = dirs.find((d) => existsSync(path.join(d, STAMP)) && existsSync(path.join(d, binary)));
  if (!found) throw new Error(`${binary} ${version} is not in ${toolsRoot}; run: npm run tools -- --for test`);
  return path.join(found, binary);
}

/** A cache holding only the `up` group: symlinks to the real binaries, each entry stamped; `istioctl` may be replaced. */
function upOnlyCache(istioctl?: string): string {
  const root = tmp("cache");
  const entries: [string, string, string, string][] = [
    ["pulumi", pins.pulumi.version, "pulumi", realBinary("pulumi", pins.pulumi.version)],
    ["pulumi-resource-kubernetes", pins["pulumi-resource-kubernetes"].version, "pulumi-resource-kubernetes", realBinary("pulumi-resource-kubernetes", pins["pulumi-resource-kubernetes"].version)],
    ["kubectl", K, "kubectl", realBinary("kubectl", K)],
    ["istioctl", ISTIO, "istioctl", istioctl ?? realBinary("istioctl", ISTIO)],
  ];
  for (const [name, version, bin, target] of entries) {
    const dir = path.join(root, "tools", name, version);
    mkdirSync(dir, { recursive: true });
    symlinkSync(target, path.join(dir, bin));
    writeFileSync(path.join(dir, STAMP), JSON.stringify(stampFor(name, version, bin, target)));
  }
  return root;
}

/**
 * The stamp of an entry holding `bin` alone. For the real binary it is the one npm run tools wrote
 * (kubectl's narrowed to it from the kubernetes entry's), so --verify checks the build's own
 * checksum; only for a stand-in is the checksum computed here.
 */
function stampFor(name: string, version: string, bin: string, target: string): Record<string, unknown> {
  const real = realBinary(bin, version);
  if (target !== real) return { name, version, sha256: { [bin]: createHash("sha256").update(readFileSync(target)).digest("hex") } };
  const built = JSON.parse(readFileSync(path.join(path.dirname(real), STAMP), "utf8")) as { sha256: Record<string, string> };
  expect(built.sha256[bin], `${real}: its ${STAMP} has no checksum of ${bin}`).toMatch(/^[0-9a-f]{64}$/);
  return { ...built, name, sha256: { [bin]: built.sha256[bin] } };
}

/** The environment of a user whose PATH has none of our cache folders and who set no overrides. */
function envFor(cache: string, pathFirst?: string): NodeJS.ProcessEnv {
  const ours = [toolsRoot, path.join(cacheRoot, "shims")].map((d) => path.resolve(d) + path.sep);
  const userPath = (process.env.PATH ?? "").split(path.delimiter).filter((d) => d && !ours.some((o) => (path.resolve(d) + path.sep).startsWith(o)));
  const env: NodeJS.ProcessEnv = { ...process.env, OBS_CACHE_DIR: cache, OBS_CLUSTER_DIR: path.join(cache, "cluster"), PATH: [...(pathFirst ? [pathFirst] : []), ...userPath].join(path.delimiter) };
  for (const k of Object.keys(env)) if (k.startsWith("OBS_TOOL_")) delete env[k];
  for (const k of ["PULUMI_HOME", "PULUMI_BACKEND_URL", "OBS_PROJECT_DIR"]) delete env[k];
  return env;
}

function run(args: string[], env: NodeJS.ProcessEnv) {
  const r = spawnSync(process.execPath, [tsx, ...args], { cwd: repo, env, encoding: "utf8", timeout: 600_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, lines: r.stderr.trim().split("\n").filter(Boolean) };
}

const files = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(path.join(dir, f)).isDirectory() ? files(path.join(dir, f)).map((g) => path.join(f, g)) : [f]));
/** Every `image:` of istio's own images in a rendered folder. */
const istioImages = (dir: string) => [...new Set(files(dir).flatMap((f) => [...readFileSync(path.join(dir, f), "utf8").matchAll(/image: "?(docker\.io\/istio\/[^\s"]+)/g)].map((m) => m[1]!)))];

describe("tools on demand and tools on PATH, with the real binaries", () => {
  let pinnedRender: string;

  beforeAll(() => {
    for (const [b, v] of [["pulumi", pins.pulumi.version], ["pulumi-resource-kubernetes", pins["pulumi-resource-kubernetes"].version], ["kubectl", K], ["istioctl", ISTIO]] as const) realBinary(b, v);
  });

  it("with only the up group: tools --for up verifies, cluster up refuses in one line naming local, render --stack prod works", () => {
    const cache = upOnlyCache();
    const env = envFor(cache);
    const verify = run(["scripts/tools.ts", "--for", "up", "--verify"], env);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    for (const entry of [`pulumi ${pins.pulumi.version}`, `pulumi-resource-kubernetes ${pins["pulumi-resource-kubernetes"].version}`, `kubectl ${K}`, `istioctl ${ISTIO}`]) expect(verify.stdout).toContain(`${entry}: ok (cached, checksums match)`);

    const cluster = run(["scripts/cluster.ts", "up"], env);
    expect(cluster.code).toBe(1);
    expect(cluster.lines.at(-1)).toBe(`npm run cluster -- up: etcd ${pins.etcd.version}, kube-apiserver ${K}, kube-controller-manager ${K}, kube-scheduler ${K} and kwok ${pins.kwok.version} are not built (looked in ${cache}/tools); run: npm run tools -- --for local`);
    expect(existsSync(env.OBS_CLUSTER_DIR!)).toBe(false);

    pinnedRender = path.join(tmp("out"), "prod");
    const render = run(["scripts/render.ts", "--stack", "prod", "--out", pinnedRender], env);
    expect(render.code, render.stdout + render.stderr).toBe(0);
    expect(render.lines).toContain(`[tools] istioctl ${ISTIO}: ${cache}/tools/istioctl/${ISTIO}/istioctl (cache, ${TAG})`);
    expect(render.lines).toContain(`[tools] pulumi ${pins.pulumi.version}: ${cache}/tools/pulumi/${pins.pulumi.version}/pulumi (cache)`);
    expect(files(pinnedRender).length).toBeGreaterThan(50);
    const images = istioImages(pinnedRender);
    expect(images.length).toBeGreaterThan(0);
    expect(images.every((i) => i.endsWith(`:${TAG}`)), images.join(", ")).toBe(true);
  });

  it("a symlink to the pinned istioctl on PATH renders prod and the command says so; the cache's istioctl is never run", () => {
    const marker = path.join(tmp("marker"), "ran");
    const decoy = path.join(tmp("decoy"), "istioctl");
    writeFileSync(decoy, `#!/bin/sh\necho "$*" >> "${marker}"\nexit 1\n`);
    chmodSync(decoy, 0o755);
    const cache = upOnlyCache(decoy);
    const bin = tmp("path");
    symlinkSync(realBinary("istioctl", ISTIO), path.join(bin, "istioctl"));
    const out = path.join(tmp("out"), "prod");
    const render = run(["scripts/render.ts", "--stack", "prod", "--out", out], envFor(cache, bin));
    expect(render.code, render.stdout + render.stderr).toBe(0);
    expect(render.lines).toContain(`[tools] istioctl ${ISTIO}: ${bin}/istioctl (PATH, ${TAG})`);
    expect(existsSync(marker)).toBe(false);
    // its own version is the pin's image tag: the same Istio objects as the pinned build's render
    // (other objects carry Pulumi's random name suffixes)
    expect(istioImages(out).every((i) => i.endsWith(`:${TAG}`))).toBe(true);
    const istio = (dir: string) => files(dir).filter((f) => f.includes("istio")).sort();
    expect(istio(out).length).toBeGreaterThan(10);
    expect(istio(out)).toEqual(istio(pinnedRender));
    for (const f of istio(out)) expect(readFileSync(path.join(out, f), "utf8"), f).toBe(readFileSync(path.join(pinnedRender, f), "utf8"));
  });

  it("the pinned istioctl of another minor on PATH is ignored with one note", () => {
    const other = Object.keys(pins.istioctl.versions).find((v) => v !== ISTIO)!;
    const bin = tmp("path");
    symlinkSync(realBinary("istioctl", other), path.join(bin, "istioctl"));
    const r = run(["scripts/tools.ts", "--for", "up", "--verify"], envFor(upOnlyCache(), bin));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.lines.filter((l) => l.includes("/istioctl on PATH"))).toEqual([`[tools] ignoring ${bin}/istioctl on PATH: version ${pins.istioctl.versions[other]!.imageTag}; istioctl needs ${ISTIO}.x`]);
    expect(r.stdout).toContain(`istioctl ${ISTIO}: ok (cached, checksums match)`);
  });
});
