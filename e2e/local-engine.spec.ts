import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitForWorkspace, type Client } from "../sdk/index.ts";
import { signUpOverHttp } from "./support/workspace-api.ts";
import { createDb, type DatabaseHandle } from "../db/client.ts";
import {
  startEmbeddedPostgres,
  type EmbeddedPostgres,
} from "../server/database/embedded-postgres.ts";
import { createLogger } from "../server/logger.ts";
import { findFreePort } from "../server/process/free-port.ts";
import { startNodeProgram, type RunningProgram } from "../server/testing/program.ts";
import { testEncryptionKeys } from "../server/testing/test-context.ts";

// The one-machine mode as `npm start` runs it (launcher, web, worker, local provider, local
// DNS), on a PostgreSQL of its own that the test restarts while everything runs.

let postgres: EmbeddedPostgres;
let launcher: RunningProgram;
let database: DatabaseHandle;
let dataDir: string;
let baseUrl: string;
let api: Client;

const logger = createLogger({ level: "silent", service: "test" });

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), "caw-local-engine-"));
  // Passable by the workspaces' own OS users when run as root (mkdtemp makes 0700).
  await chmod(dataDir, 0o711);
  postgres = await startEmbeddedPostgres({
    dataDir: path.join(dataDir, "cluster"),
    logger,
    durable: false,
  });
  const port = await findFreePort();
  baseUrl = `http://localhost:${port}`;
  const encryptionKeys = testEncryptionKeys();
  launcher = startNodeProgram("server/start.ts", [], {
    DATABASE_URL: postgres.url,
    PORT: String(port),
    PUBLIC_URL: baseUrl,
    DATA_DIR: path.join(dataDir, "data"),
    ENCRYPTION_KEYS: encryptionKeys,
  });
  await launcher.waitForLog("web server listening");
  await launcher.waitForLog("worker ready");
  database = createDb(postgres.url, { max: 2 });
  // Through the launcher's own GitHub stand-in: workspaces.create asks it about the repository.
  api = await signUpOverHttp(baseUrl, "local-dev");
});

afterAll(async () => {
  // Deleting the workspaces stops their agent processes; the launcher then drains.
  for (const workspace of (await api?.workspaces.list.query().catch(() => [])) ?? [])
    await api.workspaces.delete.mutate({ id: workspace.id }).catch(() => {});
  await waitUntil(
    async () => (await api.workspaces.list.query()).length === 0,
    "workspaces to be deleted",
  ).catch(() => {});
  await launcher?.stop("SIGTERM");
  await database?.close();
  await postgres?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

async function waitUntil(condition: () => Promise<boolean>, what: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition().catch(() => false)) return;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}:\n${launcher.output().slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const waitForState = (id: string, state: "running" | "stopped") =>
  waitForWorkspace(api, id, state, { timeoutMs: 60_000, intervalMs: 200 });
const create = (name: string) =>
  api.workspaces.create.mutate({ name, repository: "stand-in/sample", branch: "main" });

describe("one-machine engine", () => {
  it("runs a workspace as a local agent process, and stops and starts it", async () => {
    const { id } = await create("local");
    await waitForState(id, "running");
    const workspace = await api.workspaces.get.query({ id });
    expect(workspace.agentUrl).toMatch(new RegExp(`^http://ws-${id}\\.localhost:\\d+$`));
    // Node cannot resolve *.localhost (browsers can): ask the agent's port on 127.0.0.1.
    const agentPort = new URL(workspace.agentUrl!).port;
    const health = await fetch(`http://127.0.0.1:${agentPort}/health`);
    expect(await health.json()).toMatchObject({ status: "ok" });

    await api.workspaces.stop.mutate({ id });
    await waitForState(id, "stopped");
    await expect(fetch(`http://127.0.0.1:${agentPort}/health`)).rejects.toThrow();
    await api.workspaces.start.mutate({ id });
    await waitForState(id, "running");
  });

  it("recovers web and worker from a PostgreSQL restart without losing a job", async () => {
    const { id: queuedBefore } = await create("before-restart");
    await postgres.stop();
    const down = await fetch(`${baseUrl}/readyz`);
    expect(down.status).toBe(503);
    postgres = await startEmbeddedPostgres({
      dataDir: path.join(dataDir, "cluster"),
      logger,
      durable: false,
      port: Number(new URL(postgres.url).port),
    });
    await waitUntil(
      async () => (await fetch(`${baseUrl}/readyz`)).status === 200,
      "/readyz to answer 200",
    );
    const { id: queuedAfter } = await create("after-restart");
    await waitForState(queuedBefore, "running");
    await waitForState(queuedAfter, "running");
    expect(launcher.child.exitCode).toBeNull();
  });
});
