import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { eq } from "drizzle-orm";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { users, workspaces } from "../db/schema.ts";
import { startGitHubStandIn, type GitHubStandIn } from "../server/github-stand-in/server.ts";
import type { AppLoadContextValue } from "../server/http/load-context.ts";
import { createLogger } from "../server/logger.ts";
import { findFreePort } from "../server/process/free-port.ts";
import { readVersion } from "../server/process/version.ts";
import { stopSessionServer } from "../server/providers/local-agent-process.ts";
import { issueBootstrapToken } from "../server/services/agents.ts";
import { projectRoot } from "../server/testing/program.ts";
import { createTestLoadContext } from "../server/testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../server/testing/test-database.ts";
import { launchBrowser } from "./support/browser.ts";
import { startTestWebServer, type TestWebServer } from "../server/testing/test-web-server.ts";
import { cookiePairs, signInOverHttp } from "../server/testing/test-sign-in.ts";

// Terminal access that ends when it should (SPEC §4, §9), against the built agent binary as
// the local provider runs it, our real web server (Remix build), the GitHub stand-in for real
// sign-ins, and a real database. The agent heartbeats every second (AGENT_HEARTBEAT_SECONDS),
// so "within one heartbeat" is a short wait; the tests wait for the effect, never for a time.

const agentBinary = path.join(projectRoot, "dist", "agent", `agent-linux-${process.arch}`);

let database: TestDatabase;
let standIn: GitHubStandIn;
let web: TestWebServer;
let context: AppLoadContextValue;
let dataDir: string;
let workspaceId: string;
let agentOrigin: string;
let agentPort: number;
let agent: ChildProcess;
let agentOutput = "";
let browserOrigin: string;

beforeAll(async () => {
  if (!existsSync(agentBinary)) throw new Error(`${agentBinary} is missing: run npm run build.`);
  database = await createTestDatabase();
  dataDir = await mkdtemp(path.join(os.tmpdir(), "caw-terminal-access-"));
  const silent = createLogger({ level: "silent", service: "test" });
  standIn = await startGitHubStandIn({ dataDir, logger: silent });
  context = {
    ...(await createTestLoadContext(
      database,
      {},
      { GITHUB_URL: standIn.url, GITHUB_API_URL: standIn.apiUrl },
    )),
    version: await readVersion(),
  };
  web = await startTestWebServer({
    ...context,
    github: {
      webUrl: standIn.url,
      apiUrl: standIn.apiUrl,
      clientId: standIn.clientId,
      clientSecret: standIn.clientSecret,
    },
  });
  // The server checks Origin against the PUBLIC_URL it started with; it shares this env object,
  // so links and the agent's issuer name the real URL from here on.
  browserOrigin = new URL(context.env.PUBLIC_URL).origin;
  context.env.PUBLIC_URL = web.baseUrl;
  await signIn("alice");
  workspaceId = await startWorkspaceAgent("alice");
});
afterAll(async () => {
  await stopAgent();
  // The agent's tmux server outlives it by design (durable sessions): end it with the test.
  if (dataDir) await stopSessionServer(path.join(dataDir, "agent-state"), null);
  await web?.close();
  await standIn?.close();
  await database?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const signIn = (login: string) => signInOverHttp(web.baseUrl, login);

type Credential = { session: string } | { token: string };

/** A tRPC call over HTTP, as the browser (cookie and Origin) or a script (bearer) makes it. */
async function trpc<T>(credential: Credential, procedure: string, input?: unknown): Promise<T> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if ("session" in credential)
    Object.assign(headers, { cookie: credential.session, origin: browserOrigin });
  else headers.authorization = `Bearer ${credential.token}`;
  const response = await fetch(`${web.baseUrl}/api/trpc/${procedure}`, {
    method: input === "query" ? "GET" : "POST",
    headers,
    ...(input === "query" ? {} : { body: JSON.stringify({ json: input ?? null }) }),
  });
  const body = (await response.json()) as { result?: { data: { json: T } }; error?: unknown };
  if (!body.result)
    throw new Error(`${procedure} answered ${response.status}: ${JSON.stringify(body.error)}`);
  return body.result.data.json;
}

/** The workspace's row, an agent bootstrapped into it, running on a loopback port. */
async function startWorkspaceAgent(login: string): Promise<string> {
  const [user] = await database.db.select().from(users).where(eq(users.login, login));
  const [row] = await database.db
    .insert(workspaces)
    .values({
      userId: user!.id,
      name: "terminal-access",
      repository: "stand-in/sample",
      branch: "main",
      provider: "local",
      serverType: "local",
      location: "local",
      idleTimeoutMinutes: 60,
      state: "provisioning",
    })
    .returning();
  agentPort = await findFreePort();
  agentOrigin = `http://127.0.0.1:${agentPort}`;
  await database.db
    .update(workspaces)
    .set({ agentUrl: agentOrigin })
    .where(eq(workspaces.id, row!.id));
  const bootstrapToken = await issueBootstrapToken(database.db, row!.id);
  await launchAgent(row!.id, bootstrapToken);
  return row!.id;
}

async function launchAgent(id: string, bootstrapToken: string) {
  agentOutput = "";
  agent = spawn(agentBinary, [], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: dataDir,
      CONTROL_PLANE_URL: web.baseUrl,
      WORKSPACE_ID: id,
      BOOTSTRAP_TOKEN: bootstrapToken,
      AGENT_HOST: "127.0.0.1",
      AGENT_PORT: String(agentPort),
      WORKSPACE_DIR: path.join(dataDir, "workspace"),
      STATE_DIR: path.join(dataDir, "agent-state"),
      AGENT_HEARTBEAT_SECONDS: "1",
    } as Record<string, string> as NodeJS.ProcessEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  agent.stdout!.on("data", (chunk: Buffer) => (agentOutput += chunk.toString()));
  agent.stderr!.on("data", (chunk: Buffer) => (agentOutput += chunk.toString()));
  await waitFor("the agent to report ready", async () => {
    if (agent.exitCode !== null) throw new Error(`the agent exited:\n${agentOutput}`);
    const [row] = await database.db.select().from(workspaces).where(eq(workspaces.id, id));
    return row?.state === "running" && agentOutput.includes("Reported ready");
  });
}

async function stopAgent() {
  if (!agent || agent.exitCode !== null) return;
  const exited = new Promise((resolve) => agent.once("exit", resolve));
  agent.kill("SIGTERM");
  await exited;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}:\n${agentOutput}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function openLink(credential: Credential): Promise<string> {
  const { url } = await trpc<{ url: string }>(credential, "terminal.token", { workspaceId });
  return new URL(url).searchParams.get("token")!;
}

/** The agent's answer to the link: its status, cookie pair (if any) and page. */
async function enter(token: string) {
  const response = await fetch(`${agentOrigin}/?token=${encodeURIComponent(token)}`);
  return {
    status: response.status,
    cookie: cookiePairs(response).join("; "),
    body: await response.text(),
  };
}

async function terminalCookie(credential: Credential): Promise<string> {
  const entry = await enter(await openLink(credential));
  expect(entry.status).toBe(200);
  return entry.cookie;
}

const pageStatus = async (cookie: string) =>
  (await fetch(`${agentOrigin}/`, { headers: { cookie } })).status;

/** An open terminal WebSocket (after its `session` message) and the code it closes with. */
async function openSocket(cookie: string) {
  const ws = new WebSocket(`${agentOrigin.replace("http", "ws")}/ws`, {
    headers: { cookie },
    origin: agentOrigin,
  });
  const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.on("message", (data, binary) => {
      if (!binary && (JSON.parse(data.toString()) as { type: string }).type === "session")
        resolve();
    });
    ws.once("error", reject);
  });
  return { ws, closed };
}

/** The status with which the agent refuses a WebSocket upgrade with `cookie`. */
function upgradeStatus(cookie: string): Promise<number> {
  const ws = new WebSocket(`${agentOrigin.replace("http", "ws")}/ws`, {
    headers: { cookie },
    origin: agentOrigin,
  });
  return new Promise((resolve, reject) => {
    ws.once("open", () => {
      ws.close();
      resolve(101);
    });
    ws.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
    ws.once("error", reject);
  });
}

/** The cookie and its open socket have both ended: page 401, upgrade 401, socket closed. */
async function expectEnded(cookie: string, socket: { closed: Promise<number> }) {
  expect(await socket.closed).toBe(4001);
  expect(await pageStatus(cookie)).toBe(401);
  expect(await upgradeStatus(cookie)).toBe(401);
}

describe("a terminal link", () => {
  it("opens one session; used again it is refused, and a new link works", async () => {
    const session = await signIn("alice");
    const token = await openLink({ session });
    const first = await enter(token);
    expect(first.status).toBe(200);
    expect(await pageStatus(first.cookie)).toBe(200);
    const again = await enter(token);
    expect(again.status).toBe(401);
    expect(again.cookie).toBe("");
    expect(again.body).toContain(
      "This link was already used; open the terminal again from the control plane.",
    );
    const other = await enter(await openLink({ session }));
    expect(other.status).toBe(200);
    expect(other.cookie).not.toBe("");
  });

  it("stays used after the agent restarts, and its cookie keeps working", async () => {
    const session = await signIn("alice");
    const token = await openLink({ session });
    const { cookie, status } = await enter(token);
    expect(status).toBe(200);
    await stopAgent();
    await launchAgent(workspaceId, "spent-bootstrap-token");
    expect((await enter(token)).status).toBe(401);
    expect(await pageStatus(cookie)).toBe(200);
  });
});

describe("terminal cookies end with the sign-in that asked for them", () => {
  it("signing out everywhere closes the open terminal and refuses the cookie", async () => {
    const session = await signIn("alice");
    const cookie = await terminalCookie({ session });
    const socket = await openSocket(cookie);
    // A link asked for with an API token is another sign-in; it must survive.
    const { token } = await trpc<{ token: string }>({ session }, "tokens.create", {
      name: "survivor",
    });
    const survivor = await terminalCookie({ token });
    await trpc({ session }, "auth.sessions.revokeAll");
    await expectEnded(cookie, socket);
    expect(await pageStatus(survivor)).toBe(200);
  });

  it("revoking that session from another browser does the same, and only to it", async () => {
    const [laptop, phone] = [await signIn("alice"), await signIn("alice")];
    const cookie = await terminalCookie({ session: laptop });
    const phoneCookie = await terminalCookie({ session: phone });
    const socket = await openSocket(cookie);
    const phoneSocket = await openSocket(phoneCookie);
    const listed = await trpc<{ id: string; current: boolean }[]>(
      { session: phone },
      "auth.sessions.list",
      "query",
    );
    const others = listed.filter((entry) => !entry.current);
    // Revoke the laptop: the one session that is neither the phone nor already gone.
    for (const entry of others) {
      await trpc({ session: phone }, "auth.sessions.revoke", { id: entry.id });
    }
    await expectEnded(cookie, socket);
    expect(await pageStatus(phoneCookie)).toBe(200);
    expect(phoneSocket.ws.readyState).toBe(WebSocket.OPEN);
    phoneSocket.ws.close();
  });

  it("tells the browser its access ended, and it stops reconnecting", async () => {
    const session = await signIn("alice");
    const browser: Browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      await page.goto(`${agentOrigin}/?token=${await openLink({ session })}`);
      await page.locator('#terminal[data-status="open"]').waitFor();
      await trpc({ session }, "auth.sessions.revokeAll");
      await page.locator('#terminal[data-status="error"]').waitFor();
      expect(await page.locator("#terminal-status").textContent()).toContain(
        "Your terminal access ended",
      );
      await page.reload();
      expect(await page.locator("h1").textContent()).toBe("Not signed in");
    } finally {
      await browser.close();
    }
  });

  it("revoking the API token that asked for the link ends its cookie", async () => {
    const session = await signIn("alice");
    const created = await trpc<{ id: string; token: string }>({ session }, "tokens.create", {
      name: "script",
    });
    const cookie = await terminalCookie({ token: created.token });
    const socket = await openSocket(cookie);
    await trpc({ session }, "tokens.revoke", { id: created.id });
    await expectEnded(cookie, socket);
  });
});
