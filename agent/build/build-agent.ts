import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { TerminalClientBundle } from "../terminal/page/bundle-client.ts";
import { bundleAgent, findPtyAddon } from "./bundle-agent.ts";
import { createSeaExecutable } from "./sea.ts";

// `npm run build` step that makes the workspace agent binary (SPEC §9): bundle, embed
// pty.node and the terminal page, inject into a copy of this Node, then write the checksum
// and the manifest the control plane's download endpoint serves from.

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const defaultEntry = path.join(repoRoot, "agent", "main.ts");
const keyFile = ".build-key";

export type AgentManifestFile = { file: string; sha256: string; size: number };
export type AgentManifest = { version: string; files: Record<string, AgentManifestFile> };

export type BuildAgentOptions = {
  /** The agent's entry module; agent/main.ts unless a test brings its own. */
  entry?: string;
  /** Where the binary, its .sha256 file and manifest.json go; dist/agent by default. */
  outDir?: string;
  /** The version written to the manifest; package.json's by default. */
  version?: string;
  /** Produces the terminal page assets; agent/terminal/page's bundleTerminalClient by default. */
  bundleClient?: () => Promise<TerminalClientBundle>;
  /** Rebuild even when the inputs have not changed. */
  force?: boolean;
};

export type BuildAgentResult = AgentManifestFile & {
  /** The binary's absolute path. */
  path: string;
  /** `<platform>-<arch>`, the manifest key, e.g. linux-x64. */
  target: string;
  /** True when the inputs matched the last build and nothing was written. */
  skipped: boolean;
};

export async function buildAgent(options: BuildAgentOptions = {}): Promise<BuildAgentResult> {
  const outDir = path.resolve(options.outDir ?? path.join(repoRoot, "dist", "agent"));
  const version = options.version ?? (await readPackageVersion());
  const target = `${process.platform}-${process.arch}`;
  const output = path.join(outDir, `agent-${target}`);
  const ptyAddon = findPtyAddon();
  const [code, client, addon] = await Promise.all([
    bundleAgent(options.entry ?? defaultEntry, ptyAddon),
    (options.bundleClient ?? bundleTerminalClientFromSource)(),
    readFile(ptyAddon),
  ]);
  const assets = {
    "pty.node": addon,
    "terminal.js": Buffer.from(client.js),
    "terminal.css": Buffer.from(client.css),
  };
  const key = await hashInputs(version, code, assets);
  const current = options.force ? null : await findCurrentBuild(outDir, target, key);
  if (current) return { ...current, path: output, target, skipped: true };

  await mkdir(outDir, { recursive: true });
  const workDir = await mkdtemp(path.join(tmpdir(), "agent-build-"));
  try {
    const main = path.join(workDir, "agent.cjs");
    await writeFile(main, code);
    const assetFiles: Record<string, string> = {};
    for (const [name, bytes] of Object.entries(assets)) {
      assetFiles[name] = path.join(workDir, name);
      await writeFile(assetFiles[name], bytes);
    }
    await createSeaExecutable({ workDir, main, assets: assetFiles, output });
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
  const file = path.basename(output);
  const built = { file, sha256: await hashFile(output), size: (await stat(output)).size };
  await writeBuildRecords(outDir, version, target, built, key);
  return { ...built, path: output, target, skipped: false };
}

async function bundleTerminalClientFromSource(): Promise<TerminalClientBundle> {
  const { bundleTerminalClient } = await import("../terminal/page/bundle-client.ts");
  return bundleTerminalClient();
}

// Everything the executable is made of: when this matches the last build, so would the binary.
async function hashInputs(version: string, code: Buffer, assets: Record<string, Buffer>) {
  const node = await stat(process.execPath);
  const hash = createHash("sha256");
  hash.update(JSON.stringify([version, process.version, process.execPath, node.size, node.mtimeMs]));
  // sea.ts holds the executable's settings (code cache, snapshot), which the bundle does not.
  const recipe = await readFile(new URL("./sea.ts", import.meta.url));
  for (const part of [recipe, code, ...Object.entries(assets).flat()]) {
    hash.update(createHash("sha256").update(part).digest("hex"));
  }
  return hash.digest("hex");
}

async function findCurrentBuild(outDir: string, target: string, key: string) {
  const lastKey = await readFile(path.join(outDir, keyFile), "utf8").catch(() => null);
  if (lastKey?.trim() !== key) return null;
  const manifest = await readManifest(outDir);
  const entry = manifest?.files[target];
  if (!entry) return null;
  const size = await stat(path.join(outDir, entry.file)).then((s) => s.size, () => -1);
  return size === entry.size ? entry : null;
}

async function writeBuildRecords(
  outDir: string,
  version: string,
  target: string,
  built: AgentManifestFile,
  key: string,
): Promise<void> {
  await writeFile(path.join(outDir, `${built.file}.sha256`), `${built.sha256}  ${built.file}\n`);
  // Binaries built for other architectures (by another machine) stay listed while current.
  const previous = await readManifest(outDir);
  const kept = Object.entries(previous?.version === version ? previous.files : {}).filter(
    ([name, entry]) => name !== target && existsSync(path.join(outDir, entry.file)),
  );
  const manifest: AgentManifest = {
    version,
    files: { ...Object.fromEntries(kept), [target]: built },
  };
  // Renamed into place: the download endpoint may read it at any moment.
  const partial = path.join(outDir, "manifest.json.partial");
  await writeFile(partial, `${JSON.stringify(manifest, null, 2)}\n`);
  await rename(partial, path.join(outDir, "manifest.json"));
  await writeFile(path.join(outDir, keyFile), `${key}\n`);
}

async function readManifest(outDir: string): Promise<AgentManifest | null> {
  const text = await readFile(path.join(outDir, "manifest.json"), "utf8").catch(() => null);
  return text ? (JSON.parse(text) as AgentManifest) : null;
}

async function readPackageVersion(): Promise<string> {
  const text = await readFile(path.join(repoRoot, "package.json"), "utf8");
  return (JSON.parse(text) as { version: string }).version;
}

async function hashFile(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

async function runBuildCommand(): Promise<void> {
  if (process.platform !== "linux") {
    console.error(`agent: skipped, the agent binary is built on Linux (this is ${process.platform}).`);
    return;
  }
  if (!existsSync(defaultEntry)) {
    console.error("agent: skipped, agent/main.ts does not exist yet (no binary to download).");
    return;
  }
  const started = performance.now();
  const result = await buildAgent({ force: process.argv.includes("--force") });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const where = path.relative(process.cwd(), result.path);
  const what = `${(result.size / 1024 / 1024).toFixed(1)} MB, sha256 ${result.sha256.slice(0, 12)}`;
  const verb = result.skipped ? "up to date" : "built";
  process.stdout.write(`agent: ${verb} ${where} (${what}) in ${seconds} s\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  runBuildCommand().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
