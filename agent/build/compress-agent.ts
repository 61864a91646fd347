import { execFile } from "node:child_process";
import { rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import type { AgentManifestFile } from "./agent-manifest.ts";
import { hashFile } from "./hash-file.ts";

// The download's zstd copy of each binary, made once at build time (the control plane then
// only sends bytes: no per-request compression). The window stays at 8 MiB (wlog 23), the
// most RFC 9659 lets a `Content-Encoding: zstd` sender use; --ultra levels and --long only
// gain with larger windows. Measured on the x64 agent (88.5 MB): -18 gives 24.7 MB in 47 s,
// -19 24.6 MB in 96 s, -17 about 26 MB; arm64 is 0.3 MB smaller. Hence 18.

const run = promisify(execFile);
export const defaultZstdLevel = 18;

export type CompressInput = {
  /** The binary to compress; the copy goes beside it as `<file>.zst`. */
  path: string;
  sha256: string;
  /** zstd's level; tests use a fast one. */
  level?: number;
  /** What the existing copy was made from (build state), and that copy's record. */
  previous?: { source: string | null; encoded: AgentManifestFile | undefined };
};

export type CompressResult = { encoded: AgentManifestFile; source: string; reused: boolean };

export async function compressForDownload(input: CompressInput): Promise<CompressResult> {
  const level = input.level ?? defaultZstdLevel;
  const args = [`-${level}`, "--zstd=wlog=23", "-T1", "-q", "--no-progress"];
  // The copy depends on the binary's bytes and the recipe only: the same binary built again
  // (--force, or inputs that changed nothing) keeps its copy.
  const source = `${input.sha256} zstd ${args.slice(0, 2).join(" ")}`;
  const output = `${input.path}.zst`;
  const previous = input.previous?.encoded;
  if (previous && input.previous?.source === source) {
    const size = await stat(output).then(
      (stats) => stats.size,
      () => -1,
    );
    if (size === previous.size) return { encoded: previous, source, reused: true };
  }
  const partial = `${output}.partial`;
  try {
    await run("zstd", [...args, "-f", input.path, "-o", partial]).catch(
      (error: NodeJS.ErrnoException & { stderr?: string }) => {
        const hint =
          error.code === "ENOENT"
            ? "the zstd command is not installed: apt-get install zstd"
            : (error.stderr ?? "").trim();
        throw new Error(`Compressing ${input.path} with zstd failed: ${hint}`, { cause: error });
      },
    );
    await rename(partial, output);
  } finally {
    await rm(partial, { force: true });
  }
  const encoded = {
    file: path.basename(output),
    sha256: await hashFile(output),
    size: (await stat(output)).size,
  };
  return { encoded, source, reused: false };
}
