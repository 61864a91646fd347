import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rateLimits } from "../../db/schema.ts";
import { AppError } from "../errors.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { createApiRateLimiter, createAuthRateLimiter } from "./request-guards.ts";

// The limiters in-process over a real database: the rules of the two API budgets, the /auth
// refusal, and that a large budget reserves points in leases rather than a statement a call.

describe("the rate limiters", () => {
  let database: TestDatabase;
  let caller = 0;
  const newCaller = () => `caller-${++caller}`;
  const counted = async (key: string) => {
    const [row] = await database.db.select().from(rateLimits).where(eq(rateLimits.key, key));
    return row?.points ?? 0;
  };

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it("does not spend the user's budget on calls the caller's budget refused", async () => {
    const limit = createApiRateLimiter(database.db, { perCaller: 3, perUser: 5 });
    const [script, browser, userId] = [newCaller(), newCaller(), "user-1"];
    for (let call = 0; call < 3; call++)
      expect(await limit({ caller: script, userId }, 1)).toBe(undefined);
    for (let call = 0; call < 3; call++)
      expect(await limit({ caller: script, userId }, 1)).toMatchObject({ budget: "caller" });
    // The user has spent 3 of 5: the refused calls did not count.
    expect(await limit({ caller: browser, userId }, 1)).toBeUndefined();
    expect(await limit({ caller: browser, userId }, 1)).toBeUndefined();
    expect(await limit({ caller: browser, userId }, 1)).toMatchObject({ budget: "user" });
  });

  it("says how long to wait, a whole number of seconds of at least 1", async () => {
    const limit = createApiRateLimiter(database.db, { perCaller: 2, perUser: 100 });
    const key = newCaller();
    await limit({ caller: key }, 2);
    const refusal = await limit({ caller: key }, 1);
    expect(Number.isInteger(refusal?.retryAfterSeconds)).toBe(true);
    expect(refusal?.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(refusal?.retryAfterSeconds).toBeLessThanOrEqual(60);
  });

  it("reserves a large budget in leases of 5 %: 50 concurrent calls, two statements", async () => {
    const limit = createApiRateLimiter(database.db, { perCaller: 600, perUser: 2400 });
    const key = newCaller();
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => limit({ caller: key, userId: "user-2" }, 1)),
    );
    expect(answers.every((answer) => answer === undefined)).toBe(true);
    // Leases of 30: one reservation serves 30 calls, the next the other 20.
    expect(await counted(`api:${key}`)).toBe(60);
    expect(await counted("api-user:user-2")).toBe(120);
  });

  it("refuses the /auth request past the budget with TOO_MANY_REQUESTS and the wait", async () => {
    const limit = createAuthRateLimiter(database.db, 3);
    for (let request = 0; request < 3; request++) await limit("192.0.2.1");
    const refusal = await limit("192.0.2.1").catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(AppError);
    expect(refusal).toMatchObject({ code: "TOO_MANY_REQUESTS" });
    expect((refusal as Error).message).toMatch(/Wait \d+ seconds and try again/);
    await limit("192.0.2.2");
  });
});
