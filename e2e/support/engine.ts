import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { eq } from "drizzle-orm";
import { workspaces, type WorkspaceState } from "../../db/schema.ts";
import type { AuthenticatedUser } from "../../server/auth/request-auth.ts";
import type { AppLoadContextValue } from "../../server/http/load-context.ts";
import { readVersion } from "../../server/process/version.ts";
import { startNodeProgram, type RunningProgram } from "../../server/testing/program.ts";
import { createTestLoadContext, testEncryptionKeys } from "../../server/testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../../server/testing/test-database.ts";
import { callerFor, createTestUser } from "../../server/testing/test-users.ts";
import { startTestWebServer, type TestWebServer } from "../../server/testing/test-web-server.ts";
import { startFakeCloudflare, type FakeCloudflare } from "../fakes/cloudflare.ts";
import { startFakeHetzner, type FakeHetzner } from "../fakes/hetzner.ts";

// The provisioning engine against fake Hetzner and Cloudflare: a test database, our real web
// server (for the agent callbacks), worker programs started on demand, and a signed-in user
// whose Hetzner token is saved. Tests play the agent through `agentFor`.

export type EngineHarness = Awaited<ReturnType<typeof startEngineHarness>>;

const alphanumeric = (length: number) =>
  randomBytes(length)
    .toString("base64")
    .replace(/[^A-Za-z0-9]/g, "")
    .padEnd(length, "x")
    .slice(0, length);

/**
 * `overrides`: settings for the web context and every worker (e.g. short leases).
 * `publicUrlOf`: the control plane's URL as servers reach it (the real-OS test forwards a
 * bridge address to the loopback web server).
 */
export async function startEngineHarness(
  overrides: Record<string, string> = {},
  { publicUrlOf }: { publicUrlOf?: (baseUrl: string) => Promise<string> } = {},
) {
  const database: TestDatabase = await createTestDatabase();
  const hetzner: FakeHetzner = await startFakeHetzner({ token: alphanumeric(64) });
  const cloudflare: FakeCloudflare = await startFakeCloudflare();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "caw-engine-"));
  await writeFile(path.join(dataDir, "agent-linux-x64"), "#!/bin/sh\necho fake agent\n");
  const settings: Record<string, string> = {
    ENCRYPTION_KEYS: testEncryptionKeys(),
    WORKSPACE_PROVIDER: "hetzner",
    HETZNER_API_URL: hetzner.url,
    DNS_PROVIDER: "cloudflare",
    BASE_DOMAIN: cloudflare.zoneName,
    CLOUDFLARE_API_URL: cloudflare.url,
    CLOUDFLARE_API_TOKEN: cloudflare.token,
    CLOUDFLARE_ZONE_ID: cloudflare.zoneId,
    AGENT_DIST_DIR: dataDir,
    DATA_DIR: dataDir,
    JOB_BACKOFF_BASE_MS: "200",
    ...overrides,
  };
  const context: AppLoadContextValue = {
    ...(await createTestLoadContext(database, {}, settings)),
    version: await readVersion(),
  };
  const web: TestWebServer = await startTestWebServer(context);
  const publicUrl = publicUrlOf ? await publicUrlOf(web.baseUrl) : web.baseUrl;
  context.env.PUBLIC_URL = publicUrl;
  const user: AuthenticatedUser = await createTestUser(context, "alice");
  const api = callerFor(context, user);
  await api.credentials.hetzner.set({ token: hetzner.token });
  const workers: RunningProgram[] = [];

  function startWorker(extra: Record<string, string> = {}): Promise<RunningProgram> {
    const worker = startNodeProgram("server/worker/main.ts", [], {
      ...settings,
      ...extra,
      DATABASE_URL: database.url,
      PUBLIC_URL: publicUrl,
      LOG_LEVEL: "debug",
    });
    workers.push(worker);
    return worker.waitForLog("worker ready").then(() => worker);
  }

  async function readWorkspace(id: string) {
    const [row] = await database.db.select().from(workspaces).where(eq(workspaces.id, id));
    return row!;
  }

  /** Polls until the workspace is in `state`; fails early, with the reason, on `error`. */
  async function waitForState(id: string, state: WorkspaceState, timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const row = await readWorkspace(id);
      if (row.state === state) return row;
      if (row.state === "error" && state !== "error")
        throw new Error(`workspace went to error: ${row.stateReason}`);
      if (Date.now() > deadline)
        throw new Error(`workspace still ${row.state} after ${timeoutMs} ms, not ${state}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  const serversOf = (workspaceId: string) =>
    [...hetzner.state.servers.values()].filter((server) => server.labels.workspace === workspaceId);

  return {
    database,
    hetzner,
    cloudflare,
    context,
    web,
    api,
    user,
    startWorker,
    readWorkspace,
    waitForState,
    serversOf,
    agentFor: (workspaceId: string) => createFakeAgent(web.baseUrl, () => serversOf(workspaceId)),
    close: async () => {
      await Promise.all(workers.map((worker) => worker.stop("SIGKILL")));
      await web.close();
      await Promise.all([hetzner.close(), cloudflare.close()]);
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Plays the agent on the workspace's server: reads its user data, calls the control plane. */
function createFakeAgent(baseUrl: string, servers: () => { userData: string }[]) {
  let agentToken = "";
  let cloneUrl = "";
  const call = async (pathname: string, init: RequestInit = {}) => {
    const response = await fetch(`${baseUrl}${pathname}`, {
      method: "POST",
      ...init,
      headers: {
        "content-type": "application/json",
        ...(agentToken ? { authorization: `Bearer ${agentToken}` } : {}),
      },
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const bootstrapTokenFromUserData = () => {
    const [server] = servers();
    const match = /BOOTSTRAP_TOKEN="([\w-]+)"/.exec(server?.userData ?? "");
    if (!match) throw new Error("no server with a bootstrap token in its user data");
    return match[1]!;
  };
  return {
    bootstrapTokenFromUserData,
    async bootstrap(bootstrapToken = bootstrapTokenFromUserData()) {
      const answer = await call("/api/agent/bootstrap", {
        body: JSON.stringify({ bootstrapToken, agentVersion: await readVersion() }),
      });
      if (answer.status === 200) {
        agentToken = answer.body.agentToken as string;
        cloneUrl = (answer.body.workspace as { cloneUrl: string }).cloneUrl;
      }
      return answer;
    },
    ready: () => call("/api/agent/ready", { body: "{}" }),
    heartbeat: () =>
      call("/api/agent/heartbeat", {
        body: JSON.stringify({
          agentVersion: "0.1.0",
          sessions: 1,
          lastActivityAt: new Date().toISOString(),
        }),
      }),
    idle: () => call("/api/agent/idle", { body: "{}" }),
    /** Asks as git would for the workspace's own clone URL (the only one answered). */
    gitCredential: () => {
      const url = new URL(cloneUrl);
      const query = new URLSearchParams({
        protocol: url.protocol.replace(":", ""),
        host: url.host,
        path: url.pathname.slice(1),
      });
      return call(`/api/agent/git-credential?${query}`, { method: "GET" });
    },
    useToken: (token: string) => {
      agentToken = token;
    },
    get token() {
      return agentToken;
    },
  };
}
