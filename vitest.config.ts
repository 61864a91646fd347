import { defineConfig } from "vitest/config";

// `npm test` builds first (the e2e and HTTP tests load the real Remix build), then runs both
// projects with coverage. Every project first checks that build/ and dist/agent were made from
// the sources as they are (build-freshness-setup.ts), then gets a migrated template database.
const globalSetup = [
  "server/testing/build-freshness-setup.ts",
  "server/testing/database-global-setup.ts",
];

// SPEC §13: at least 90 % of lines on the critical paths, 80 % overall. Measured in-process
// only: code that runs in programs the tests start (web, worker, agent) is not counted, so
// each critical path has tests that drive it in the test's own process.
const critical = { lines: 90 };

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
          globalSetup,
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["e2e/**/*.spec.ts"],
          globalSetup,
          testTimeout: 90_000,
          hookTimeout: 90_000,
          fileParallelism: false,
        },
      },
    ],
    coverage: {
      provider: "v8",
      include: ["{server,db,app,cloud-init,agent,protocol}/**/*.{ts,tsx}"],
      exclude: [
        "**/*.test.{ts,tsx}",
        "**/testing/**",
        // Runs only in Chromium or inside the Remix bundle the tests load from build/, where
        // in-process coverage cannot see it; the e2e browser journeys test it (app/lib counts).
        "app/{routes,components}/**",
        "app/{root,entry.client,entry.server}.tsx",
        "agent/terminal/page/{client,touch-keys,workspace-follow}.ts",
      ],
      // The summary in the log; the HTML report in coverage/ (not in git) says which lines.
      reporter: ["text-summary", "json-summary", "html"],
      // A run with a failing test still says what it covered (Vitest keeps quiet otherwise).
      reportOnFailure: true,
      thresholds: {
        lines: 80,
        "server/jobs/**": critical,
        "server/worker/job-handlers.ts": critical,
        "server/providers/**": critical,
        "server/dns/**": critical,
        "cloud-init/**": critical,
        "agent/auth/**": critical,
        "agent/idle-monitor.ts": critical,
      },
    },
  },
});
