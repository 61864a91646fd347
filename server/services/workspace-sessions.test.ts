import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { eq } from "drizzle-orm";
import { createLocalJWKSet, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobs, notifications, workspaces } from "../../db/schema.ts";
import {
  agentControlAudience,
  type SessionInfo,
  type SessionReport,
} from "../../protocol/agent-sessions.ts";
import type { AuthenticatedUser } from "../auth/request-auth.ts";
import type { AppLoadContextValue } from "../http/load-context.ts";
import { createTestLoadContext } from "../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { createTestUser } from "../testing/test-users.ts";
import { reportAgentIdle } from "./agents.ts";
import { readJwks } from "./signing-keys.ts";
import { transitionWorkspaceIf } from "./workspaces.ts";
import {
  createWorkspaceSession,
  listWorkspaceSessions,
  readSessionOutput,
  recordSessionReport,
} from "./workspace-sessions.ts";

// SPEC §14 over a real database: the agent's session reports, the notifications they make, and
// the control plane's calls to an agent (a loopback server checking the JWT as the agent does).

let database: TestDatabase;
let context: AppLoadContextValue;
let alice: AuthenticatedUser;
let bob: AuthenticatedUser;
const issuer = "https://control.example.test";

beforeAll(async () => {
  database = await createTestDatabase();
  context = await createTestLoadContext(database);
  alice = await createTestUser(context, "alice");
  bob = await createTestUser(context, "bob");
});
afterAll(() => database.drop());

const owner = (user: AuthenticatedUser) => ({ userId: user.id, auditSubject: user.auditSubject });

async function insertRunningWorkspace(user: AuthenticatedUser, name: string, agentUrl?: string) {
  const [row] = await database.db
    .insert(workspaces)
    .values({
      userId: user.id,
      name,
      repository: "stand-in/sample",
      branch: "main",
      provider: "local",
      serverType: "local",
      location: "local",
      idleTimeoutMinutes: 30,
      state: "running",
      agentUrl: agentUrl ?? "http://127.0.0.1:1",
    })
    .returning();
  return row!;
}

const session = (name: string, changes: Partial<SessionInfo> = {}): SessionInfo => ({
  name,
  startedAt: "2026-12-02T10:00:00.000Z",
  lastOutputAt: null,
  status: null,
  statusMessage: null,
  statusChangedAt: null,
  ...changes,
});
const report = (sessions: SessionInfo[], idleStopAt: string | null = null): SessionReport => ({
  sessions,
  idleStopAt,
  idleStopReason: idleStopAt ? "idle for 30 min" : null,
});

const notificationsOf = (workspaceId: string) =>
  database.db
    .select({ kind: notifications.kind, message: notifications.message })
    .from(notifications)
    .where(eq(notifications.workspaceId, workspaceId))
    .orderBy(notifications.id);

describe("session reports", () => {
  it("replaces the stored set and tells the owner when an agent waits, finishes or fails", async () => {
    const workspace = await insertRunningWorkspace(alice, "reports");
    await recordSessionReport(database.db, workspace, report([session("shell-1"), session("x")]));
    const working = { status: "working" as const, statusChangedAt: "2026-12-02T10:01:00.000Z" };
    await recordSessionReport(database.db, workspace, report([session("claude", working)]));
    expect(
      (await listWorkspaceSessions(database.db, owner(alice), workspace.id)).map((s) => s.name),
    ).toEqual(["claude"]);
    expect(await notificationsOf(workspace.id)).toEqual([]);

    const waiting = {
      status: "waiting" as const,
      statusMessage: "Claude needs your permission to use Bash",
      statusChangedAt: "2026-12-02T10:02:00.000Z",
    };
    await recordSessionReport(database.db, workspace, report([session("claude", waiting)]));
    // The same report again (every heartbeat sends it) is no news.
    await recordSessionReport(database.db, workspace, report([session("claude", waiting)]));
    const done = { status: "done" as const, statusChangedAt: "2026-12-02T10:03:00.000Z" };
    await recordSessionReport(database.db, workspace, report([session("claude", done)]));
    expect(await notificationsOf(workspace.id)).toEqual([
      {
        kind: "needs_input",
        message: "claude in reports needs input: Claude needs your permission to use Bash",
      },
      { kind: "done", message: "claude in reports is done" },
    ]);
  });

  it("says once that the workspace stops soon, and why it stopped", async () => {
    const workspace = await insertRunningWorkspace(alice, "idle-soon");
    const at = new Date(Date.now() + 5 * 60_000).toISOString();
    await recordSessionReport(database.db, workspace, report([], at));
    await recordSessionReport(database.db, workspace, report([], at));
    const agent = { ...workspace, agentTokenHash: null };
    await reportAgentIdle(database.db, agent, { maxAttempts: 1 }, "idle for 30 min");
    await transitionWorkspaceIf(
      database.db,
      workspace.id,
      ["stopping"],
      "stopped",
      "Server deleted",
      "worker",
    );
    const kinds = await notificationsOf(workspace.id);
    expect(kinds.map((n) => n.kind)).toEqual(["stopping_soon", "stopped"]);
    expect(kinds[0]!.message).toMatch(
      /^idle-soon stops at \d\d:\d\d UTC \(in 5 minutes\): idle for 30 min\./,
    );
    expect(kinds[1]!.message).toBe(
      "idle-soon stopped (idle for 30 min). Its files are kept; start it again any time.",
    );
    const [row] = await database.db
      .select()
      .from(workspaces)
      .where(eq(workspaces.id, workspace.id));
    // The stop's reason stays on the stopped workspace: its page and terminal tab say why.
    expect(row!.stateReason).toBe("Stopped: idle for 30 min");
    expect(row!.idleStopAt).toBeNull();
    expect(await listWorkspaceSessions(database.db, owner(alice), workspace.id)).toEqual([]);
  });

  it("refuses a report from a workspace that is not running, and queues webhook deliveries", async () => {
    const workspace = await insertRunningWorkspace(bob, "late");
    await database.db
      .update(workspaces)
      .set({ state: "stopped" })
      .where(eq(workspaces.id, workspace.id));
    await expect(
      recordSessionReport(database.db, workspace, report([session("a")])),
    ).rejects.toThrow(/stopped; sessions are reported only while it runs/);
    expect(await listWorkspaceSessions(database.db, owner(bob), workspace.id)).toEqual([]);
    await expect(listWorkspaceSessions(database.db, owner(alice), workspace.id)).rejects.toThrow();
    const queued = await database.db
      .select()
      .from(jobs)
      .where(eq(jobs.kind, "notifications.deliver"));
    expect(queued).toEqual([]);
  });
});

describe("calls to the agent", () => {
  let agent: Server;
  const seen: Array<{ method: string; url: string; host: string; body: string }> = [];
  let agentUrl: string;

  beforeAll(async () => {
    agent = createServer((req, res) => void answerAsAgent(req, res));
    await new Promise<void>((resolve) => agent.listen(0, "127.0.0.1", resolve));
    // As in the one-machine mode: a *.localhost name that only the client maps to loopback.
    agentUrl = `http://ws-test.localhost:${(agent.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => agent.close(resolve)));

  async function answerAsAgent(req: IncomingMessage, res: ServerResponse) {
    let body = "";
    for await (const chunk of req) body += String(chunk);
    seen.push({ method: req.method!, url: req.url!, host: req.headers.host!, body });
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1] ?? "";
    const keys = createLocalJWKSet(await readJwks(database.db));
    const verified = await jwtVerify(token, keys, { audience: agentControlAudience, issuer }).catch(
      () => null,
    );
    res.setHeader("content-type", "application/json");
    if (!verified) return res.writeHead(401).end(JSON.stringify({ error: "bad token" }));
    if (req.url?.startsWith("/api/sessions/missing"))
      return res.writeHead(404).end(JSON.stringify({ error: "no session named missing" }));
    if (req.method === "POST")
      return res.writeHead(201).end(JSON.stringify(session("build", { status: null })));
    res.end(
      JSON.stringify({
        name: "build",
        text: "hi",
        lines: 1,
        workspace: verified.payload.workspace,
      }),
    );
  }

  it("signs a short-lived token for the workspace and reaches a *.localhost agent", async () => {
    const workspace = await insertRunningWorkspace(alice, "calls", agentUrl);
    const control = { db: database.db, keyring: context.keyring, issuer };
    const created = await createWorkspaceSession(control, owner(alice), workspace.id, "build");
    expect(created.name).toBe("build");
    expect(seen.at(-1)).toMatchObject({
      method: "POST",
      url: "/api/sessions",
      body: '{"name":"build"}',
    });
    expect(seen.at(-1)!.host).toMatch(/^ws-test\.localhost:\d+$/);
    expect(
      (await listWorkspaceSessions(database.db, owner(alice), workspace.id)).map((s) => s.name),
    ).toEqual(["build"]);
    const output = await readSessionOutput(control, owner(alice), workspace.id, "build", 20);
    expect(output).toEqual({ name: "build", text: "hi", lines: 1 });
    expect(seen.at(-1)!.url).toBe("/api/sessions/build/output?lines=20");
    await expect(
      readSessionOutput(control, owner(alice), workspace.id, "missing", 5),
    ).rejects.toThrow("The workspace's agent: no session named missing");
    // Another user's workspace is not found, and the agent is not even asked.
    const calls = seen.length;
    await expect(
      readSessionOutput(control, owner(bob), workspace.id, "build", 5),
    ).rejects.toThrow();
    expect(seen.length).toBe(calls);
  });

  it("asks nothing of a workspace that is not running", async () => {
    const workspace = await insertRunningWorkspace(alice, "stopped-calls", agentUrl);
    await database.db
      .update(workspaces)
      .set({ state: "stopped" })
      .where(eq(workspaces.id, workspace.id));
    const control = { db: database.db, keyring: context.keyring, issuer };
    await expect(createWorkspaceSession(control, owner(alice), workspace.id)).rejects.toThrow(
      'The workspace "stopped-calls" is stopped; its sessions can be used once it is running. Start it first.',
    );
  });
});
