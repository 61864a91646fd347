import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestLoadContext } from "../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { startTestWebServer, type TestWebServer } from "../testing/test-web-server.ts";

// HSTS and the Content-Security-Policy headers of the real web server (that Chromium enforces
// the page policy is proven in e2e/content-security-policy.spec.ts).

const noGitHub = { GITHUB_URL: "http://127.0.0.1:9", GITHUB_API_URL: "http://127.0.0.1:9" };
let database: TestDatabase;
let plain: TestWebServer;
let behindTls: TestWebServer;

beforeAll(async () => {
  database = await createTestDatabase();
  const start = async (settings: Record<string, string>) =>
    startTestWebServer(await createTestLoadContext(database, {}, { ...noGitHub, ...settings }));
  [plain, behindTls] = await Promise.all([
    start({}),
    start({ PUBLIC_URL: "https://caw.example.com" }),
  ]);
});
afterAll(async () => {
  await Promise.all([plain?.close(), behindTls?.close()]);
  await database?.drop();
});

const paths = ["/", "/healthz", "/api/trpc/system.info", "/agent/version"];

describe("Strict-Transport-Security", () => {
  it("is on every response when PUBLIC_URL is https", async () => {
    for (const path of paths) {
      const response = await fetch(`${behindTls.baseUrl}${path}`);
      expect(response.headers.get("strict-transport-security"), path).toBe(
        "max-age=31536000; includeSubDomains",
      );
    }
  });

  it("is absent when PUBLIC_URL is http (it would pin a scheme the install does not serve)", async () => {
    for (const path of paths) {
      const response = await fetch(`${plain.baseUrl}${path}`);
      expect(response.headers.get("strict-transport-security"), path).toBeNull();
    }
  });
});

describe("Content-Security-Policy", () => {
  const nonceOf = (policy: string) => /'nonce-([^']+)'/.exec(policy)?.[1];

  it("gives a page a fresh nonce that every inline script of it carries", async () => {
    const [first, second] = await Promise.all([fetch(plain.baseUrl), fetch(plain.baseUrl)]);
    const policy = first.headers.get("content-security-policy")!;
    const scriptSrc = policy
      .split(";")
      .find((directive) => directive.trim().startsWith("script-src"))!;
    expect(scriptSrc).not.toContain("unsafe-inline");
    expect(policy).toContain("frame-ancestors 'none'");
    expect(policy).toContain("object-src 'none'");
    const nonce = nonceOf(policy);
    expect(nonce).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(nonceOf(second.headers.get("content-security-policy")!)).not.toBe(nonce);
    const scripts = (await first.text()).match(/<script\b[^>]*>/g) ?? [];
    expect(scripts.length).toBeGreaterThan(0);
    for (const script of scripts) expect(script).toContain(`nonce="${nonce}"`);
  });

  it("gives everything that is not a page a policy under which nothing runs", async () => {
    for (const path of ["/healthz", "/api/trpc/system.info"]) {
      const response = await fetch(`${plain.baseUrl}${path}`);
      expect(response.headers.get("content-security-policy"), path).toMatch(/^default-src 'none'/);
    }
  });
});
