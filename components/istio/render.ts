// Runs the pinned istioctl's `manifest generate`, cached by (istioctl, profile, overlay hash).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { cacheRoot, pins, toolPath } from "../../lib/tools.js";

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

export const renderCacheDir = path.join(cacheRoot, "istio-render");

export interface RenderResult {
  readonly objects: K8sObject[];
  readonly cacheHit: boolean;
  readonly cacheFile: string;
}

export function cacheKey(istioVersion: string, overlay: unknown): string {
  const pin = pins.istioctl.versions[istioVersion];
  const h = createHash("sha256").update(JSON.stringify({ istioVersion, pin, overlay })).digest("hex").slice(0, 16);
  return `${istioVersion}-${(overlay as { spec?: { profile?: string } }).spec?.profile ?? "default"}-${h}`;
}

/** The objects istioctl renders for an overlay; runs istioctl only on a cache miss. */
export function renderManifest(istioVersion: string, overlay: Record<string, unknown>): RenderResult {
  const key = cacheKey(istioVersion, overlay);
  const cacheFile = path.join(renderCacheDir, `${key}.yaml`);
  if (!existsSync(cacheFile)) {
    const istioctl = toolPath("istioctl", istioVersion);
    mkdirSync(renderCacheDir, { recursive: true });
    const overlayFile = path.join(renderCacheDir, `${key}.overlay.yaml`);
    writeFileSync(overlayFile, stringify(overlay));
    let out: string;
    try {
      out = execFileSync(istioctl, ["manifest", "generate", "-f", overlayFile], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024, env: { ...process.env, KUBECONFIG: "/dev/null" }, stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`istioctl ${istioVersion} manifest generate failed: ${(err.stderr ?? err.message).trim()}`);
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

function readParsed(cacheFile: string): K8sObject[] {
  try {
    return JSON.parse(readFileSync(parsedFile(cacheFile), "utf8")) as K8sObject[];
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

export function parseObjects(text: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) throw new Error(`istioctl output is not valid YAML: ${doc.errors[0]!.message}`);
    const o = doc.toJS() as K8sObject | null;
    if (o && typeof o === "object" && o.kind && o.apiVersion) out.push(o);
  }
  return out;
}
