import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuthenticatedUser } from "../auth/request-auth.ts";
import { parseEnv } from "../env.ts";
import type { AppLoadContextValue } from "./load-context.ts";
import { createApiToken } from "../services/api-tokens.ts";
import { createTestLoadContext } from "../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { startSignInHarness, type SignInHarness } from "../testing/test-sign-in.ts";
import { createTestUser } from "../testing/test-users.ts";
import { startTestWebServer, type TestWebServer } from "../testing/test-web-server.ts";

// API_RATE_LIMIT_PER_MINUTE against real web servers: two of them over one database share
// each caller's budget (it is counted in Postgres), and every caller has a budget of its own;
// API_USER_RATE_LIMIT_PER_MINUTE caps what all of one user's callers spend together.

const perMinute = 5;

const call = (base: string, headers: Record<string, string> = {}, procedure = "system.info") =>
  fetch(`${base}/api/trpc/${procedure}`, { headers });

async function expectLimited(response: Response, setting = "API_RATE_LIMIT_PER_MINUTE") {
  expect(response.status).toBe(429);
  expect(Number(response.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  const text = await response.text();
  expect(text).toContain(`(${setting})`);
  expect(text).toMatch(/Wait \d+ seconds/);
}

async function newTokenOf(database: TestDatabase, user: AuthenticatedUser, name: string) {
  const owner = { userId: user.id, auditSubject: user.auditSubject };
  const { token } = await createApiToken(database.db, owner, { name }, { limit: 20 });
  return `Bearer ${token}`;
}

describe("the per-caller API rate limit", () => {
  let database: TestDatabase;
  let context: AppLoadContextValue;
  let first: TestWebServer;
  let second: TestWebServer;
  let user: AuthenticatedUser;
  const newToken = (name: string) => newTokenOf(database, user, name);

  beforeAll(async () => {
    database = await createTestDatabase();
    // Two web servers, each with its own limiter over the same database.
    context = await createTestLoadContext(database, { API_RATE_LIMIT_PER_MINUTE: perMinute });
    const other = await createTestLoadContext(database, { API_RATE_LIMIT_PER_MINUTE: perMinute });
    [first, second] = await Promise.all([startTestWebServer(context), startTestWebServer(other)]);
    user = await createTestUser(context, "rate-limited");
  });
  afterAll(async () => {
    await Promise.all([first?.close(), second?.close()]);
    await database?.drop();
  });

  it("answers 429 with Retry-After once a token's calls, over both servers, pass the limit", async () => {
    const authorization = await newToken("script");
    for (const base of [
      first.baseUrl,
      second.baseUrl,
      first.baseUrl,
      second.baseUrl,
      first.baseUrl,
    ])
      expect((await call(base, { authorization })).status).toBe(200);
    await expectLimited(await call(second.baseUrl, { authorization }));
    await expectLimited(await call(first.baseUrl, { authorization }));
    // Another token of the same user has its own budget.
    expect((await call(first.baseUrl, { authorization: await newToken("other") })).status).toBe(
      200,
    );
  });

  it("counts every call of a batch, and refuses a batch that does not fit", async () => {
    const authorization = await newToken("batcher");
    const batch = (calls: number) =>
      call(
        first.baseUrl,
        { authorization },
        `${Array(calls).fill("system.info").join(",")}?batch=1`,
      );
    expect((await batch(4)).status).toBe(200);
    await expectLimited(await batch(2));
    expect((await call(second.baseUrl, { authorization })).status).toBe(429);
  });

  it("limits signed-out callers by their address", async () => {
    // Every signed-out test call comes from 127.0.0.1: one budget for all of them.
    let status = 200;
    for (let index = 0; index <= perMinute && status === 200; index++)
      status = (await call(index % 2 ? first.baseUrl : second.baseUrl)).status;
    expect(status).toBe(429);
    await expectLimited(await call(first.baseUrl));
  });
});

describe("the rate limit of a signed-in browser", () => {
  let harness: SignInHarness;
  beforeAll(async () => {
    harness = await startSignInHarness({ API_RATE_LIMIT_PER_MINUTE: perMinute });
  });
  afterAll(async () => {
    await harness?.close();
  });

  it("is per user: one user's calls do not spend another's", async () => {
    const [ada, bob] = [await harness.signIn("ada"), await harness.signIn("bob")];
    for (let index = 0; index < perMinute; index++)
      expect((await call(harness.baseUrl, { cookie: ada }, "auth.me")).status).toBe(200);
    await expectLimited(await call(harness.baseUrl, { cookie: ada }, "auth.me"));
    expect((await call(harness.baseUrl, { cookie: bob }, "auth.me")).status).toBe(200);
  });
});

describe("the per-user API rate limit", () => {
  const perUser = 8;
  let database: TestDatabase;
  let first: TestWebServer;
  let second: TestWebServer;
  let context: AppLoadContextValue;

  beforeAll(async () => {
    database = await createTestDatabase();
    const settings = {
      API_RATE_LIMIT_PER_MINUTE: String(perMinute),
      API_USER_RATE_LIMIT_PER_MINUTE: String(perUser),
    };
    context = await createTestLoadContext(database, {}, settings);
    const other = await createTestLoadContext(database, {}, settings);
    [first, second] = await Promise.all([startTestWebServer(context), startTestWebServer(other)]);
  });
  afterAll(async () => {
    await Promise.all([first?.close(), second?.close()]);
    await database?.drop();
  });

  it("counts all of a user's tokens together, each still under its own budget", async () => {
    const user = await createTestUser(context, "many-tokens");
    const [one, two, three] = await Promise.all(
      ["one", "two", "three"].map((name) => newTokenOf(database, user, name)),
    );
    // 4 + 4 calls: neither token reaches its own 5, but together they spend the user's 8.
    for (let index = 0; index < 4; index++) {
      expect((await call(first.baseUrl, { authorization: one! })).status).toBe(200);
      expect((await call(second.baseUrl, { authorization: two! })).status).toBe(200);
    }
    await expectLimited(
      await call(first.baseUrl, { authorization: one! }),
      "API_USER_RATE_LIMIT_PER_MINUTE",
    );
    // A fresh token of the same user does not open a fresh budget.
    await expectLimited(
      await call(second.baseUrl, { authorization: three! }),
      "API_USER_RATE_LIMIT_PER_MINUTE",
    );
    // Another user's total is their own.
    const other = await newTokenOf(database, await createTestUser(context, "neighbour"), "n");
    expect((await call(first.baseUrl, { authorization: other })).status).toBe(200);
  });

  it("still gives each token its own smaller budget inside the total", async () => {
    const user = await createTestUser(context, "one-script");
    const script = await newTokenOf(database, user, "script");
    for (let index = 0; index < perMinute; index++)
      expect((await call(first.baseUrl, { authorization: script })).status).toBe(200);
    await expectLimited(await call(first.baseUrl, { authorization: script }));
    // The refused calls did not spend the user's total: another token has the rest of it.
    const sibling = await newTokenOf(database, user, "sibling");
    for (let index = perMinute; index < perUser; index++)
      expect((await call(second.baseUrl, { authorization: sibling })).status).toBe(200);
    await expectLimited(
      await call(second.baseUrl, { authorization: sibling }),
      "API_USER_RATE_LIMIT_PER_MINUTE",
    );
  });
});

describe("API_USER_RATE_LIMIT_PER_MINUTE", () => {
  it("defaults to four times the per-caller limit", () => {
    expect(parseEnv({}).API_USER_RATE_LIMIT_PER_MINUTE).toBe(2400);
    expect(parseEnv({ API_RATE_LIMIT_PER_MINUTE: "50" }).API_USER_RATE_LIMIT_PER_MINUTE).toBe(200);
    expect(parseEnv({ API_USER_RATE_LIMIT_PER_MINUTE: "70" }).API_USER_RATE_LIMIT_PER_MINUTE).toBe(
      70,
    );
  });
});
