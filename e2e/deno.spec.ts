import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findFreePort } from "../server/process/free-port.ts";
import { startNodeProgram, type RunningProgram } from "../server/testing/program.ts";
import { testEncryptionKeys } from "../server/testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../server/testing/test-database.ts";

// SPEC §2: the control plane runs on Deno 2 too. This is `npm run start:deno` for the web
// program alone: the launcher runs server/main.ts, unchanged, under the deno binary from the
// npm `deno` package.
describe("the web program under Deno", () => {
  let database: TestDatabase;
  let web: RunningProgram;
  let baseUrl: string;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), "caw-deno-"));
    database = await createTestDatabase();
    const port = await findFreePort();
    baseUrl = `http://127.0.0.1:${port}`;
    web = startNodeProgram("server/start.ts", ["web", "--deno"], {
      DATABASE_URL: database.url,
      PORT: String(port),
      ENCRYPTION_KEYS: testEncryptionKeys(),
      DATA_DIR: dataDir,
    });
    await web.waitForLog("web server listening");
  });
  afterAll(async () => {
    await web?.stop("SIGTERM");
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("answers /healthz and /readyz", async () => {
    expect((await fetch(`${baseUrl}/healthz`)).status).toBe(200);
    const ready = await fetch(`${baseUrl}/readyz`);
    expect(await ready.json()).toMatchObject({ ready: true });
  });

  it("renders the home page and serves tRPC", async () => {
    expect(await (await fetch(`${baseUrl}/`)).text()).toContain("Cloud AI Workspaces");
    const info = (await (await fetch(`${baseUrl}/api/trpc/system.info`)).json()) as {
      result: { data: { json: { database: { status: string } } } };
    };
    expect(info.result.data.json.database.status).toBe("ok");
  });

  it("runs under Deno and stops cleanly on SIGTERM", async () => {
    const listening = await web.waitForLog("web server listening");
    expect(await web.stop("SIGTERM")).toEqual({ code: 0, signal: null });
    expect(web.output()).toContain("web server stopped");
    expect(listening.runtime).toMatch(/^deno 2\./);
    expect(web.output()).not.toContain('"service":"worker"');
  });
});
