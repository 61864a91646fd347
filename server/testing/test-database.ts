import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { inject } from "vitest";
import { createDb, type DatabaseHandle } from "../../db/client.ts";
import { withDatabase } from "./database-global-setup.ts";

export type TestDatabase = DatabaseHandle & {
  url: string;
  name: string;
  drop: () => Promise<void>;
};

/**
 * A fresh database for one test file: cloned from the migrated template, or empty (no
 * migrations at all) when `migrated` is false.
 */
export async function createTestDatabase(
  options: { migrated?: boolean } = {},
): Promise<TestDatabase> {
  const adminUrl = inject("databaseAdminUrl");
  const name = `caw_test_${randomBytes(6).toString("hex")}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    if (options.migrated === false) await admin`create database ${admin(name)}`;
    else await admin`create database ${admin(name)} template ${admin(inject("templateDatabase"))}`;
  } finally {
    await admin.end();
  }
  const url = withDatabase(adminUrl, name);
  const handle = createDb(url, { max: 4 });
  return {
    ...handle,
    url,
    name,
    drop: async () => {
      await handle.close();
      const cleanup = postgres(adminUrl, { max: 1, onnotice: () => {} });
      await cleanup`drop database if exists ${cleanup(name)} with (force)`;
      await cleanup.end();
    },
  };
}
