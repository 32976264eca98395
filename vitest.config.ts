import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      { test: { name: "unit", include: ["test/unit/**/*.test.ts"], testTimeout: 30_000 } },
      // e2e drives the real engine, provider and cluster: one file at a time, generous bounds.
      { test: { name: "e2e", include: ["test/e2e/**/*.test.ts"], globalSetup: ["test/e2e/global-setup.ts"], testTimeout: 900_000, hookTimeout: 900_000, pool: "forks", poolOptions: { forks: { singleFork: true } } } },
    ],
  },
});
