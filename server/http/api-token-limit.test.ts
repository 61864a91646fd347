import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuthenticatedUser } from "../auth/request-auth.ts";
import { createApiToken, listApiTokens, revokeApiToken } from "../services/api-tokens.ts";
import { createTestLoadContext } from "../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { createTestUser } from "../testing/test-users.ts";
import { startTestWebServer, type TestWebServer } from "../testing/test-web-server.ts";

// API_TOKEN_LIMIT over real HTTP: a user cannot hold more live API tokens than the cap, not
// even with one batch whose calls all run at once.

const cap = 3;
let database: TestDatabase;
let web: TestWebServer;
let user: AuthenticatedUser;
let authorization: string;
const owner = () => ({ userId: user.id, auditSubject: user.auditSubject });

beforeAll(async () => {
  database = await createTestDatabase();
  const context = await createTestLoadContext(database, {}, { API_TOKEN_LIMIT: String(cap) });
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

function createTokens(names: string[]) {
  return fetch(`${web.baseUrl}/api/trpc/${names.map(() => "tokens.create").join(",")}?batch=1`, {
    method: "POST",
    headers: { authorization, "content-type": "application/json" },
    body: JSON.stringify(
      Object.fromEntries(names.map((name, index) => [index, { json: { name } }])),
    ),
  });
}

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
