/* eslint-disable security/detect-non-literal-fs-filename -- test helper: folders it made itself */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { WorkspaceUser } from "../workspace-user.ts";

// Real OS users for the tests of what the agent runs as WORKSPACE_USER (the tests run as root
// in CI, as the product does on a VM). Each has a home of its own under a folder others may
// pass through (0711), like /home.

const run = promisify(execFile);

export const runningAsRoot = process.getuid?.() === 0;

export type TestUser = WorkspaceUser & { remove(): Promise<void> };

/** A fresh system user with a home, in `groups` (which must exist). */
export async function createTestUser(options: { groups?: string[] } = {}): Promise<TestUser> {
  const base = await mkdtemp(path.join(os.tmpdir(), "caw-test-user-"));
  await chmod(base, 0o711);
  const username = `cawt-${randomBytes(5).toString("hex")}`;
  const homedir = path.join(base, username);
  const groups = options.groups?.length ? ["--groups", options.groups.join(",")] : [];
  await run("useradd", [
    ...["--system", "--user-group", "--create-home", "--home-dir", homedir],
    ...["--shell", "/bin/bash", ...groups, username],
  ]);
  const [uid, gid] = await Promise.all([run("id", ["-u", username]), run("id", ["-g", username])]);
  return {
    username,
    uid: Number(uid.stdout.trim()),
    gid: Number(gid.stdout.trim()),
    homedir,
    shell: "/bin/bash",
    async remove() {
      await run("userdel", [username]).catch(() => {});
      await rm(base, { recursive: true, force: true });
    },
  };
}

/** A fresh system group; answers its name and a function that removes it. */
export async function createTestGroup(): Promise<{ name: string; remove(): Promise<void> }> {
  const name = `cawg-${randomBytes(5).toString("hex")}`;
  await run("groupadd", ["--system", name]);
  return { name, remove: () => run("groupdel", [name]).then(() => {}) };
}

/**
 * A root-only test runs wherever root is available; CI runs as root, so there it must never
 * quietly skip. Answers whether to skip.
 */
export function skipUnlessRoot(): boolean {
  if (!runningAsRoot && process.env.CI)
    throw new Error("This test needs root (it creates OS users); CI runs as root.");
  return !runningAsRoot;
}
