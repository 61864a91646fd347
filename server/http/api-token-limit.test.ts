import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuthenticatedUser } from "../auth/request-auth.ts";
import {
  apiTokenCreationsPerDay,
  createApiToken,
  listApiTokens,
  revokeApiToken,
} from "../services/api-tokens.ts";
import type { AppLoadContextValue } from "./load-context.ts";
import { createTestLoadContext } from "../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { createTestUser } from "../testing/test-users.ts";
import { startTestWebServer, type TestWebServer } from "../testing/test-web-server.ts";

// API_TOKEN_LIMIT over real HTTP: a user cannot hold more live API tokens than the cap, not
// even with one batch whose calls all run at once; nor churn through tokens without end by
// revoking each one (the daily creation cap).

const cap = 3;
let database: TestDatabase;
let web: TestWebServer;
let user: AuthenticatedUser;
let authorization: string;
const owner = () => ({ userId: user.id, auditSubject: user.auditSubject });

let context: AppLoadContextValue;

beforeAll(async () => {
  database = await createTestDatabase();
  context = await createTestLoadContext(database, {}, { API_TOKEN_LIMIT: String(cap) });
  web = await startTestWebServer(context);
  user = await createTestUser(context, "token-hoarder");
  authorization = `Bearer ${(await createApiToken(database.db, owner(), { name: "caller" }, { limit: cap })).token}`;
});
afterAll(async () => {
  await web?.close();
  await database?.drop();
});

const liveTokens = async () =>
  (await listApiTokens(database.db, owner())).filter((token) => !token.revokedAt);

function batch(procedure: string, inputs: unknown[], bearer = authorization) {
  return fetch(`${web.baseUrl}/api/trpc/${inputs.map(() => procedure).join(",")}?batch=1`, {
    method: "POST",
    headers: { authorization: bearer, "content-type": "application/json" },
    body: JSON.stringify(Object.fromEntries(inputs.map((json, index) => [index, { json }]))),
  });
}

const createTokens = (names: string[], bearer?: string) =>
  batch(
    "tokens.create",
    names.map((name) => ({ name })),
    bearer,
  );

describe("API_TOKEN_LIMIT", () => {
  it("holds under batches of concurrent creates, and says to revoke one", async () => {
    const names = Array.from({ length: 15 }, (_, index) => `t${index}`);
    // Three batches at once: 45 creates racing for the two free places.
    const responses = await Promise.all([1, 2, 3].map(() => createTokens(names)));
    const answers = (await Promise.all(responses.map((response) => response.json()))).flat() as {
      error?: { json: { message: string } };
    }[];
    expect(await liveTokens()).toHaveLength(cap);
    const refusals = answers.filter((answer) => answer.error);
    expect(refusals).toHaveLength(answers.length - (cap - 1));
    expect(refusals[0]!.error!.json.message).toMatch(/API_TOKEN_LIMIT\). Revoke one/);
  });

  it("makes room when a token is revoked", async () => {
    const [spare] = (await liveTokens()).filter((token) => token.name !== "caller");
    expect((await createTokens(["f"])).status).toBe(412);
    await revokeApiToken(database.db, owner(), spare!.id);
    expect((await createTokens(["f"])).status).toBe(200);
    expect(await liveTokens()).toHaveLength(cap);
  });
});

describe("the daily cap on API token creations", () => {
  it("stops a create/revoke loop, saying when creating works again", async () => {
    const churner = await createTestUser(context, "token-churner");
    const bearer = `Bearer ${(await createApiToken(database.db, { userId: churner.id, auditSubject: churner.auditSubject }, { name: "caller" }, { limit: cap })).token}`;
    // Revoked tokens leave API_TOKEN_LIMIT: create two, revoke them, again and again.
    let created = 1;
    let refusal: { error?: { json: { message: string; data: { httpStatus: number } } } } = {};
    while (!refusal.error && created <= apiTokenCreationsPerDay) {
      const answers = (await (await createTokens(["a", "b"], bearer)).json()) as (typeof refusal & {
        result?: { data: { json: { id: string } } };
      })[];
      const ids = answers.flatMap((answer) => (answer.result ? [answer.result.data.json.id] : []));
      created += ids.length;
      refusal = answers.find((answer) => answer.error) ?? {};
      if (ids.length > 0)
        await batch(
          "tokens.revoke",
          ids.map((id) => ({ id })),
          bearer,
        );
    }
    expect(created).toBe(apiTokenCreationsPerDay);
    expect(refusal.error!.json.data.httpStatus).toBe(429);
    expect(refusal.error!.json.message).toMatch(
      /created 100 API tokens in the last 24 hours, .* create this one after \d{4}-\d\d-\d\dT/,
    );
    // Alone, the refusal is a 429 whose Retry-After says when the oldest creation leaves the day.
    const alone = await createTokens(["one-more"], bearer);
    expect(alone.status).toBe(429);
    expect(Number(alone.headers.get("retry-after"))).toBeGreaterThan(23 * 60 * 60);
    // The window is a day: once the first creations are older, there is room again.
    await database.sql`update api_tokens set created_at = now() - interval '25 hours'
      where id in (select id from api_tokens where user_id = ${churner.id} order by created_at limit 3)`;
    expect((await createTokens(["after"], bearer)).status).toBe(200);
    // Other users are not affected by the churner.
    expect((await createTokens(["neighbour"])).status).not.toBe(429);
  });
});
