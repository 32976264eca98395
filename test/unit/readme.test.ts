import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { configReference } from "../../scripts/config-reference.js";

describe("README", () => {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  it("embeds the current config reference (npm run docs:readme)", () => {
    expect(readme).toContain(configReference());
  });
  it("tells users the test command that CI runs", () => {
    const ci = readFileSync(new URL("../../.ci/run", import.meta.url), "utf8");
    expect(readme).toContain("npm test");
    expect(ci).toMatch(/^npm test$/m);
  });
});
