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
});
