import { createHash } from "node:crypto";
import { chmod, mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { prepareLocalFolders } from "./local-folders.ts";

// Where an isolating local provider puts the folders its workspaces' OS users must reach.
// Needs root (it checks access as another user); CI runs as root and must not skip it.

const runningAsRoot = process.getuid?.() === 0;
const cleanup: string[] = [];
afterEach(async () => {
  for (const folder of cleanup.splice(0)) await rm(folder, { recursive: true, force: true });
});

const modeOf = async (folder: string) => (await stat(folder)).mode & 0o777;

describe("prepareLocalFolders", () => {
  it("needs root, which CI has", () => {
    if (process.env.CI) expect(runningAsRoot).toBe(true);
  });

  it.runIf(runningAsRoot)(
    "locks DATA_DIR down and keeps the folders inside it when others can pass",
    async () => {
      const dataDir = await mkdtemp(path.join(os.tmpdir(), "caw-folders-"));
      cleanup.push(dataDir);
      await mkdir(path.join(dataDir, "secrets"), { mode: 0o755 });
      await mkdir(path.join(dataDir, "github"), { mode: 0o755 });
      await chmod(dataDir, 0o755);
      const folders = await prepareLocalFolders({ dataDir, isolate: true });
      expect(folders.volumes).toBe(path.join(dataDir, "workspaces", "volumes"));
      expect(await modeOf(dataDir)).toBe(0o711);
      expect(await modeOf(path.join(dataDir, "secrets"))).toBe(0o700);
      expect(await modeOf(path.join(dataDir, "github"))).toBe(0o700);
      expect(await modeOf(path.join(dataDir, "workspaces", "servers"))).toBe(0o700);
      for (const folder of [folders.agentCache, folders.states, folders.homes, folders.scratch])
        expect(await modeOf(folder)).toBe(0o711);
    },
  );

  it.runIf(runningAsRoot)(
    "moves them under /var/lib when a parent is private, and says so",
    async () => {
      const parent = await mkdtemp(path.join(os.tmpdir(), "caw-private-")); // 0700
      cleanup.push(parent);
      const dataDir = path.join(parent, "data");
      const messages: string[] = [];
      const folders = await prepareLocalFolders({
        dataDir,
        isolate: true,
        log: (message) => messages.push(message),
      });
      const records = path.join(dataDir, "workspaces");
      const key = createHash("sha256").update(records).digest("hex").slice(0, 16);
      const root = path.join("/var/lib/cloud-ai-workspaces", key);
      cleanup.push(root);
      expect(folders.volumes).toBe(path.join(root, "workspaces", "volumes"));
      expect(folders.records).toBe(records);
      expect(messages.join("\n")).toContain(path.join(root, "workspaces"));
    },
  );

  it("keeps everything under DATA_DIR/workspaces when not isolating", async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "caw-folders-"));
    cleanup.push(dataDir);
    const folders = await prepareLocalFolders({ dataDir, isolate: false });
    expect(folders.agentCache).toBe(path.join(dataDir, "workspaces", "agent-cache"));
    expect(folders.states).toBe(path.join(dataDir, "workspaces", "state"));
  });
});
