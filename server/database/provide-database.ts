import { migrateDatabase } from "../../db/migrate.ts";
import type { Env } from "../env.ts";
import type { Logger } from "../logger.ts";
import { startEmbeddedPostgres } from "./embedded-postgres.ts";

export type ProvidedDatabase = {
  url: string;
  stop: () => Promise<void>;
  /** The embedded cluster's folder (its postmaster.pid names the server); none for DATABASE_URL. */
  dataFolder?: string;
};

/**
 * DATABASE_URL when set, otherwise the embedded PostgreSQL under DATA_DIR (SPEC §10);
 * either way migrated to the current schema.
 */
export async function provideDatabase(env: Env, logger: Logger): Promise<ProvidedDatabase> {
  if (env.DATABASE_URL) {
    await migrateDatabase(env.DATABASE_URL);
    logger.info("database migrations are current");
    return { url: env.DATABASE_URL, stop: async () => {} };
  }
  logger.info(
    { dataDir: env.DATA_DIR },
    "DATABASE_URL is not set: starting the embedded PostgreSQL",
  );
  const embedded = await startEmbeddedPostgres({ dataDir: env.DATA_DIR, logger });
  try {
    await migrateDatabase(embedded.url);
  } catch (error) {
    await embedded.stop();
    throw error;
  }
  logger.info("database migrations are current");
  return { url: embedded.url, stop: embedded.stop, dataFolder: embedded.dataFolder };
}
