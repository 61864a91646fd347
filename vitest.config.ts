import { defineConfig } from "vitest/config";

// `npm test` builds first (the e2e and HTTP tests load the real Remix build), then runs
// both projects. Every project gets a migrated template database from the global setup.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: [
            "*.test.ts",
            "{server,db,cloud-init,agent,app,protocol,sdk,deploy}/**/*.test.{ts,tsx}",
          ],
          globalSetup: ["server/testing/database-global-setup.ts"],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["e2e/**/*.spec.ts"],
          globalSetup: ["server/testing/database-global-setup.ts"],
          testTimeout: 90_000,
          hookTimeout: 90_000,
          fileParallelism: false,
        },
      },
    ],
    coverage: {
      provider: "v8",
      include: ["server/**", "db/**", "app/**", "cloud-init/**", "agent/**", "protocol/**"],
      exclude: ["**/*.test.ts", "server/testing/**"],
    },
  },
});
