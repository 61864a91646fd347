import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { readMigrationJournal } from "../../db/migrate.ts";
import { findFreePort } from "../process/free-port.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { createReadinessCheck, reuseRecentReadiness } from "./health.ts";

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

describe("reuseRecentReadiness", () => {
  const ready = { ready: true, database: "reachable", migrations: "current", reason: "" } as const;

  it("asks once for every caller within its window, then again", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    try {
      let asked = 0;
      const check = reuseRecentReadiness(async () => (asked++, ready), 1_000);
      await Promise.all([check(), check(), check()]);
      vi.advanceTimersByTime(999);
      await check();
      expect(asked).toBe(1);
      vi.advanceTimersByTime(1);
      await check();
      expect(asked).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it("does not keep a check that threw", async () => {
    let asked = 0;
    const check = reuseRecentReadiness(async () => {
      if (asked++ === 0) throw new Error("boom");
      return ready;
    }, 60_000);
    await expect(check()).rejects.toThrow("boom");
    expect(await check()).toEqual(ready);
    expect(asked).toBe(2);
  });
});
