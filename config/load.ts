// Reads the `obs:` keys of the running stack and parses them once.
import * as pulumi from "@pulumi/pulumi";
import { NAMESPACE, parseConfig, type StackConfig } from "./index.js";
import { pins } from "../lib/tools.js";

/** The running stack's config, validated. Throws a ConfigError before any resource is registered. */
export function loadStackConfig(): StackConfig {
  const raw: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(pulumi.runtime.allConfig())) {
    const [ns, name] = key.split(":", 2);
    if (ns !== NAMESPACE || name === undefined) continue;
    raw[name] = decode(value);
  }
  return parseConfig(pulumi.getStack(), raw, { istio: Object.keys(pins.istioctl.versions) });
}

// Pulumi hands structured values over as JSON text and scalars as plain text.
function decode(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}
