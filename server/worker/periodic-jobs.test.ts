import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { enqueuePeriodicJobs, periodicJobs } from "./periodic-jobs.ts";

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.drop());

describe("periodic jobs", () => {
  it("keeps exactly one waiting job per kind, due at its next interval, however often scheduled", async () => {
    const now = Date.UTC(2026, 10, 22, 10, 7, 30);
    // Two workers' schedulers, twice each.
    await Promise.all([
      enqueuePeriodicJobs(database.db, now),
      enqueuePeriodicJobs(database.db, now),
    ]);
    await enqueuePeriodicJobs(database.db, now + 1_000);
    const rows = await database.sql<{ kind: string; run_at: Date; status: string }[]>`
      select kind, run_at, status from jobs order by kind`;
    expect(rows.map((row) => row.kind)).toEqual(Object.keys(periodicJobs).sort());
    const runAt = Object.fromEntries(
      rows.map((row) => [row.kind, new Date(row.run_at).toISOString()]),
    );
    expect(runAt).toEqual({
      "servers.sweep_orphans": "2026-11-22T10:10:00.000Z",
      "signing_keys.rotate": "2026-11-22T11:00:00.000Z",
      "workspaces.enforce_lifetime": "2026-11-22T10:10:00.000Z",
      "workspaces.purge": "2026-11-22T11:00:00.000Z",
      "workspaces.reconcile": "2026-11-22T10:08:00.000Z",
    });
  });
});
