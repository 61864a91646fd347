import { createHash } from "node:crypto";
import { chmod, mkdir, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { fileExists } from "../process/file-exists.ts";

// How the one-machine provider gets its agent (SPEC §10): downloaded from the control
// plane's own /agent/download and checked against the SHA-256 in the user data, exactly as
// a VM's cloud-init does, so the local mode exercises the real path.

/** The user data of a local "server": the facts cloud-init's env file carries on a VM. */
export const localUserDataSchema = z.object({
  controlPlaneUrl: z.string(),
  workspaceId: z.uuid(),
  bootstrapToken: z.string().min(1),
  agentDownloadUrl: z.string(),
  agentSha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type LocalUserData = z.infer<typeof localUserDataSchema>;

/** The verified agent binary in `cacheDir` (kept by checksum, so it downloads once). */
export async function downloadAgent(userData: LocalUserData, cacheDir: string): Promise<string> {
  const binary = path.join(cacheDir, `agent-${userData.agentSha256}`);
  if (await fileExists(binary)) return binary;
  const response = await fetch(userData.agentDownloadUrl, { signal: AbortSignal.timeout(120_000) });
  if (!response.ok)
    throw new Error(
      `Downloading the agent from ${userData.agentDownloadUrl} answered ${response.status}.`,
    );
  const bytes = new Uint8Array(await response.arrayBuffer());
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  if (sha256 !== userData.agentSha256)
    throw new Error(
      `The downloaded agent's SHA-256 is ${sha256}, not ${userData.agentSha256}; refusing to run it.`,
    );
  await mkdir(cacheDir, { recursive: true, mode: 0o700 });
  await writeFile(`${binary}.part`, bytes, { mode: 0o700 });
  await chmod(`${binary}.part`, 0o755);
  await rename(`${binary}.part`, binary);
  return binary;
}
