// Where a stack deploys (kubeconfig + context), or undefined in render mode; and its config
// read straight from config/Pulumi.<stack>.yaml for the scripts that run around pulumi.
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { parseConfig, type StackConfig } from "./index.js";
import { LOCAL_CONTEXT, localKubeconfig } from "./local.js";
import { pins, projectDir } from "../lib/tools.js";
import type { Target } from "../lib/kube.js";

export function targetOf(cfg: StackConfig): Target | undefined {
  const k = cfg.kubernetes;
  if (k.renderDir) return undefined;
  const kubeconfig = k.context === LOCAL_CONTEXT && !k.kubeconfig ? localKubeconfig() : k.kubeconfig.replace(/^~(?=\/)/, process.env.HOME ?? "~") || undefined;
  return { context: k.context, kubeconfig };
}

/** `{secure: ...}` values replaced by a placeholder: the scripts around pulumi never need secrets. */
export function withoutSecrets(v: unknown, placeholder: (key: string) => string, key = ""): unknown {
  if (!v || typeof v !== "object") return v;
  if ("secure" in (v as object)) return placeholder(key);
  if (Array.isArray(v)) return v.map((x, i) => withoutSecrets(x, placeholder, `${key}[${i}]`));
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, withoutSecrets(x, placeholder, k)]));
}

/** Parses config/Pulumi.<stack>.yaml (secure values are not decrypted: scripts do not need them). */
export function readStackConfig(stack: string): StackConfig {
  const doc = parse(readFileSync(path.join(projectDir, "config", `Pulumi.${stack}.yaml`), "utf8")) as { config?: Record<string, unknown> };
  const raw = Object.fromEntries(Object.entries(doc.config ?? {}).filter(([k]) => k.startsWith("obs:")).map(([k, v]) => [k.slice(4), withoutSecrets(v, () => "encrypted-not-read")]));
  return parseConfig(stack, raw, { istio: Object.keys(pins.istioctl.versions) });
}
