import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { serverNodeFlags } from "./node-flags.ts";

const packageJson = JSON.parse(
  await readFile(new URL("../../package.json", import.meta.url), "utf8"),
) as { scripts: Record<string, string> };

describe("the server programs' Node flags", () => {
  it("are passed by npm run web and npm run worker, as by npm start and the image", () => {
    for (const script of ["web", "worker"]) {
      const words = packageJson.scripts[script]!.split(/\s+/);
      expect(words.slice(0, 2)).toEqual(["exec", "node"]);
      for (const flag of serverNodeFlags) expect(words).toContain(flag);
    }
  });
});
