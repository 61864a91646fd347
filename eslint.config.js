import js from "@eslint/js";
import tseslint from "typescript-eslint";

// Imports flow one way (SPEC §3): app → server → db; server → cloud-init; server and agent
// share protocol/; db, cloud-init and protocol import nothing of ours. app/ reaches server code
// only from *.server.ts files (the classic compiler keeps only those out of the browser),
// though type-only imports are fine anywhere since they vanish at build time.
const forbid = (...folders) =>
  folders.map((folder) => ({
    group: [`**/${folder}/**`, `${folder}/**`],
    message: `This folder may not import from ${folder}/ (see the import rules in AGENTS.md).`,
  }));

const boundary = (files, patterns, allowTypeImports = false) => ({
  files,
  rules: {
    "@typescript-eslint/no-restricted-imports": [
      "error",
      { patterns: patterns.map((pattern) => ({ ...pattern, allowTypeImports })) },
    ],
  },
});

export default tseslint.config(
  {
    ignores: [
      "build/",
      "public/build/",
      "dist/",
      ".data/",
      "coverage/",
      "node_modules/",
      "e2e/artifacts/",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: "module" },
    rules: {
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_" },
      ],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-console": ["error", { allow: ["error"] }],
    },
  },
  boundary(["db/**"], forbid("app", "server", "agent", "cloud-init", "protocol", "e2e")),
  // The agent protocol is shared by server/ and agent/ and imports nothing of ours.
  boundary(["protocol/**"], forbid("app", "server", "agent", "db", "cloud-init", "e2e")),
  boundary(["cloud-init/**"], forbid("app", "server", "agent", "db", "protocol", "e2e")),
  boundary(["agent/**"], forbid("app", "server", "db", "cloud-init", "e2e")),
  // Tests of the agent may run it against our real servers (the GitHub stand-in, the web).
  boundary(["agent/**/*.test.ts"], forbid("app")),
  boundary(["server/**"], forbid("app", "agent", "e2e")),
  // Tests of server code may drive it against the third-party fakes in e2e/fakes/.
  boundary(["server/**/*.test.ts"], forbid("app", "agent")),
  boundary(["app/**"], forbid("server", "db", "agent", "cloud-init", "e2e"), true),
  // A *.server.ts file in app/ is the one door into server code.
  boundary(["app/**/*.server.ts"], forbid("db", "agent", "cloud-init", "e2e")),
);
