import { existsSync } from "node:fs";
import { readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";

// dist/agent/manifest.json is what the control plane serves from (contract A of issue #11):
// per target the binary and its zstd copy, each with its SHA-256 and size. Beside it, the
// build's own bookkeeping (.build-state.json): what each binary and copy was made from, so
// unchanged inputs skip the slow steps.

export type AgentManifestFile = { file: string; sha256: string; size: number };
export type AgentManifestEntry = AgentManifestFile & {
  encodings?: { zstd?: AgentManifestFile };
};
export type AgentManifest = { version: string; files: Record<string, AgentManifestEntry> };

export type TargetBuildState = {
  /** The hash of everything the executable is made of. */
  inputs: string;
  /** The binary's SHA-256 and the compression recipe its zstd copy was made with. */
  zstdSource: string | null;
};
export type BuildState = { targets: Record<string, TargetBuildState> };

const manifestName = "manifest.json";
const stateName = ".build-state.json";

export async function readManifest(outDir: string): Promise<AgentManifest | null> {
  const text = await readFile(path.join(outDir, manifestName), "utf8").catch(() => null);
  return text ? (JSON.parse(text) as AgentManifest) : null;
}

export async function readBuildState(outDir: string): Promise<BuildState> {
  const text = await readFile(path.join(outDir, stateName), "utf8").catch(() => null);
  const state = text ? (JSON.parse(text) as Partial<BuildState>) : {};
  return { targets: state.targets ?? {} };
}

/** The size of a file in outDir, or -1 when it is missing. */
export async function sizeInOutDir(outDir: string, file: string): Promise<number> {
  return stat(path.join(outDir, file)).then(
    (stats) => stats.size,
    () => -1,
  );
}

/**
 * Records one target. Calls are queued, so targets finishing at the same time do not lose
 * each other's entries; entries of other targets stay while their files exist.
 */
export function createManifestWriter(outDir: string, version: string) {
  let queue: Promise<void> = Promise.resolve();
  return (target: string, entry: AgentManifestEntry, state: TargetBuildState) => {
    const update = queue.then(() => writeRecords(outDir, version, target, entry, state));
    queue = update.catch(() => undefined);
    return update;
  };
}

async function writeRecords(
  outDir: string,
  version: string,
  target: string,
  entry: AgentManifestEntry,
  state: TargetBuildState,
): Promise<void> {
  await writeFile(path.join(outDir, `${entry.file}.sha256`), `${entry.sha256}  ${entry.file}\n`);
  const previous = await readManifest(outDir);
  const kept = Object.entries(previous?.version === version ? previous.files : {}).filter(
    ([name, other]) => name !== target && existsSync(path.join(outDir, other.file)),
  );
  const manifest: AgentManifest = {
    version,
    files: Object.fromEntries(
      [...kept, [target, entry] as const].sort(([a], [b]) => a.localeCompare(b)),
    ),
  };
  // Renamed into place: the download endpoint may read it at any moment.
  await replaceFile(path.join(outDir, manifestName), `${JSON.stringify(manifest, null, 2)}\n`);
  const buildState = await readBuildState(outDir);
  buildState.targets[target] = state;
  await replaceFile(path.join(outDir, stateName), `${JSON.stringify(buildState, null, 2)}\n`);
  // The single-architecture builds' record, replaced by the state file above.
  await rm(path.join(outDir, ".build-key"), { force: true });
}

async function replaceFile(file: string, text: string): Promise<void> {
  const partial = `${file}.partial`;
  await writeFile(partial, text);
  await rename(partial, file);
}
