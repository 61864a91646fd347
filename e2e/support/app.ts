import { chmod, mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { findFreePort } from "../../server/process/free-port.ts";
import {
  removeWorkspaceAccount,
  workspaceAccountName,
} from "../../server/providers/local-accounts.ts";
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
      await removeLocalWorkspaceAccounts(database);
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Local workspaces outlive the control plane by design (`npm start` brings them back, issue
 * #14), so a test's would go on running after it, under their OS users: their agents, agent
 * supervisors and tmux servers. As root each one has its own account; removing it ends them.
 */
async function removeLocalWorkspaceAccounts(database: TestDatabase): Promise<void> {
  if (process.getuid?.() !== 0) return;
  // No table when the launcher stopped before it migrated (42P01): then there is nothing to end.
  const rows = await database.sql<{ id: string }[]>`
    select id from workspaces where provider = 'local'`.catch((error: { code?: string }) => {
    if (error.code === "42P01") return [];
    throw error;
  });
  for (const { id } of rows) await removeWorkspaceAccount(workspaceAccountName(id));
}

export async function screenshotPath(name: string): Promise<string> {
  await mkdir(artifactsDir, { recursive: true });
  return path.join(artifactsDir, `${name}.png`);
}
