// Parses a raw stack config and returns its problems as "key = value: allowed" lines ([] when valid).
import { expect } from "vitest";
import { ConfigError, parseConfig } from "../../config/index.js";

export const PINNED = { istio: ["1.30", "1.31"] };

export function problems(raw: Record<string, unknown>, stack = "dev"): string[] {
  try {
    parseConfig(stack, raw, PINNED);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues.map((i) => `${i.key} = ${JSON.stringify(i.value)}: ${i.allowed}`);
  }
  return [];
}
