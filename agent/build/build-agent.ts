import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { TerminalClientBundle } from "../terminal/page/bundle-client.ts";
import {
  createManifestWriter,
  readBuildState,
  readManifest,
  sizeInOutDir,
  type AgentManifest,
  type AgentManifestFile,
  type BuildState,
} from "./agent-manifest.ts";
import {
  agentTargets,
  allAgentTargets,
  findHostTarget,
  prepareNodeRuntime,
  runCrossTool,
  type AgentTarget,
  type NodeRuntime,
} from "./agent-targets.ts";
import { bundleAgent, findPtyAddon } from "./bundle-agent.ts";
import { compressForDownload } from "./compress-agent.ts";
import { assertElfMachine } from "./elf-header.ts";
import { hashFile } from "./hash-file.ts";
import { preparePtyAddon } from "./pty-addon.ts";
import { createSeaExecutable } from "./sea.ts";

// `npm run build` step that makes the workspace agent binaries (SPEC §9, ADR 0009): bundle
// once, then per target (linux-x64, linux-arm64) embed that target's pty.node and the
// terminal page, inject into the pinned Node runtime of that target, and make the zstd copy
// the download serves; then the checksum files and the manifest.

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const defaultEntry = path.join(repoRoot, "agent", "main.ts");

export type BuildAgentOptions = {
  /** The agent's entry module; agent/main.ts unless a test brings its own. */
  entry?: string;
  /** Where the binaries, their .sha256 and .zst files and manifest.json go; dist/agent. */
  outDir?: string;
  /** The version written to the manifest; package.json's by default. */
  version?: string;
  /** Produces the terminal page assets; agent/terminal/page's bundleTerminalClient by default. */
  bundleClient?: () => Promise<TerminalClientBundle>;
  /** Rebuild the executables even when their inputs have not changed. */
  force?: boolean;
  /** The targets to build; all of them by default. */
  targets?: AgentTarget[];
  /** Take the pinned Node packages from the caches only, never the registry (tests). */
  offline?: boolean;
  /** zstd's level for the download copies (compress-agent.ts has the default). */
  zstdLevel?: number;
};

export type BuildTargetResult = AgentManifestFile & {
  /** The binary's absolute path. */
  path: string;
  /** The manifest key, e.g. linux-arm64. */
  target: AgentTarget;
  /** True when the inputs matched the last build and the executable was not rewritten. */
  skipped: boolean;
  /** The download's zstd copy; `reused` when the binary was unchanged and so was kept. */
  zstd: AgentManifestFile & { path: string; reused: boolean };
};

type Shared = {
  outDir: string;
  options: BuildAgentOptions;
  code: Buffer;
  client: TerminalClientBundle;
  blobMaker: NodeRuntime;
  state: BuildState;
  manifest: AgentManifest | null;
  record: ReturnType<typeof createManifestWriter>;
  inTurn: <T>(task: () => Promise<T>) => Promise<T>;
};

export async function buildAgent(options: BuildAgentOptions = {}): Promise<BuildTargetResult[]> {
  const outDir = path.resolve(options.outDir ?? path.join(repoRoot, "dist", "agent"));
  const version = options.version ?? (await readPackageVersion());
  const [code, client, blobMaker] = await Promise.all([
    bundleAgent(options.entry ?? defaultEntry, findPtyAddon()),
    (options.bundleClient ?? bundleTerminalClientFromSource)(),
    prepareNodeRuntime(findHostTarget(), { offline: options.offline }),
  ]);
  await mkdir(outDir, { recursive: true });
  const shared: Shared = {
    ...{ outDir, options, code, client, blobMaker },
    state: await readBuildState(outDir),
    manifest: await readManifest(outDir),
    record: createManifestWriter(outDir, version),
    inTurn: createTurns(),
  };
  const targets = options.targets ?? allAgentTargets;
  // Each target finishes (and is recorded) on its own, so one that fails leaves the others.
  const settled = await Promise.allSettled(targets.map((target) => buildTarget(shared, target)));
  const failed = settled.find((outcome) => outcome.status === "rejected");
  if (failed) throw failed.reason;
  return settled.map((outcome) => (outcome as PromiseFulfilledResult<BuildTargetResult>).value);
}

async function buildTarget(shared: Shared, target: AgentTarget): Promise<BuildTargetResult> {
  const runtime = await prepareNodeRuntime(target, { offline: shared.options.offline });
  const addon = await preparePtyAddon(runtime);
  await assertElfMachine(addon, target);
  const assets = {
    "pty.node": await readFile(addon),
    "terminal.js": Buffer.from(shared.client.js),
    "terminal.css": Buffer.from(shared.client.css),
  };
  const inputs = await hashInputs([runtime, shared.blobMaker], shared.code, assets);
  const output = path.join(shared.outDir, `agent-${target}`);
  const current = shared.options.force ? null : await findCurrentBuild(shared, target, inputs);
  // One executable at a time: each holds a ~90 MB runtime in postject's memory.
  const binary =
    current ?? (await shared.inTurn(() => makeExecutable(shared, runtime, assets, output)));
  // Listed at once without its zstd copy, so the download never pairs the new binary's
  // checksum with the old copy while the new one is compressed.
  if (!current) await shared.record(target, binary, { inputs, zstdSource: null });
  const previous = shared.state.targets[target];
  const zstd = await compressForDownload({
    path: output,
    sha256: binary.sha256,
    level: shared.options.zstdLevel,
    previous: {
      source: previous?.zstdSource ?? null,
      encoded: shared.manifest?.files[target]?.encodings?.zstd,
    },
  });
  const entry = { ...binary, encodings: { zstd: zstd.encoded } };
  await shared.record(target, entry, { inputs, zstdSource: zstd.source });
  return {
    ...binary,
    path: output,
    target,
    skipped: current !== null,
    zstd: { ...zstd.encoded, path: `${output}.zst`, reused: zstd.reused },
  };
}

async function makeExecutable(
  shared: Shared,
  runtime: NodeRuntime,
  assets: Record<string, Buffer>,
  output: string,
): Promise<AgentManifestFile> {
  const workDir = await mkdtemp(path.join(tmpdir(), "agent-build-"));
  try {
    const main = path.join(workDir, "agent.cjs");
    await writeFile(main, shared.code);
    const assetFiles: Record<string, string> = {};
    for (const [name, bytes] of Object.entries(assets)) {
      assetFiles[name] = path.join(workDir, name);
      await writeFile(assetFiles[name], bytes);
    }
    // Node's release binaries carry ~12 MB of symbol tables and debug info that only a
    // debugger reads (its exported symbols, which addons link against, stay).
    const stripped = path.join(workDir, "node");
    await runCrossTool(runtime.target, "strip", [
      "--strip-all",
      "-o",
      stripped,
      runtime.executable,
    ]);
    await assertElfMachine(stripped, runtime.target);
    const blobMaker = shared.blobMaker.executable;
    await createSeaExecutable({
      workDir,
      main,
      assets: assetFiles,
      output,
      runtime: stripped,
      blobMaker,
    });
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
  return {
    file: path.basename(output),
    sha256: await hashFile(output),
    size: (await stat(output)).size,
  };
}

function createTurns() {
  let turn: Promise<unknown> = Promise.resolve();
  return <T>(task: () => Promise<T>): Promise<T> => {
    const next = turn.then(task);
    turn = next.catch(() => undefined);
    return next;
  };
}

async function bundleTerminalClientFromSource(): Promise<TerminalClientBundle> {
  const { bundleTerminalClient } = await import("../terminal/page/bundle-client.ts");
  return bundleTerminalClient();
}

// Everything an executable is made of: when this matches the last build, so would the binary.
async function hashInputs(runtimes: NodeRuntime[], code: Buffer, assets: Record<string, Buffer>) {
  const hash = createHash("sha256");
  hash.update(JSON.stringify(runtimes.map((runtime) => [runtime.target, runtime.integrity])));
  // sea.ts holds the executable's settings (code cache, snapshot), this file the strip step.
  const recipes = await Promise.all(
    ["./sea.ts", "./build-agent.ts"].map((file) => readFile(new URL(file, import.meta.url))),
  );
  for (const part of [...recipes, code, ...Object.entries(assets).flat()]) {
    hash.update(createHash("sha256").update(part).digest("hex"));
  }
  return hash.digest("hex");
}

async function findCurrentBuild(shared: Shared, target: AgentTarget, inputs: string) {
  if (shared.state.targets[target]?.inputs !== inputs) return null;
  const entry = shared.manifest?.files[target];
  if (!entry) return null;
  const size = await sizeInOutDir(shared.outDir, entry.file);
  return size === entry.size ? { file: entry.file, sha256: entry.sha256, size: entry.size } : null;
}

async function readPackageVersion(): Promise<string> {
  const text = await readFile(path.join(repoRoot, "package.json"), "utf8");
  return (JSON.parse(text) as { version: string }).version;
}

async function runBuildCommand(): Promise<void> {
  if (process.platform !== "linux") {
    console.error(
      `agent: skipped, the agent binary is built on Linux (this is ${process.platform}).`,
    );
    return;
  }
  if (!existsSync(defaultEntry)) {
    console.error("agent: skipped, agent/main.ts does not exist yet (no binary to download).");
    return;
  }
  const started = performance.now();
  const targets = await chooseBuildableTargets();
  const results = await buildAgent({ force: process.argv.includes("--force"), targets });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const megabytes = (size: number) => `${(size / 1e6).toFixed(1)} MB`;
  for (const result of results) {
    const where = path.relative(process.cwd(), result.path);
    const verb = result.skipped ? "up to date" : "built";
    const zstd = `zstd ${megabytes(result.zstd.size)}${result.zstd.reused ? ", kept" : ""}`;
    const what = `${megabytes(result.size)}, ${zstd}, sha256 ${result.sha256.slice(0, 12)}`;
    process.stdout.write(`agent: ${verb} ${where} (${what})\n`);
  }
  process.stdout.write(`agent: done in ${seconds} s\n`);
}

// `npm start` builds too, on machines that may lack a cross compiler: there, the other
// architecture is left out with a warning (its servers then fail with "not built"). CI must
// build both, so there a missing compiler fails the build.
async function chooseBuildableTargets(): Promise<AgentTarget[]> {
  const host = findHostTarget();
  const targets: AgentTarget[] = [];
  for (const target of allAgentTargets) {
    const { triplet, compilerPackage } = agentTargets[target];
    const compiler = `${triplet}-g++`;
    if (target === host || process.env.CI || (await canRun(compiler))) targets.push(target);
    else
      console.error(
        `agent: not building ${target}: ${compiler} is not installed (apt-get install ${compilerPackage}); servers of that architecture cannot start until it is built.`,
      );
  }
  return targets;
}

function canRun(command: string): Promise<boolean> {
  return new Promise((resolve) =>
    execFile(command, ["--version"], (error) => resolve(error === null)),
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  runBuildCommand().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
