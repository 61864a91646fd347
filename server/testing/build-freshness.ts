import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { access, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

// The HTTP and e2e tests load build/ (the Remix build) and dist/agent (the agent binaries), so a
// run after a source edit without a rebuild would test old code without saying so. `npm run
// build` ends by stamping each output with a hash of the sources it was made from (`postbuild`);
// Vitest's global setup hashes them again and compares. A content hash, not mtimes: a checkout,
// a copy or `touch` changes mtimes without changing what the build would make.
// A stale Remix build is rebuilt on the spot (`remix build` takes seconds); a stale agent is
// refused with the command to run, since its build takes minutes and a test run should not
// hide that cost (ALLOW_STALE_AGENT_BUILD=1 lets a run go on, saying so, for tests that never
// start the binary).

const projectRoot = fileURLToPath(new URL("../..", import.meta.url));
const run = promisify(execFile);

export type BuildOutput = {
  name: string;
  /** Folders and files (relative to the project root) whose contents make the output. */
  sources: string[];
  /** Where the stamp lives: inside the output, so deleting the output deletes the stamp. */
  stamp: string;
  /** What the build makes; one of them missing (a partial copy of a checkout) is a rebuild. */
  outputs: string[];
  /** What to run to bring the output up to date. */
  command: string;
};

// Over-inclusive on purpose: a needless Remix rebuild costs seconds, a missed input a lie.
const shared = ["protocol", "package-lock.json", "tsconfig.json"];
export const buildOutputs = {
  remix: {
    name: "the Remix build (build/)",
    sources: ["app", "server", "db", "cloud-init", "public", "remix.config.js", ...shared],
    stamp: "build/.sources-sha256",
    // The browser's half (public/build) is needed as much as the server's.
    outputs: ["build/index.js", "public/build"],
    command: "npx remix build && node --import tsx server/testing/build-freshness.ts --stamp",
  },
  agent: {
    name: "the agent build (dist/agent/)",
    sources: ["agent", ...shared],
    stamp: "dist/agent/.sources-sha256",
    outputs: ["dist/agent/manifest.json"],
    command: "npm run build",
  },
} satisfies Record<string, BuildOutput>;

/** Tests, test helpers, notes and build outputs inside source folders make no build differ. */
export function isBuildInput(relativePath: string): boolean {
  const parts = relativePath.split(path.sep);
  if (parts.includes("node_modules") || parts.includes("testing")) return false;
  if (parts[0] === "public" && parts[1] === "build") return false;
  return !/\.(test|spec)\.tsx?$|\.md$/.test(relativePath);
}

/** SHA-256 over the sorted paths and contents of every build input under `sources`. */
export async function hashSources(sources: string[], root = projectRoot): Promise<string> {
  const files = (await Promise.all(sources.map((source) => listFiles(root, source)))).flat();
  const hash = createHash("sha256");
  for (const file of files.filter(isBuildInput).sort()) {
    hash.update(`${file}\0`);
    hash.update(await readFile(path.join(root, file)));
    hash.update("\0");
  }
  return hash.digest("hex");
}

async function listFiles(root: string, relative: string): Promise<string[]> {
  const entries = await readdir(path.join(root, relative), { withFileTypes: true }).catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code === "ENOTDIR") return null;
      if (error.code === "ENOENT") return [];
      throw error;
    },
  );
  if (entries === null) return [relative];
  const nested = entries.map((entry) => {
    const child = path.join(relative, entry.name);
    if (entry.isDirectory()) return isBuildInput(child) ? listFiles(root, child) : [];
    return entry.isFile() ? [child] : [];
  });
  return (await Promise.all(nested)).flat();
}

export type Freshness = "fresh" | "stale" | "missing";

/**
 * Pure: compares the stamp the build wrote (null: none) with the sources' hash now; an output
 * that is not there makes the build missing whatever the stamp says.
 */
export function decideFreshness(
  stamped: string | null,
  current: string,
  outputsPresent = true,
): Freshness {
  if (stamped === null || !outputsPresent) return "missing";
  return stamped.trim() === current ? "fresh" : "stale";
}

export async function checkOutput(output: BuildOutput, root = projectRoot) {
  const [stamped, current, present] = await Promise.all([
    readFile(path.join(root, output.stamp), "utf8").catch(() => null),
    hashSources(output.sources, root),
    Promise.all(
      output.outputs.map((file) =>
        access(path.join(root, file)).then(
          () => true,
          () => false,
        ),
      ),
    ),
  ]);
  return { freshness: decideFreshness(stamped, current, !present.includes(false)), current };
}

export function staleMessage(output: BuildOutput, freshness: Exclude<Freshness, "fresh">) {
  const what =
    freshness === "missing"
      ? "is missing, in part or whole, or has no source stamp (built without `npm run build`)"
      : "is older than its sources (they changed since it was built)";
  return `${output.name} ${what}, so tests would run old code. Run \`${output.command}\`, then the tests again.`;
}

export async function writeStamp(output: BuildOutput, root = projectRoot): Promise<void> {
  await writeFile(path.join(root, output.stamp), `${await hashSources(output.sources, root)}\n`);
}

/**
 * The global setup's check: rebuilds a stale Remix build, refuses a stale agent. Both Vitest
 * projects call it; the first call's promise is shared (through globalThis, since each
 * project loads its own copy of this module) so the build runs once.
 */
export function ensureFreshBuilds(): Promise<void> {
  const holder = globalThis as { cawBuildCheck?: Promise<void> };
  holder.cawBuildCheck ??= checkAndRebuild({
    rebuildRemix: async () => {
      await run(path.join(projectRoot, "node_modules", ".bin", "remix"), ["build"], {
        cwd: projectRoot,
      });
    },
  });
  return holder.cawBuildCheck;
}

export type CheckOptions = {
  root?: string;
  rebuildRemix: () => Promise<void>;
  log?: (line: string) => void;
  allowStaleAgent?: boolean;
};

export async function checkAndRebuild(options: CheckOptions): Promise<void> {
  const { root = projectRoot, log = console.error } = options;
  const remix = await checkOutput(buildOutputs.remix, root);
  if (remix.freshness !== "fresh") {
    log(`${staleMessage(buildOutputs.remix, remix.freshness)}\nRebuilding it now (remix build).`);
    await options.rebuildRemix();
    await writeStamp(buildOutputs.remix, root);
  }
  const agent = await checkOutput(buildOutputs.agent, root);
  if (agent.freshness === "fresh") return;
  const message = staleMessage(buildOutputs.agent, agent.freshness);
  // For a run of tests that never start the binary, while the agent's code is being changed.
  if (options.allowStaleAgent ?? process.env.ALLOW_STALE_AGENT_BUILD === "1")
    return log(
      `${message}\nALLOW_STALE_AGENT_BUILD=1: going on; tests of the binary test old code.`,
    );
  throw new Error(message);
}

// `node --import tsx server/testing/build-freshness.ts --stamp`: the end of `npm run build`.
if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes("--stamp")) {
  await Promise.all(Object.values(buildOutputs).map((output) => writeStamp(output)));
}
