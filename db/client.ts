import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import * as schema from "./schema.ts";

export type Database = PostgresJsDatabase<typeof schema>;

export type DatabaseHandle = {
  db: Database;
  sql: postgres.Sql;
  close: () => Promise<void>;
};

export type CreateDbOptions = {
  /** Pool size; postgres.js opens connections lazily up to this many. */
  max?: number;
  applicationName?: string;
};

/**
 * Creates a drizzle client over a postgres.js pool. The pool reconnects by itself after the
 * server restarts, so callers never rebuild it; postgres.js 3.4.9 is patched at install so a
 * restart under load cannot end the process (patches/, ADR 0025).
 */
export function createDb(url: string, options: CreateDbOptions = {}): DatabaseHandle {
  const sql = postgres(url, {
    max: options.max ?? 10,
    connect_timeout: 10,
    idle_timeout: 60,
    // postgres.js waits 3^n/100 s (up to 20 s) after the n-th failed connect in a row, and n
    // only resets on success: after a restart or two the pool would sit idle for 20 s while
    // the server is back. A short cap brings requests back within seconds (ADR 0025).
    backoff: (attempt: number) => Math.min(0.1 * 2 ** attempt, 2),
    onnotice: () => {},
    connection: { application_name: options.applicationName ?? "cloud-ai-workspaces" },
  });
  const db = drizzle(sql, { schema });
  return { db, sql, close: () => sql.end({ timeout: 5 }) };
}
