import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

/** A file's SHA-256 in hex, streamed (the agent binaries are ~90 MB). */
export async function hashFile(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
