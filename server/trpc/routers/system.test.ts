import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestLoadContext } from "../../testing/test-context.ts";
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
      ...(await createTestLoadContext(database)),
      version: "9.8.7",
      request: new Request("http://localhost/api/trpc/system.info"),
      auth: { user: null, via: null, sessionId: null, cookies: [] },
    });
    const info = await caller.system.info();
    expect(info).toMatchObject({
      name: "Cloud AI Workspaces",
      version: "9.8.7",
      database: { status: "ok", detail: "" },
    });
    expect(info.installedAt).toBeInstanceOf(Date);
  });

  it("reads when the install was made once per database, not on every call", async () => {
    const caller = createCallerFactory(appRouter)({
      ...(await createTestLoadContext(database)),
      request: new Request("http://localhost/api/trpc/system.info"),
      auth: { user: null, via: null, sessionId: null, cookies: [] },
    });
    const { installedAt } = await caller.system.info();
    // Gone from the database (it never is in life): only a kept answer still has it.
    await database.sql.begin(async (sql) => {
      await sql`set local session_replication_role = replica`;
      await sql`delete from installation`;
    });
    expect((await caller.system.info()).installedAt).toEqual(installedAt);
  });
});
