import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

/** The installed product's folder (where package.json, build/ and dist/ live). */
export const installRoot = fileURLToPath(new URL("../..", import.meta.url));

/** The product version from package.json: what the web reports and agents must match. */
export async function readVersion(): Promise<string> {
  const manifest = JSON.parse(
    await readFile(new URL("../../package.json", import.meta.url), "utf8"),
  ) as {
    version: string;
  };
  return manifest.version;
}
