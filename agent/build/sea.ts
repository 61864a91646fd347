import { execFile } from "node:child_process";
import { chmod, copyFile, rename, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { promisify } from "node:util";

// Turns a CommonJS file and its assets into a Node single executable application: the
// recipe from https://nodejs.org/api/single-executable-applications.html. The blob is made by
// a Node of the same version as the runtime it goes into (a blob's format is that version's);
// without a code cache or snapshot it holds no machine code, so a blob made on x64 is valid
// in an arm64 runtime (Node's docs say as much for cross-platform SEAs).

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const seaFuse = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

export type SeaInput = {
  /** A folder for the config and the blob. */
  workDir: string;
  /** The CommonJS file the executable runs. */
  main: string;
  /** Asset name → file, read back with `node:sea` getAsset(name). */
  assets: Record<string, string>;
  /** Where the executable goes; replaced in one rename, so never seen half-written. */
  output: string;
  /** The Node executable the blob goes into (any architecture). */
  runtime: string;
  /** A Node of the runtime's version that runs on this machine: it makes the blob. */
  blobMaker: string;
};

export async function createSeaExecutable(input: SeaInput): Promise<void> {
  const blob = path.join(input.workDir, "agent.blob");
  const config = path.join(input.workDir, "sea-config.json");
  const seaConfig = {
    // Relative, run from workDir: this name is what stack traces show for the agent's code.
    main: path.relative(input.workDir, input.main),
    output: blob,
    disableExperimentalSEAWarning: true,
    // A code cache is tied to the exact V8 build and CPU features; without one the binary
    // starts a little slower but runs on any machine of its architecture, and the blob can be
    // made on another architecture than the runtime's.
    useCodeCache: false,
    useSnapshot: false,
    assets: input.assets,
  };
  await writeFile(config, JSON.stringify(seaConfig, null, 2));
  await runQuietly(input.blobMaker, ["--experimental-sea-config", config], input.workDir);
  const partial = `${input.output}.partial`;
  try {
    await copyFile(input.runtime, partial);
    await chmod(partial, 0o755);
    const postject = require.resolve("postject/dist/cli.js");
    const injectArgs = [partial, "NODE_SEA_BLOB", blob, "--sentinel-fuse", seaFuse];
    await runQuietly(process.execPath, [postject, ...injectArgs]);
    await rename(partial, input.output);
  } finally {
    await rm(partial, { force: true });
  }
}

// postject prints harmless ELF warnings by the dozen; they are shown only when it fails.
async function runQuietly(command: string, args: string[], cwd?: string): Promise<void> {
  try {
    await run(command, args, { cwd, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    const output = `${stdout}${stderr}`.trim();
    throw new Error(`${path.basename(args[0] ?? command)} failed:\n${output}`, { cause: error });
  }
}
