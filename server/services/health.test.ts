import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readMigrationJournal } from "../../db/migrate.ts";
import { findFreePort } from "../process/free-port.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { createReadinessCheck } from "./health.ts";

describe("createReadinessCheck", () => {
  let migrated: TestDatabase;
  let empty: TestDatabase;
  beforeAll(async () => {
    [migrated, empty] = await Promise.all([
      createTestDatabase(),
      createTestDatabase({ migrated: false }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([migrated.drop(), empty.drop()]);
  });

  it("is ready on a migrated database", async () => {
    const check = createReadinessCheck(migrated.sql, await readMigrationJournal());
    expect(await check()).toEqual({
      ready: true,
      database: "reachable",
      migrations: "current",
      reason: "",
    });
  });

  it("reports pending migrations with the command that applies them", async () => {
    const check = createReadinessCheck(empty.sql, await readMigrationJournal());
    const readiness = await check();
    expect(readiness).toMatchObject({ ready: false, database: "reachable", migrations: "pending" });
    expect(readiness.reason).toContain("npm run db:migrate");
  });

  it("reports pending migrations when the code expects a newer one than the database has", async () => {
    const journal = await readMigrationJournal();
    const newer = {
      entries: [...journal.entries, { idx: 99, when: Date.now() + 60_000, tag: "9999_future" }],
    };
    expect((await createReadinessCheck(migrated.sql, newer)()).migrations).toBe("pending");
  });

  it("reports an unreachable database without leaking its password", async () => {
    const port = await findFreePort();
    const sql = postgres(`postgres://app:hunter2@127.0.0.1:${port}/nothing`, {
      max: 1,
      connect_timeout: 2,
    });
    const readiness = await createReadinessCheck(sql, await readMigrationJournal())();
    await sql.end();
    expect(readiness).toMatchObject({
      ready: false,
      database: "unreachable",
      migrations: "unknown",
    });
    expect(readiness.reason).toMatch(/Check that PostgreSQL is running/);
    expect(readiness.reason).not.toContain("hunter2");
  });
});
