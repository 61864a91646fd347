import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";

/** Reads a generated secret kept under DATA_DIR, creating it (mode 0600) on first use. */
export async function readOrCreateSecretFile(
  file: string,
  generate: () => string,
): Promise<string> {
  try {
    return (await readFile(file, "utf8")).trim();
  } catch {
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const value = generate();
    try {
      await writeFile(file, `${value}\n`, { mode: 0o600, flag: "wx" });
      return value;
    } catch {
      // Another process created it first; theirs wins.
      return (await readFile(file, "utf8")).trim();
    }
  }
}
