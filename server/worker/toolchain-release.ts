import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { installRoot } from "../process/version.ts";

// The workspace toolchain (Node, npm, the devcontainer CLI; docs/adr/0011) that `npm run build`
// puts in dist/toolchain/ (agent/build/build-toolchain.ts) and GET /agent/toolchain serves.
// A VM's toolchain unit checks the archive against the SHA-256 the user data carries
// (TOOLCHAIN_SHA256), read here from the build's manifest.

export type ToolchainArch = "amd64" | "arm64";
export const toolchainArchitectures: readonly ToolchainArch[] = ["amd64", "arm64"];

export const defaultToolchainDistDir = path.join(installRoot, "dist", "toolchain");

export const toolchainManifestSchema = z.object({
  node: z.string(),
  npm: z.string(),
  devcontainerCli: z.string(),
  files: z.partialRecord(
    z.enum(["amd64", "arm64"]),
    z.object({
      file: z.string().regex(/^[\w.-]+$/),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      size: z.number().int().positive(),
    }),
  ),
});
export type ToolchainManifest = z.output<typeof toolchainManifestSchema>;
export type ToolchainArchive = { path: string; sha256: string; size: number };

/** The manifest; null when nothing has been built. Throws when it is unreadable. */
export async function readToolchainManifest(distDir: string): Promise<ToolchainManifest | null> {
  const file = path.join(distDir, "manifest.json");
  const text = await readFile(file, "utf8").catch(() => null);
  if (text === null) return null;
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // Reported below, with what to do.
  }
  const parsed = toolchainManifestSchema.safeParse(json);
  if (!parsed.success)
    throw new Error(`${file} is not a toolchain manifest: run \`npm run build\` again.`);
  return parsed.data;
}

/**
 * The archive for `arch` as the manifest lists it, when it is there with that size; null when
 * it was not built (the toolchain is optional: the VM works without it and reports why).
 */
export async function findToolchainArchive(
  distDir: string,
  arch: ToolchainArch,
): Promise<ToolchainArchive | null> {
  const entry = (await readToolchainManifest(distDir))?.files[arch];
  if (!entry) return null;
  const file = path.join(distDir, entry.file);
  const size = await stat(file).then(
    (info) => info.size,
    () => null,
  );
  return size === entry.size ? { path: file, sha256: entry.sha256, size } : null;
}

/** For the user data: the archive's SHA-256 (TOOLCHAIN_SHA256), or null when not built. */
export function createToolchainReleaseReader(distDir: string = defaultToolchainDistDir) {
  return async (arch: ToolchainArch): Promise<{ arch: ToolchainArch; sha256: string } | null> => {
    const archive = await findToolchainArchive(distDir, arch);
    return archive && { arch, sha256: archive.sha256 };
  };
}
