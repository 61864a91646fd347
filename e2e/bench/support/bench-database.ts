import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";
import { startEmbeddedPostgres } from "../../../server/database/embedded-postgres.ts";
import { createLogger } from "../../../server/logger.ts";
import { withDatabase } from "../../../server/testing/database-global-setup.ts";

export type BenchDatabase = { url: string; cleanup: () => Promise<void> };

/** A database of its own: on DATABASE_URL's server when set, else a throwaway cluster. */
export async function provideBenchDatabase(): Promise<BenchDatabase> {
  const name = `caw_bench_${randomBytes(4).toString("hex")}`;
  const serverUrl = process.env.DATABASE_URL;
  if (serverUrl) {
    const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
    await admin`create database ${admin(name)}`;
    const cleanup = async () => {
      await admin`drop database if exists ${admin(name)} with (force)`;
      await admin.end();
    };
    return { url: withDatabase(serverUrl, name), cleanup };
  }
  // mkdtemp makes a private folder; the postgres user (when we are root) must enter it.
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "caw-bench-"));
  await chmod(dataDir, 0o755);
  const logger = createLogger({ level: "warn", service: "bench", destination: process.stderr });
  const embedded = await startEmbeddedPostgres({ dataDir, logger, database: name });
  const cleanup = async () => {
    await embedded.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
  return { url: embedded.url, cleanup };
}
