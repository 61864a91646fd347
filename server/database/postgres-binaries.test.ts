import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  canAccess,
  prepareDataFolder,
  resolveRunAs,
  stagePostgresInstall,
} from "./postgres-binaries.ts";

// These paths only exist for root (PostgreSQL runs as the `postgres` user then). CI runs as
// root; as a normal user the functions under test are not called at all.
const isRoot = process.getuid?.() === 0;

describe.runIf(isRoot)("running PostgreSQL as root", () => {
  const cleanups: string[] = [];
  afterAll(async () => {
    for (const folder of cleanups) await rm(folder, { recursive: true, force: true });
  });

  async function privateFolder(): Promise<string> {
    const folder = await mkdtemp(path.join(os.tmpdir(), "caw-private-"));
    cleanups.push(folder);
    return folder;
  }

  it("stages binaries the postgres user cannot reach into a folder it can", async () => {
    const runAs = await resolveRunAs();
    expect(runAs).toBeDefined();
    const nativeDir = path.join(await privateFolder(), "native");
    await mkdir(path.join(nativeDir, "bin"), { recursive: true });
    await writeFile(path.join(nativeDir, "bin", "postgres"), "#!/bin/sh\necho staged\n");
    await chmod(path.join(nativeDir, "bin", "postgres"), 0o755);
    expect(canAccess(runAs!, "-x", path.join(nativeDir, "bin", "postgres"))).toBe(false);

    const version = `test-${process.pid}-${Date.now()}`;
    const staged = await stagePostgresInstall({ nativeDir, version }, runAs!);
    cleanups.push(staged.nativeDir);
    expect(staged.staged).toBe(true);
    expect(canAccess(runAs!, "-x", path.join(staged.nativeDir, "bin", "postgres"))).toBe(true);
    // A second start reuses the staged copy.
    expect(await stagePostgresInstall({ nativeDir, version }, runAs!)).toEqual(staged);
  });

  it("keeps binaries in place when the postgres user can reach them", async () => {
    const runAs = (await resolveRunAs())!;
    const nativeDir = await mkdtemp(path.join(os.tmpdir(), "caw-open-"));
    cleanups.push(nativeDir);
    await chmod(nativeDir, 0o755);
    await mkdir(path.join(nativeDir, "bin"));
    await writeFile(path.join(nativeDir, "bin", "postgres"), "#!/bin/sh\n", { mode: 0o755 });
    expect(await stagePostgresInstall({ nativeDir, version: "x" }, runAs)).toEqual({
      nativeDir,
      staged: false,
    });
  });

  it("moves the data folder out of a folder the postgres user cannot enter, and says where", async () => {
    const runAs = (await resolveRunAs())!;
    const preferred = path.join(await privateFolder(), "data", "pg");
    const { dataFolder, relocated } = await prepareDataFolder(preferred, runAs);
    cleanups.push(path.dirname(dataFolder));
    expect(relocated).toBe(true);
    expect(canAccess(runAs, "-w", dataFolder)).toBe(true);
    // The same checkout finds the same folder again.
    expect((await prepareDataFolder(preferred, runAs)).dataFolder).toBe(dataFolder);
  });
});
