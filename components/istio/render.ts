// Runs istioctl's `manifest generate` (the pinned build, or one of the same minor from PATH or
// OBS_TOOL_ISTIOCTL_<minor>), cached by (istioctl build, profile, overlay hash).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { announceTool, cacheRoot, findTool, MissingToolError, pins } from "../../lib/tools.js";
import type { KubeObject } from "../k8s/objects.js";

export const renderCacheDir = path.join(cacheRoot, "istio-render");

export interface RenderResult {
  readonly objects: KubeObject[];
  readonly cacheHit: boolean;
  readonly cacheFile: string;
}

/** `build`: what besides the overlay decides the output: the pinned build, or another istioctl's own version. */
export function cacheKey(istioVersion: string, overlay: unknown, build: unknown = { pin: pins.istioctl.versions[istioVersion] }): string {
  const h = createHash("sha256").update(JSON.stringify({ istioVersion, build, overlay })).digest("hex").slice(0, 16);
  return `${istioVersion}-${(overlay as { spec?: { profile?: string } }).spec?.profile ?? "default"}-${h}`;
}

/** The overlay with the images pinned to `tag`: the version of the istioctl that renders it. */
export function withImageTag(overlay: Record<string, unknown>, tag: string): Record<string, unknown> {
  return { ...overlay, spec: { ...((overlay.spec as Record<string, unknown>) ?? {}), tag } };
}

/**
 * The objects istioctl renders for an overlay; runs istioctl only on a cache miss. The images
 * carry the tag of the istioctl found (the pin's for the pinned build); without any istioctl a
 * render cached for the pinned build is still used.
 */
export function renderManifest(istioVersion: string, overlay: Record<string, unknown>): RenderResult {
  const found = findTool("istioctl", istioVersion);
  const tool = found instanceof MissingToolError ? undefined : found;
  if (!tool && !pins.istioctl.versions[istioVersion]) throw found;
  if (tool && !tool.version) throw new Error(`istioctl ${istioVersion} at ${tool.path} (${tool.source}): its version could not be read (istioctl version --remote=false --short), so the image tag is unknown`);
  if (tool) announceTool(tool);
  const pinned = !tool || tool.source === "cache";
  const input = withImageTag(overlay, pinned ? pins.istioctl.versions[istioVersion]!.imageTag : tool.version!);
  const key = cacheKey(istioVersion, input, pinned ? undefined : { istioctl: tool.version });
  const cacheFile = path.join(renderCacheDir, `${key}.yaml`);
  if (!existsSync(cacheFile)) {
    if (!tool) throw found;
    mkdirSync(renderCacheDir, { recursive: true });
    const overlayFile = path.join(renderCacheDir, `${key}.overlay.yaml`);
    writeFileSync(overlayFile, stringify(input));
    let out: string;
    try {
      out = execFileSync(tool.path, ["manifest", "generate", "-f", overlayFile], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024, env: { ...process.env, KUBECONFIG: "/dev/null" }, stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`istioctl ${istioVersion} (${tool.path}) manifest generate failed: ${(err.stderr ?? err.message).trim()}`);
    }
    const objects = parseObjects(out);
    writeAtomically(cacheFile, out);
    writeAtomically(parsedFile(cacheFile), JSON.stringify(objects));
    return { objects, cacheHit: false, cacheFile };
  }
  return { objects: readParsed(cacheFile), cacheHit: true, cacheFile };
}

// The YAML stays the cache's record of istioctl's output; parsing its ~1 MB (CRDs) costs ~0.8 s
// per revision and command, so the parsed objects are kept beside it as JSON (~20 ms to read).
const parsedFile = (cacheFile: string) => cacheFile.replace(/\.yaml$/, ".objects.json");

function readParsed(cacheFile: string): KubeObject[] {
  try {
    return JSON.parse(readFileSync(parsedFile(cacheFile), "utf8")) as KubeObject[];
  } catch {
    const objects = parseObjects(readFileSync(cacheFile, "utf8"));
    writeAtomically(parsedFile(cacheFile), JSON.stringify(objects));
    return objects;
  }
}

function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

export function parseObjects(text: string): KubeObject[] {
  const out: KubeObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) throw new Error(`istioctl output is not valid YAML: ${doc.errors[0]!.message}`);
    const o = doc.toJS() as KubeObject | null;
    if (o && typeof o === "object" && o.kind && o.apiVersion) out.push(o);
  }
  return out;
}
