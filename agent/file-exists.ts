import { access } from "node:fs/promises";

/** Whether `file` exists (and we may see it). */
export async function fileExists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}
