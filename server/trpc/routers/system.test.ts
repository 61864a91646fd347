import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readMigrationJournal } from "../../../db/migrate.ts";
import { parseEnv } from "../../env.ts";
import { createLogger } from "../../logger.ts";
import { createReadinessCheck } from "../../services/health.ts";
import { createTestDatabase, type TestDatabase } from "../../testing/test-database.ts";
import { createCallerFactory } from "../init.ts";
import { appRouter } from "../root.ts";

describe("system.info", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(() => database.drop());

  it("reports the version, a healthy database and when the install was made", async () => {
    const caller = createCallerFactory(appRouter)({
      env: parseEnv({}),
      db: database.db,
      logger: createLogger({ level: "silent", service: "test" }),
      requestId: "test",
      version: "9.8.7",
      checkReadiness: createReadinessCheck(database.sql, await readMigrationJournal()),
      request: new Request("http://localhost/api/trpc/system.info"),
    });
    const info = await caller.system.info();
    expect(info).toMatchObject({
      name: "Cloud AI Workspaces",
      version: "9.8.7",
      database: { status: "ok", detail: "" },
    });
    expect(info.installedAt).toBeInstanceOf(Date);
  });
});
