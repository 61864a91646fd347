import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestLoadContext } from "../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { startTestWebServer, type TestWebServer } from "../testing/test-web-server.ts";

// The /auth rate limit (and the signed-out tRPC one) behind a TLS proxy, against the real web
// server. The test plays the proxy: it connects from 127.0.0.1 and appends the address of the
// client it forwards for to X-Forwarded-For, as Caddy and nginx do.

const authPerMinute = 3;
// No GitHub is reached: /auth/github only redirects to it.
const noGitHub = { GITHUB_URL: "http://127.0.0.1:9", GITHUB_API_URL: "http://127.0.0.1:9" };

let database: TestDatabase;
const servers: TestWebServer[] = [];

async function startServer(settings: Record<string, string>) {
  const context = await createTestLoadContext(database, {}, { ...noGitHub, ...settings });
  const server = await startTestWebServer(context, context.logger, {
    authRequestsPerMinute: authPerMinute,
  });
  servers.push(server);
  return server;
}

const signInFrom = (server: TestWebServer, forwardedFor: string) =>
  fetch(`${server.baseUrl}/auth/github`, {
    headers: { "x-forwarded-for": forwardedFor },
    redirect: "manual",
  });

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
  await database?.drop();
});

describe("TRUST_PROXY off (the default)", () => {
  it("ignores X-Forwarded-For: spoofed addresses share the socket's one bucket", async () => {
    const server = await startServer({});
    for (const spoofed of ["198.51.100.1", "198.51.100.2", "198.51.100.3"])
      expect((await signInFrom(server, spoofed)).status).toBe(302);
    const refused = await signInFrom(server, "198.51.100.4");
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  });
});

describe.each([
  ["a hop count", "1"],
  ["the proxy's CIDR", "127.0.0.0/8"],
])("TRUST_PROXY set to %s", (_name, setting) => {
  // Each case has clients of its own: the buckets live in the one database.
  const [alice, bob] =
    setting === "1" ? ["203.0.113.10", "203.0.113.20"] : ["203.0.113.30", "203.0.113.40"];
  let server: TestWebServer;
  beforeAll(async () => {
    server = await startServer({ TRUST_PROXY: setting, API_RATE_LIMIT_PER_MINUTE: "2" });
  });

  it("gives two clients behind the proxy separate /auth buckets", async () => {
    for (let index = 0; index < authPerMinute; index++)
      expect((await signInFrom(server, alice)).status).toBe(302);
    expect((await signInFrom(server, alice)).status).toBe(429);
    expect((await signInFrom(server, bob)).status).toBe(302);
  });

  it("does not let a spoofed leftmost entry pick a fresh bucket", async () => {
    // Alice sent "X-Forwarded-For: 192.0.2.77"; the proxy appended her real address.
    for (const spoofed of ["192.0.2.77", "192.0.2.78", bob])
      expect((await signInFrom(server, `${spoofed}, ${alice}`)).status).toBe(429);
  });

  it("keys the signed-out tRPC limit on the client behind the proxy too", async () => {
    const query = (client: string) =>
      fetch(`${server.baseUrl}/api/trpc/system.info`, { headers: { "x-forwarded-for": client } });
    const carol = setting === "1" ? "192.0.2.10" : "192.0.2.20";
    const dave = setting === "1" ? "192.0.2.11" : "192.0.2.21";
    expect((await query(carol)).status).toBe(200);
    expect((await query(`192.0.2.99, ${carol}`)).status).toBe(200);
    expect((await query(carol)).status).toBe(429);
    expect((await query(dave)).status).toBe(200);
  });
});

describe("an IPv6 client behind the proxy", () => {
  it("cannot earn fresh /auth buckets by rotating through its /64, nor by adding a port", async () => {
    const server = await startServer({ TRUST_PROXY: "127.0.0.1" });
    const rotating = ["2001:db8:7:7::1", "2001:db8:7:7::2", "[2001:db8:7:7:ffff::3]:443"];
    for (const address of rotating) expect((await signInFrom(server, address)).status).toBe(302);
    for (const address of ["2001:db8:7:7:abcd::9", "[2001:db8:7:7::10]:8443"])
      expect((await signInFrom(server, address)).status).toBe(429);
    // The neighbouring /64 is another subscriber.
    expect((await signInFrom(server, "2001:db8:7:8::1")).status).toBe(302);
  });

  it("and an IPv4 client written as ::ffff: shares its IPv4 bucket", async () => {
    const server = await startServer({ TRUST_PROXY: "127.0.0.1" });
    for (let index = 0; index < authPerMinute; index++)
      expect((await signInFrom(server, "198.51.100.200:1234")).status).toBe(302);
    expect((await signInFrom(server, "::ffff:198.51.100.200")).status).toBe(429);
  });
});
