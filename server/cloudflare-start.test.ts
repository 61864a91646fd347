import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeCloudflare, type FakeCloudflare } from "../e2e/fakes/cloudflare.ts";
import { findFreePort } from "./process/free-port.ts";
import { startNodeProgram, type RunningProgram } from "./testing/program.ts";
import { testEncryptionKeys } from "./testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "./testing/test-database.ts";

// The web program with DNS_PROVIDER=cloudflare checks the zone when it starts (ADR 0010): a
// BASE_DOMAIN whose workspace names no edge certificate covers stops it; a zone whose SSL/TLS
// mode is not Full (strict) is named in a warning and fails /readyz.

let database: TestDatabase;
let cloudflare: FakeCloudflare;
const running: RunningProgram[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  cloudflare = await startFakeCloudflare({ zoneName: "example.test" });
});
afterAll(async () => {
  await Promise.all(running.map((program) => program.stop("SIGKILL")));
  await cloudflare?.close();
  await database?.drop();
});

async function startWeb(baseDomain: string) {
  const port = await findFreePort();
  const program = startNodeProgram("server/main.ts", [], {
    DATABASE_URL: database.url,
    ENCRYPTION_KEYS: testEncryptionKeys(),
    HOST: "127.0.0.1",
    PORT: String(port),
    GITHUB_URL: "http://127.0.0.1:9",
    GITHUB_API_URL: "http://127.0.0.1:9",
    GITHUB_CLIENT_ID: "test-client",
    GITHUB_CLIENT_SECRET: "test-secret",
    WORKSPACE_PROVIDER: "hetzner",
    DNS_PROVIDER: "cloudflare",
    BASE_DOMAIN: baseDomain,
    CLOUDFLARE_API_URL: cloudflare.url,
    CLOUDFLARE_API_TOKEN: cloudflare.token,
    CLOUDFLARE_ZONE_ID: cloudflare.zoneId,
  });
  running.push(program);
  return { program, readyz: () => fetch(`http://127.0.0.1:${port}/readyz`) };
}

// Each start is a fresh tsx program, a few seconds on a small machine.
describe("the web program with Cloudflare", { timeout: 120_000 }, () => {
  it("refuses to start with a BASE_DOMAIN two levels below the zone, saying why", async () => {
    const { program } = await startWeb("a.b.example.test");
    expect((await program.exited).code).toBe(78);
    expect(program.output()).toContain(
      "BASE_DOMAIN a.b.example.test is 2 levels below the zone example.test",
    );
    expect(program.output()).not.toContain(cloudflare.token);
  });

  it("refuses one level below the zone until an edge certificate covers *.BASE_DOMAIN", async () => {
    const refused = await startWeb("dev.example.test");
    expect((await refused.program.exited).code).toBe(78);
    expect(refused.program.output()).toContain(
      "order an Advanced Certificate for *.dev.example.test",
    );
    cloudflare.tls.certificatePacks.push({
      id: "advanced",
      hosts: ["example.test", "*.dev.example.test"],
      status: "active",
      type: "advanced",
    });
    const started = await startWeb("dev.example.test");
    await started.program.waitForLog("web server listening");
    const readiness = await started.readyz();
    expect(readiness.status).toBe(200);
    expect(await readiness.json()).toMatchObject({
      ready: true,
      cloudflare: { status: "ok", sslMode: "strict" },
    });
  });

  it("names a Flexible SSL/TLS mode at start and fails /readyz until it is Full (strict)", async () => {
    cloudflare.tls.sslMode = "flexible";
    const { program, readyz } = await startWeb("example.test");
    const warning = await program.waitForLog(/SSL\/TLS encryption mode is Flexible/);
    expect(warning.level).toBe("warn");
    expect(warning.msg).toContain("answers 521");
    expect(warning.msg).toContain("Full (strict)");
    await program.waitForLog("web server listening");
    const readiness = await readyz();
    expect(readiness.status).toBe(503);
    const body = (await readiness.json()) as { cloudflare: unknown; reason: string };
    expect(body.cloudflare).toMatchObject({ status: "failing", sslMode: "flexible" });
    expect(body.reason).toContain("SSL/TLS → Overview → Configure → Full (strict)");
  });
});
