import { execFile } from "node:child_process";
import { chmod, lstat, mkdir, readdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";

// Each local workspace runs as an OS user of its own (SPEC §10), so one user's shell cannot
// read another's files, the install's secrets or the database. The account is made on first
// use and removed with the workspace's volume, as a VM would be.

const run = promisify(execFile);

export type WorkspaceAccount = { name: string; uid: number; gid: number; home: string };

/** `caw-` and the first 16 hex digits of the workspace id: unique enough, under 32 characters. */
export function workspaceAccountName(workspaceId: string): string {
  const digits = workspaceId.replace(/-/g, "").toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(digits)) throw new Error(`Not a workspace id: ${workspaceId}`);
  return `caw-${digits.slice(0, 16)}`;
}

/** The account named `name`, created (no login password, its own group) if it is missing. */
export async function ensureWorkspaceAccount(
  name: string,
  home: string,
): Promise<WorkspaceAccount> {
  const existing = await lookupAccount(name);
  if (existing) return { ...existing, name, home };
  try {
    await run("useradd", [
      "--system",
      "--user-group",
      "--no-create-home",
      "--home-dir",
      home,
      "--shell",
      "/bin/bash",
      "--comment",
      "Cloud AI Workspaces local workspace",
      name,
    ]);
  } catch (error) {
    // A concurrent job for the same workspace may have made it a moment ago.
    const raced = await lookupAccount(name);
    if (raced) return { ...raced, name, home };
    throw new Error(
      `Could not create the OS user ${name} for a local workspace (${String(error)}). ` +
        "useradd (Debian's passwd package) must be installed and the control plane must run as root.",
    );
  }
  const created = await lookupAccount(name);
  if (!created) throw new Error(`The OS user ${name} was created but cannot be looked up.`);
  // A freed uid is handed out again: whatever an earlier account of that uid left behind (a
  // control plane killed in the middle of a delete) must not become this workspace's.
  await killProcessesOf(created.uid, created.gid);
  await removeSharedFilesOf(created.uid);
  return { ...created, name, home };
}

/** Ends every process of the account, then removes it. */
export async function removeWorkspaceAccount(name: string): Promise<void> {
  const account = await lookupAccount(name);
  if (!account) return;
  await killProcessesOf(account.uid, account.gid);
  await removeSharedFilesOf(account.uid);
  await run("userdel", [name]).catch(async (error: unknown) => {
    if (await lookupAccount(name)) throw error;
  });
}

// A later workspace's account may get the freed uid: what this one left in the shared
// temporary folders must not become that one's.
const sharedFolders = ["/tmp", "/var/tmp", "/dev/shm"];

async function removeSharedFilesOf(uid: number): Promise<void> {
  for (const folder of sharedFolders) {
    for (const entry of await readdir(folder).catch(() => [] as string[])) {
      const target = path.join(folder, entry);
      const info = await lstat(target).catch(() => null);
      // rm never follows a symlink: a link is removed, not what it points at.
      if (info?.uid === uid) await rm(target, { recursive: true, force: true });
    }
  }
}

/**
 * SIGKILL to every process of `uid`: what is left of a "server" when it goes away. kill(-1)
 * sent as that user reaches all of its processes at once, so a fork loop cannot outrun it;
 * the /proc scan (by real uid, so a setuid child counts too) checks that none is left.
 */
export async function killProcessesOf(uid: number, gid: number): Promise<void> {
  // Root is never a workspace account; this guard keeps a bug from killing the control plane.
  if (uid === 0) throw new Error("Refusing to kill the processes of root.");
  for (let round = 0; round < 50; round += 1) {
    const pids = await listProcessesOf(uid);
    if (pids.length === 0) return;
    await run(process.execPath, ["-e", "process.kill(-1, 'SIGKILL')"], { uid, gid }).catch(
      () => {}, // it kills itself too
    );
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL"); // processes that changed their effective uid
      } catch {
        // Gone already.
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`Processes of uid ${uid} survived 50 rounds of SIGKILL; stop them by hand.`);
}

async function listProcessesOf(uid: number): Promise<number[]> {
  const entries = await readdir("/proc").catch(() => [] as string[]);
  const pids: number[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const status = await readFile(path.join("/proc", entry, "status"), "utf8").catch(() => "");
    const uids = /^Uid:\s+(\d+)\s+(\d+)/m.exec(status);
    if (uids && (Number(uids[1]) === uid || Number(uids[2]) === uid)) pids.push(Number(entry));
  }
  return pids;
}

async function lookupAccount(name: string): Promise<{ uid: number; gid: number } | undefined> {
  try {
    const [uid, gid] = await Promise.all([run("id", ["-u", name]), run("id", ["-g", name])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    return undefined;
  }
}

/**
 * A folder only `account` may enter (0700, owned by it). A folder that already holds files of
 * someone else (a volume from before isolation, or from a root-run agent) is handed over whole.
 */
export async function giveFolderTo(folder: string, account: WorkspaceAccount): Promise<void> {
  await mkdir(folder, { recursive: true, mode: 0o700 });
  const info = await lstat(folder);
  if (info.uid !== account.uid || info.gid !== account.gid)
    await run("chown", ["-R", "--no-dereference", `${account.uid}:${account.gid}`, folder]);
  await chmod(folder, 0o700);
}

/**
 * Locks down the install's folder for the one-machine mode: it can be passed through but not
 * listed, and what only the control plane reads (secrets, the GitHub stand-in's store and
 * repositories) is private to its owner.
 */
export async function lockDownDataDir(dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  await chmod(dataDir, 0o711);
  for (const name of ["secrets", "github"]) {
    const folder = path.join(dataDir, name);
    const info = await lstat(folder).catch(() => null);
    if (info?.isDirectory()) await chmod(folder, 0o700);
  }
}
