import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { PermanentJobError } from "../jobs/runner.ts";

// The agent binary a new VM downloads (SPEC §9): `npm run build` puts it in dist/agent/,
// and its SHA-256 goes into the user data so the VM can check what it runs.

export type AgentArch = "amd64" | "arm64";
export type AgentRelease = { arch: AgentArch; sha256: string };

const fileNames: Record<AgentArch, string> = {
  amd64: "agent-linux-x64",
  arm64: "agent-linux-arm64",
};

/** Hetzner's Arm servers are the `cax` types; everything else is x86-64. */
export const archOfServerType = (serverType: string): AgentArch =>
  serverType.startsWith("cax") ? "arm64" : "amd64";

export function createAgentReleaseReader(distDir: string) {
  const cache = new Map<AgentArch, Promise<AgentRelease>>();
  const read = async (arch: AgentArch): Promise<AgentRelease> => {
    const file = path.join(distDir, fileNames[arch]);
    const bytes = await readFile(file).catch(() => {
      throw new PermanentJobError(
        `The agent binary for ${arch} is not built (${file} is missing). Run \`npm run build\` on the control plane, then start the workspace again.`,
      );
    });
    return { arch, sha256: createHash("sha256").update(bytes).digest("hex") };
  };
  return (arch: AgentArch): Promise<AgentRelease> => {
    if (!cache.has(arch))
      cache.set(
        arch,
        read(arch).catch((error: unknown) => {
          cache.delete(arch);
          throw error;
        }),
      );
    return cache.get(arch)!;
  };
}
