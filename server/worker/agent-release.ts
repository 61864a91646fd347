import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import path from "node:path";
import { PermanentJobError } from "../jobs/runner.ts";

// The agent binary a new VM downloads (SPEC §9): `npm run build` puts one per architecture in
// dist/agent/ (beside each, the zstd copy the download may send instead), and the SHA-256 of
// the binary itself goes into the user data: the VM checks it after decoding the download.

export type AgentArch = "amd64" | "arm64";
export type AgentRelease = { arch: AgentArch; sha256: string };

const fileNames: Record<AgentArch, string> = {
  amd64: "agent-linux-x64",
  arm64: "agent-linux-arm64",
};

/** Hetzner's Arm servers are the `cax` types; everything else is x86-64. */
export const archOfServerType = (serverType: string): AgentArch =>
  serverType.startsWith("cax") ? "arm64" : "amd64";

/**
 * The release for an architecture, hashed once per build of its binary: a rebuild replaces
 * the file (a new inode), so a running worker never hands out the previous binary's hash.
 */
export function createAgentReleaseReader(distDir: string) {
  const cache = new Map<AgentArch, { identity: string; release: Promise<AgentRelease> }>();
  return async (arch: AgentArch): Promise<AgentRelease> => {
    const file = path.join(distDir, fileNames[arch]);
    const stats = await stat(file).catch(() => {
      throw new PermanentJobError(
        `The agent binary for ${arch} is not built (${file} is missing). Run \`npm run build\` on the control plane, then start the workspace again.`,
      );
    });
    const identity = `${stats.ino}:${stats.size}:${stats.mtimeMs}`;
    const cached = cache.get(arch);
    if (cached?.identity === identity) return cached.release;
    const release = hashFile(file).then((sha256) => ({ arch, sha256 }));
    cache.set(arch, { identity, release });
    // A failed read (the file replaced while hashing) is tried again next time.
    release.catch(() => {
      if (cache.get(arch)?.release === release) cache.delete(arch);
    });
    return release;
  };
}

async function hashFile(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
