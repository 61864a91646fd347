import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { drizzle } from "drizzle-orm/postgres-js";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";

export const migrationsFolder = fileURLToPath(new URL("./migrations/", import.meta.url));

// Any fixed number works; it only has to be the same for every process that migrates.
const migrationLockId = 7_461_923_004;

/**
 * Applies pending migrations. An advisory lock makes concurrent callers (several web
 * processes starting at once) take turns instead of racing on the same DDL.
 */
export async function migrateDatabase(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql`select pg_advisory_lock(${migrationLockId})`;
    try {
      await migrate(drizzle(sql), { migrationsFolder });
    } finally {
      await sql`select pg_advisory_unlock(${migrationLockId})`;
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export type MigrationJournal = { entries: { idx: number; when: number; tag: string }[] };

/** The migrations this code expects, from drizzle-kit's journal. */
export async function readMigrationJournal(): Promise<MigrationJournal> {
  const text = await readFile(new URL("./migrations/meta/_journal.json", import.meta.url), "utf8");
  return JSON.parse(text) as MigrationJournal;
}
