import { chmod, mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { findFreePort } from "../../server/process/free-port.ts";
import {
  projectRoot,
  startNodeProgram,
  type RunningProgram,
} from "../../server/testing/program.ts";
import { testEncryptionKeys } from "../../server/testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../../server/testing/test-database.ts";

export const artifactsDir = path.join(projectRoot, "e2e", "artifacts");

export type RunningApp = {
  baseUrl: string;
  /** The ENCRYPTION_KEYS the programs run with, to read what they stored. */
  encryptionKeys: string;
  launcher: RunningProgram;
  database: TestDatabase;
  stop: () => Promise<void>;
};

/** The whole product as `npm start` runs it (launcher, web, worker) on a fresh database. */
export async function startApp(settings: Record<string, string> = {}): Promise<RunningApp> {
  const database = await createTestDatabase({ migrated: false });
  const port = await findFreePort();
  const baseUrl = `http://localhost:${port}`;
  // Its own DATA_DIR: the GitHub stand-in keeps its users and repositories there.
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "caw-e2e-"));
  // Passable by the workspaces' own OS users when run as root (mkdtemp makes 0700).
  await chmod(dataDir, 0o711);
  const encryptionKeys = testEncryptionKeys();
  const launcher = startNodeProgram("server/start.ts", [], {
    DATABASE_URL: database.url,
    PORT: String(port),
    PUBLIC_URL: baseUrl,
    DATA_DIR: dataDir,
    ENCRYPTION_KEYS: encryptionKeys,
    ...settings,
  });
  await launcher.waitForLog("web server listening");
  await launcher.waitForLog("worker ready");
  return {
    baseUrl,
    encryptionKeys,
    launcher,
    database,
    stop: async () => {
      await launcher.stop("SIGTERM");
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export async function screenshotPath(name: string): Promise<string> {
  await mkdir(artifactsDir, { recursive: true });
  return path.join(artifactsDir, `${name}.png`);
}
