import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { signInOverHttp } from "../testing/test-sign-in.ts";
import { startMcpHarness, type McpHarness } from "./mcp-test-kit.ts";

// SPEC §14: who gets into /mcp and how much they may send, over real HTTP: API tokens only (a
// browser's cookie is refused even from our own origin), the body limit and the per-token
// rate limit of /api/trpc, and Origin checked as MCP asks.

let database: TestDatabase;
let mcp: McpHarness;
let limited: McpHarness;
const maxBodyBytes = 4096;

beforeAll(async () => {
  database = await createTestDatabase();
  mcp = await startMcpHarness(database, "alice", { API_MAX_BODY_BYTES: maxBodyBytes });
  limited = await startMcpHarness(database, "bob", { API_RATE_LIMIT_PER_MINUTE: 4 });
});
afterAll(async () => {
  await mcp?.close();
  await limited?.close();
  await database?.drop();
});

const listTools = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" });

function post(baseUrl: string, headers: Record<string, string>, body = listTools) {
  return fetch(`${baseUrl}/mcp`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...headers,
    },
    body,
  });
}

const messageOf = async (response: Response) =>
  ((await response.json()) as { error: { message: string } }).error.message;

describe("/mcp access", () => {
  it("refuses a request without a token, with a bad token or with a session cookie", async () => {
    const cookie = await signInOverHttp(mcp.web.baseUrl, "cookie-user");
    const ownOrigin = new URL(mcp.context.env.PUBLIC_URL).origin;
    const attempts: Array<[Record<string, string>, RegExp]> = [
      [{}, /Send an API token as `Authorization: Bearer <token>`/],
      [{ authorization: "Bearer cawt_not-a-token" }, /API token is unknown, revoked or expired/],
      [{ cookie }, /does not accept browser sign-in cookies/],
      [{ cookie, origin: ownOrigin }, /does not accept browser sign-in cookies/],
    ];
    for (const [headers, message] of attempts) {
      const response = await post(mcp.web.baseUrl, headers);
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toMatch(/^Bearer /);
      expect(await messageOf(response)).toMatch(message);
    }
    // The same cookie does work on the API: it is a live session, refused by /mcp alone.
    const me = await fetch(`${mcp.web.baseUrl}/api/trpc/auth.me`, { headers: { cookie } });
    expect(me.status).toBe(200);
  });

  it("lets the token in, refuses a foreign Origin and answers GET with 405", async () => {
    const authorization = `Bearer ${mcp.token}`;
    expect((await post(mcp.web.baseUrl, { authorization })).status).toBe(200);
    const foreign = await post(mcp.web.baseUrl, { authorization, origin: "https://evil.example" });
    expect(foreign.status).toBe(403);
    expect(await messageOf(foreign)).toContain("Cross-site request refused");
    const get = await fetch(`${mcp.web.baseUrl}/mcp`, { headers: { authorization } });
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
  });

  it("refuses a body over API_MAX_BODY_BYTES, declared or streamed", async () => {
    const authorization = `Bearer ${mcp.token}`;
    const big = JSON.stringify({
      jsonrpc: "2.0",
      id: 2,
      method: "tools/call",
      params: { name: "set_secret", arguments: { name: "BIG", value: "x".repeat(maxBodyBytes) } },
    });
    const declared = await post(mcp.web.baseUrl, { authorization }, big);
    expect(declared.status).toBe(413);
    expect(await messageOf(declared)).toContain("API_MAX_BODY_BYTES");
    const streamed = await fetch(`${mcp.web.baseUrl}/mcp`, {
      method: "POST",
      headers: {
        authorization,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
      },
      body: new Blob([big]).stream(),
      duplex: "half",
    } as RequestInit);
    expect(streamed.status).toBe(413);
  });

  it("spends the token's per-minute budget, one point per message", async () => {
    const authorization = `Bearer ${limited.token}`;
    const batch = JSON.stringify([1, 2, 3].map((id) => ({ jsonrpc: "2.0", id, method: "ping" })));
    expect((await post(limited.web.baseUrl, { authorization }, batch)).status).toBe(200);
    expect((await post(limited.web.baseUrl, { authorization })).status).toBe(200);
    const refused = await post(limited.web.baseUrl, { authorization });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await messageOf(refused)).toContain("API_RATE_LIMIT_PER_MINUTE");
  });
});
