import { describe, expect, it } from "vitest";
import type { Issue } from "../../lib/schema.js";
import { durationMs, fluentdBytes, jvmBytes, prometheusBytes, quantityBytes, validated } from "../../lib/units.js";

/** The parsed value and the issues it pushed. */
function run(unit: (v: string, key: string, issues: Issue[]) => number | undefined, v: string): { n: number | undefined; issues: Issue[] } {
  const issues: Issue[] = [];
  return { n: unit(v, "obs:x.y", issues), issues };
}

describe("units", () => {
  it("reads each unit the way its tool does", () => {
    expect(run(quantityBytes, "2Gi").n).toBe(2 * 2 ** 30);
    expect(run(quantityBytes, "2G").n).toBe(2e9);
    expect(run(quantityBytes, "1Gi").n).toBe(2 ** 30);
    expect(run(quantityBytes, "500m").n).toBe(0.5);
    // the JVM reads k/m/g as binary in either case
    expect(run(jvmBytes, "1g").n).toBe(2 ** 30);
    expect(run(jvmBytes, "1G").n).toBe(2 ** 30);
    expect(run(jvmBytes, "512M").n).toBe(512 * 2 ** 20);
    // Fluentd: k/m/g/t are powers of 1024, a trailing B changes nothing
    expect(run(fluentdBytes, "2GB").n).toBe(2 * 2 ** 30);
    expect(run(fluentdBytes, "512m").n).toBe(512 * 2 ** 20);
    expect(run(durationMs, "90s").n).toBe(90_000);
    expect(run(durationMs, "2w").n).toBe(14 * 86_400_000);
    expect(run(prometheusBytes, "1GB").n).toBe(2 ** 30);
  });

  it("answers bad input with one issue naming key, value and what is allowed (never NaN, never a throw)", () => {
    for (const unit of [quantityBytes, jvmBytes, fluentdBytes, durationMs, prometheusBytes]) {
      const { n, issues } = run(unit, "bad");
      expect(n).toBeUndefined();
      expect(issues).toHaveLength(1);
      expect(issues[0]).toMatchObject({ key: "obs:x.y", value: "bad" });
      expect(issues[0]!.allowed).toMatch(/such as/);
    }
    expect(run(jvmBytes, "512").n).toBeUndefined();
    expect(run(quantityBytes, "1.5.2Gi").n).toBeUndefined();
  });

  it("validated() is for builders on checked config and throws with the schema's words otherwise", () => {
    expect(validated(jvmBytes, "2g")).toBe(2 * 2 ** 30);
    expect(() => validated(jvmBytes, "2x", "heap")).toThrow(/heap = "2x": expected a JVM size/);
  });
});
