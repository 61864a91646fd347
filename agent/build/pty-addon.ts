import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, realpathSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, readdir, rename, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { agentTargets, type AgentTarget, type NodeRuntime } from "./agent-targets.ts";
import { findPtyAddon } from "./bundle-agent.ts";
import { assertElfMachine } from "./elf-header.ts";

// node-pty's native addon for each target. This machine's own comes from node_modules (npm ci
// built it); another architecture's is compiled here with Debian's cross compiler against
// that target's Node headers (they ship in the pinned Node package), once per input hash.
// The addon uses Node-API, so it does not depend on the exact Node it was compiled with.

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
export const defaultAddonCacheDir = path.join(repoRoot, ".cache", "agent-build");

// What node-gyp reads from node-pty: its build file and its C++ sources.
const ptySources = ["binding.gyp", "package.json", "src/unix"];

export async function preparePtyAddon(
  runtime: NodeRuntime,
  options: { cacheDir?: string } = {},
): Promise<string> {
  const spec = agentTargets[runtime.target];
  if (spec.arch === process.arch) return findPtyAddon();
  const ptyRoot = path.dirname(require.resolve("node-pty/package.json"));
  const compiler = await describeCompiler(runtime.target);
  const key = await hashSources(ptyRoot, [runtime.integrity, compiler]);
  const cacheDir = path.resolve(options.cacheDir ?? defaultAddonCacheDir);
  const addon = path.join(cacheDir, `pty-${runtime.target}-${key.slice(0, 16)}.node`);
  if (existsSync(addon)) return addon;

  await mkdir(cacheDir, { recursive: true });
  const workDir = await mkdtemp(path.join(cacheDir, `.pty-${runtime.target}-`));
  try {
    for (const source of ptySources)
      await cp(path.join(ptyRoot, source), path.join(workDir, source), { recursive: true });
    // binding.gyp asks `node -p "require('node-addon-api')"` and gyp writes makefiles beside
    // that package's own gyp file: a copy inside the work folder keeps both in there.
    const addonApi = path.dirname(findAddonApi(ptyRoot));
    await cp(addonApi, path.join(workDir, "node_modules", "node-addon-api"), { recursive: true });
    await compileAddon(runtime, workDir);
    const built = path.join(workDir, "build", "Release", "pty.node");
    await assertElfMachine(built, runtime.target);
    await rename(built, addon);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
  return addon;
}

async function compileAddon(runtime: NodeRuntime, workDir: string): Promise<void> {
  const { triplet, arch } = agentTargets[runtime.target];
  // npm's own settings (npm_config_nodedir=/usr, npm_config_arch) would point node-gyp at
  // this machine's Node; the flags below say which one, and nothing else may.
  const environment = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^npm_config_/i.test(name)),
  );
  const env: Record<string, string | undefined> = {
    ...environment,
    CC: `${triplet}-gcc`,
    CXX: `${triplet}-g++`,
    LINK: `${triplet}-g++`,
    AR: `${triplet}-ar`,
  };
  const args = [findNodeGyp(), "rebuild", `--arch=${arch}`, `--nodedir=${runtime.folder}`];
  await run(process.execPath, args, {
    cwd: workDir,
    env: env as NodeJS.ProcessEnv,
    maxBuffer: 16 * 1024 * 1024,
  }).catch((error: { stdout?: string; stderr?: string }) => {
    const output = `${error.stdout ?? ""}${error.stderr ?? ""}`.trim().split("\n").slice(-15);
    throw new Error(`Compiling node-pty for ${runtime.target} failed:\n${output.join("\n")}`, {
      cause: error,
    });
  });
}

async function describeCompiler(target: AgentTarget): Promise<string> {
  const { triplet, compilerPackage } = agentTargets[target];
  try {
    const { stdout } = await run(`${triplet}-g++`, ["--version"]);
    return stdout.split("\n")[0] ?? "";
  } catch {
    throw new Error(
      `${triplet}-g++ is not installed; node-pty is compiled with it for ${target}: ` +
        `apt-get install ${compilerPackage}`,
    );
  }
}

// npm brings node-gyp (it built node-pty for this machine during npm ci) and tells its
// scripts where; outside npm, it sits beside npm's own entry point.
function findNodeGyp(): string {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return fromNpm;
  for (const folder of (process.env.PATH ?? "").split(path.delimiter)) {
    const npm = path.join(folder, "npm");
    if (!existsSync(npm)) continue;
    const npmRoot = path.dirname(path.dirname(realpathSync(npm)));
    const nodeGyp = path.join(npmRoot, "node_modules", "node-gyp", "bin", "node-gyp.js");
    if (existsSync(nodeGyp)) return nodeGyp;
  }
  throw new Error("node-gyp (part of npm) was not found: run the build with `npm run build`.");
}

// Everything the compiled addon depends on: node-pty's sources, node-addon-api's headers
// (its version), the target's Node headers (its integrity), the compiler and this recipe.
async function hashSources(ptyRoot: string, extra: string[]): Promise<string> {
  const addonApi = await readFile(findAddonApi(ptyRoot), "utf8");
  const recipe = await readFile(fileURLToPath(import.meta.url));
  const hash = createHash("sha256")
    .update(JSON.stringify([...extra, addonApi]))
    .update(recipe);
  for (const source of ptySources) {
    const files = await listFiles(path.join(ptyRoot, source));
    for (const file of files.sort()) {
      hash.update(path.relative(ptyRoot, file)).update(await readFile(file));
    }
  }
  return hash.digest("hex");
}

function findAddonApi(ptyRoot: string): string {
  return createRequire(path.join(ptyRoot, "package.json")).resolve("node-addon-api/package.json");
}

// A file is its own list; readdir refuses it (ENOTDIR).
async function listFiles(entry: string): Promise<string[]> {
  const entries = await readdir(entry, { withFileTypes: true }).catch(() => null);
  if (!entries) return [entry];
  const nested = await Promise.all(entries.map((child) => listFiles(path.join(entry, child.name))));
  return nested.flat();
}
