import { execFile, spawn } from "node:child_process";
import { mkdtemp, rm, stat, writeFile, chown } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureWorkspaceAccount, removeWorkspaceAccount } from "./local-accounts.ts";

// Real OS users (root only; CI runs as root and must not skip): a uid freed by an account that
// went away without its processes, as when the control plane is killed during a delete, is
// handed to the next account, which must not inherit what the old one left running or in /tmp.

const run = promisify(execFile);
const runningAsRoot = process.getuid?.() === 0;
const names = ["caw-00ac0c0a7e570001", "caw-00ac0c0a7e570002"];
let homes: string;

beforeAll(async () => {
  if (!runningAsRoot && process.env.CI) throw new Error("This test creates OS users: run as root.");
  homes = await mkdtemp(path.join(os.tmpdir(), "caw-accounts-"));
});
afterAll(async () => {
  if (!runningAsRoot) return;
  for (const name of names) await removeWorkspaceAccount(name);
  await rm(homes, { recursive: true, force: true });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.runIf(runningAsRoot)("a workspace account", () => {
  it("ends what an earlier account with the same uid left behind", async () => {
    const first = await ensureWorkspaceAccount(names[0]!, path.join(homes, "first"));
    const orphan = spawn("sleep", ["1000"], { uid: first.uid, gid: first.gid, detached: true });
    orphan.unref();
    const leftover = path.join(os.tmpdir(), `caw-accounts-leftover-${first.uid}`);
    await writeFile(leftover, "old");
    await chown(leftover, first.uid, first.gid);
    // Removed without ending its processes: what a killed control plane leaves.
    await run("userdel", ["--force", names[0]!]);
    expect(isAlive(orphan.pid!)).toBe(true);

    const second = await ensureWorkspaceAccount(names[1]!, path.join(homes, "second"));
    expect(second.uid).toBe(first.uid); // useradd hands the freed uid out again
    for (let waited = 0; waited < 5000 && isAlive(orphan.pid!); waited += 50)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(isAlive(orphan.pid!)).toBe(false);
    await expect(stat(leftover)).rejects.toThrow();
  });
});
