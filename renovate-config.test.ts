import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { z } from "zod";

// renovate.json (SPEC §13). Renovate's own validator ships only inside the whole renovate
// package (hundreds of dependencies), so this checks the shape Renovate reads and what the
// project wants from it; the file was also checked once against renovate-schema.json of
// Renovate 44.121.2 (see CONTRIBUTING.md).

const ruleSchema = z.strictObject({
  description: z.string().min(1),
  matchPackageNames: z.array(z.string().min(1)).optional(),
  matchDepTypes: z.array(z.string()).optional(),
  matchUpdateTypes: z.array(z.enum(["major", "minor", "patch", "pin", "digest"])).optional(),
  groupName: z.string().optional(),
  automerge: z.boolean().optional(),
  enabled: z.boolean().optional(),
});
// Five cron fields, on one weekday: once a week.
const weekly = z.array(z.string().regex(/^\S+ \S+ \* \* [0-6]$/)).length(1);
const configSchema = z.strictObject({
  $schema: z.literal("https://docs.renovatebot.com/renovate-schema.json"),
  description: z.string(),
  extends: z.array(z.string()),
  rangeStrategy: z.literal("pin"),
  timezone: z.string(),
  schedule: weekly,
  lockFileMaintenance: z.strictObject({ enabled: z.literal(true), schedule: weekly }),
  packageRules: z.array(ruleSchema),
});

const config = configSchema.parse(
  JSON.parse(await readFile(new URL("renovate.json", import.meta.url), "utf8")),
);
const manifest = JSON.parse(await readFile(new URL("package.json", import.meta.url), "utf8")) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

describe("renovate.json", () => {
  it("starts from Renovate's recommended preset and pins exact versions, weekly", () => {
    expect(config.extends).toEqual(["config:recommended"]);
    expect(config.rangeStrategy).toBe("pin");
  });

  it("automerges nothing but devDependency patches", () => {
    const automerged = config.packageRules.filter((rule) => rule.automerge);
    expect(automerged).toEqual([
      expect.objectContaining({ matchDepTypes: ["devDependencies"], matchUpdateTypes: ["patch"] }),
    ]);
  });

  it("groups the lint and test tooling, naming only packages we have", () => {
    const group = config.packageRules.find((rule) => rule.groupName === "lint and test tooling");
    const names = group?.matchPackageNames ?? [];
    expect(names).toContain("vitest");
    const ours = Object.keys(manifest.devDependencies);
    for (const name of names) {
      const pattern = name.endsWith("/**") ? name.slice(0, -2) : null;
      expect(pattern ? ours.some((dep) => dep.startsWith(pattern)) : ours.includes(name)).toBe(
        true,
      );
    }
  });

  it("never proposes a postgres.js update on its own: its patch is tied to one release", () => {
    const rule = config.packageRules.find((rule) => rule.matchPackageNames?.includes("postgres"));
    expect(rule).toMatchObject({ enabled: false });
    expect(manifest.dependencies).toHaveProperty("postgres");
  });
});
