import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findFreePort } from "./process/free-port.ts";
import { startNodeProgram } from "./testing/program.ts";
import { testEncryptionKeys } from "./testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "./testing/test-database.ts";

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntilGone(pid: number): Promise<boolean> {
  for (let attempt = 0; attempt < 100 && isRunning(pid); attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return !isRunning(pid);
}

describe("bad settings", () => {
  it.each(["server/start.ts", "server/main.ts", "server/worker/main.ts"])(
    "%s refuses PORT=abc with a message naming it",
    async (entry) => {
      const program = startNodeProgram(entry, [], {
        PORT: "abc",
        DATABASE_URL: "postgres://x@127.0.0.1:1/x",
      });
      const { code } = await program.exited;
      expect(code).toBe(78);
      expect(program.output()).toContain(
        'PORT: expected a whole number between 0 and 65535 (got "abc")',
      );
    },
  );

  it("the web program alone explains that it needs DATABASE_URL", async () => {
    const program = startNodeProgram("server/main.ts", [], { DATABASE_URL: "" });
    expect((await program.exited).code).toBe(78);
    expect(program.output()).toContain(
      "DATABASE_URL: not set. `npm start` starts an embedded PostgreSQL",
    );
  });
});

describe("npm start with DATABASE_URL", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase({ migrated: false });
  });
  afterAll(() => database.drop());

  it("migrates, runs web and worker, and stops both on Ctrl-C", async () => {
    const port = await findFreePort();
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "caw-start-"));
    const launcher = startNodeProgram("server/start.ts", [], {
      DATABASE_URL: database.url,
      PORT: String(port),
      DATA_DIR: dataDir,
      ENCRYPTION_KEYS: testEncryptionKeys(),
    });
    const web = await launcher.waitForLog("web server listening");
    const worker = await launcher.waitForLog("worker ready");
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(ready.status).toBe(200);
    expect(await launcher.stop("SIGINT")).toEqual({ code: 0, signal: null });
    expect(await waitUntilGone(web.pid as number)).toBe(true);
    expect(await waitUntilGone(worker.pid as number)).toBe(true);
    expect(launcher.output()).not.toContain(database.url);
    await rm(dataDir, { recursive: true, force: true });
  });
});

describe("the launcher with only the worker (server/start.ts worker)", () => {
  it("runs the worker alone and drains it on SIGTERM", async () => {
    const database = await createTestDatabase();
    try {
      const launcher = startNodeProgram("server/start.ts", ["worker"], {
        DATABASE_URL: database.url,
        ENCRYPTION_KEYS: testEncryptionKeys(),
      });
      const worker = await launcher.waitForLog("worker ready");
      expect(await launcher.stop("SIGTERM")).toEqual({ code: 0, signal: null });
      expect(launcher.output()).toContain("worker stopped");
      expect(launcher.output()).not.toContain("web server listening");
      expect(await waitUntilGone(worker.pid as number)).toBe(true);
    } finally {
      await database.drop();
    }
  });
});

describe("npm start without DATABASE_URL", () => {
  let privateFolder: string;
  let relocatedData: string | undefined;
  beforeAll(async () => {
    // mkdtemp makes a folder only its owner can enter: the trap of a root checkout.
    privateFolder = await mkdtemp(path.join(os.tmpdir(), "caw-private-"));
  });
  afterAll(async () => {
    await rm(privateFolder, { recursive: true, force: true });
    if (relocatedData) await rm(path.dirname(relocatedData), { recursive: true, force: true });
  });

  it("starts the embedded PostgreSQL even under a private folder and stops it on exit", async () => {
    const port = await findFreePort();
    const dataDir = path.join(privateFolder, "data");
    const launcher = startNodeProgram("server/start.ts", [], {
      DATABASE_URL: "",
      DATA_DIR: dataDir,
      PORT: String(port),
    });
    const running = await launcher.waitForLog("embedded PostgreSQL is running");
    const dataFolder = running.dataFolder as string;
    // As root, the postgres user cannot enter the private folder, so the cluster moves out.
    if (!dataFolder.startsWith(dataDir)) relocatedData = dataFolder;
    await launcher.waitForLog("web server listening");
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    const postmaster = await readFile(path.join(dataFolder, "postmaster.pid"), "utf8");
    const postgresPid = Number(postmaster.split("\n")[0]);
    expect(isRunning(postgresPid)).toBe(true);

    expect(await launcher.stop("SIGINT")).toEqual({ code: 0, signal: null });
    expect(await waitUntilGone(postgresPid)).toBe(true);
    const password = (
      await readFile(path.join(dataDir, "secrets", "postgres-password"), "utf8")
    ).trim();
    expect(launcher.output()).not.toContain(password);
  });
});
