import { createHash, randomBytes, randomUUID } from "node:crypto";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEngineHarness, type EngineHarness } from "../../e2e/support/engine.ts";
import { credentials, sessions, terminalGrants, workspaces } from "../../db/schema.ts";
import { maxTerminalGrants } from "../../protocol/agent-protocol.ts";
import { readVersion } from "../process/version.ts";
import { issueBootstrapToken } from "../services/agents.ts";
import { reconcileStaleWorkspaces } from "../services/maintenance.ts";
import { transitionWorkspace } from "../services/workspaces.ts";

// The agent's REST endpoints and the Hetzner credential procedures, over the harness's real
// web server and fake Hetzner. No worker runs: these tests drive the database directly.

let engine: EngineHarness;
beforeAll(async () => {
  engine = await startEngineHarness();
});
afterAll(() => engine?.close());

const post = (path: string, body: unknown, token?: string) =>
  fetch(`${engine.web.baseUrl}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

describe("agent callbacks", () => {
  it("refuses a missing or unknown agent token with problem+json 401", async () => {
    for (const token of [undefined, "cawa_unknown", "caw_an-api-token"]) {
      const response = await post("/api/agent/heartbeat", {}, token);
      expect(response.status).toBe(401);
      expect(response.headers.get("content-type")).toBe("application/problem+json");
      expect((await response.json()) as { detail: string }).toMatchObject({
        status: 401,
        detail: expect.stringMatching(/agent token/),
      });
    }
  });

  it("refuses an unknown bootstrap token and names bad fields", async () => {
    const unknown = await post("/api/agent/bootstrap", {
      bootstrapToken: "cawb_nope",
      agentVersion: "1",
    });
    expect(unknown.status).toBe(401);
    expect(((await unknown.json()) as { detail: string }).detail).toContain(
      "unknown, used or expired",
    );
    const bad = await post("/api/agent/bootstrap", { agentVersion: 7 });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { detail: string }).detail).toMatch(
      /bootstrapToken: .*agentVersion: /,
    );
    const notJson = await post("/api/agent/bootstrap", "{oops");
    expect(((await notJson.json()) as { detail: string }).detail).toContain("not JSON");
  });

  it("refuses an expired bootstrap token", async () => {
    const { id } = await engine.api.workspaces.create({
      name: "expired",
      repository: "stand-in/sample",
      branch: "main",
    });
    const token = await issueBootstrapToken(engine.database.db, id);
    await engine.database
      .sql`update workspaces set bootstrap_expires_at = now() - interval '1 second' where id = ${id}`;
    expect(
      (await post("/api/agent/bootstrap", { bootstrapToken: token, agentVersion: "1" })).status,
    ).toBe(401);
    await engine.database
      .sql`update workspaces set bootstrap_expires_at = now() + interval '1 minute' where id = ${id}`;
    const mismatched = await post("/api/agent/bootstrap", {
      bootstrapToken: token,
      agentVersion: "0.0.1-old",
    });
    expect(mismatched.status).toBe(409);
    expect(((await mismatched.json()) as { detail: string }).detail).toContain(
      "does not match the control plane's",
    );
    const agentVersion = await readVersion();
    expect(
      (await post("/api/agent/bootstrap", { bootstrapToken: token, agentVersion })).status,
    ).toBe(200);
  });
});

describe("an agent faster than the worker", () => {
  it("reports ready while the workspace is still provisioning and it goes running", async () => {
    const { id } = await engine.api.workspaces.create({
      name: "quick",
      repository: "stand-in/sample",
      branch: "main",
    });
    const token = await issueBootstrapToken(engine.database.db, id);
    const bootstrap = await post("/api/agent/bootstrap", {
      bootstrapToken: token,
      agentVersion: await readVersion(),
    });
    const { agentToken } = (await bootstrap.json()) as { agentToken: string };
    expect((await post("/api/agent/ready", {}, agentToken)).status).toBe(200);
    expect((await post("/api/agent/ready", {}, agentToken)).status).toBe(200);
    const events = await engine.api.workspaces.events({ id });
    expect(events.slice(-2)).toMatchObject([
      { fromState: "provisioning", toState: "booting", actor: "agent" },
      { fromState: "booting", toState: "running", actor: "agent" },
    ]);
  });
});

describe("heartbeats", () => {
  let agentToken: string;
  let workspaceId: string;
  beforeAll(async () => {
    const [row] = await engine.database.db
      .insert(workspaces)
      .values({
        userId: engine.user.id,
        name: "beating",
        repository: "a/b",
        branch: "main",
        provider: "hetzner",
        serverType: "cx22",
        location: "nbg1",
        idleTimeoutMinutes: 30,
        state: "provisioning",
      })
      .returning();
    workspaceId = row!.id;
    const bootstrapToken = await issueBootstrapToken(engine.database.db, workspaceId);
    const answer = await post("/api/agent/bootstrap", {
      bootstrapToken,
      agentVersion: await readVersion(),
    });
    agentToken = ((await answer.json()) as { agentToken: string }).agentToken;
  });
  const beat = (body: Record<string, unknown>) =>
    post("/api/agent/heartbeat", { agentVersion: "9.9.9", sessions: 1, ...body }, agentToken);
  const lastActivityOf = async () =>
    (await engine.readWorkspace(workspaceId)).lastActivityAt?.toISOString() ?? null;

  it("saves lastActivityAt when the agent saw activity, and keeps it when it sends null", async () => {
    const typedAt = "2030-01-02T03:04:05.000Z";
    expect((await beat({ lastActivityAt: typedAt })).status).toBe(200);
    expect(await lastActivityOf()).toBe(typedAt);
    expect((await engine.readWorkspace(workspaceId)).agentVersion).toBe("9.9.9");
    const quiet = await beat({ lastActivityAt: null });
    expect(quiet.status).toBe(200);
    expect(await lastActivityOf()).toBe(typedAt);
    const later = "2030-01-02T04:00:00.000Z";
    await beat({ lastActivityAt: later });
    expect(await lastActivityOf()).toBe(later);
  });

  it("answers which of the reported terminal grants have ended", async () => {
    const sessionId = createHash("sha256").update(randomBytes(32)).digest("hex");
    await engine.database.db
      .insert(sessions)
      .values({ id: sessionId, userId: engine.user.id, expiresAt: new Date(Date.now() + 60_000) });
    const [grant] = await engine.database.db
      .insert(terminalGrants)
      .values({
        workspaceId,
        userId: engine.user.id,
        sessionId,
        expiresAt: new Date(Date.now() + 60_000),
      })
      .returning();
    const unknown = randomUUID();
    const answer = await beat({ lastActivityAt: null, terminalGrants: [grant!.id, unknown] });
    expect(await answer.json()).toEqual({ ok: true, revokedTerminalGrants: [unknown] });
    await engine.database.db.delete(sessions).where(eq(sessions.id, sessionId));
    const after = await beat({ lastActivityAt: null, terminalGrants: [grant!.id] });
    expect(await after.json()).toEqual({ ok: true, revokedTerminalGrants: [grant!.id] });
    // An agent that reports none (or predates grants) is told of none.
    expect(await (await beat({ lastActivityAt: null })).json()).toEqual({
      ok: true,
      revokedTerminalGrants: [],
    });
  });

  it("refuses malformed or oversized grant lists with 400", async () => {
    const notIds = await beat({ lastActivityAt: null, terminalGrants: ["'; drop table x"] });
    expect(notIds.status).toBe(400);
    expect(((await notIds.json()) as { detail: string }).detail).toContain("terminalGrants");
    const many = Array.from({ length: maxTerminalGrants + 1 }, () => randomUUID());
    expect((await beat({ lastActivityAt: null, terminalGrants: many })).status).toBe(400);
  });
});

describe("an agent that comes back after its workspace went to error", () => {
  // A reboot, or a control-plane outage, longer than the heartbeat timeout: the reconcile job
  // (the real one, with the silence backdated) marks the workspace error; the agent is fine.
  async function silencedRunningWorkspace(name: string) {
    const { id } = await engine.api.workspaces.create({
      name,
      repository: "stand-in/sample",
      branch: "main",
    });
    const bootstrap = await post("/api/agent/bootstrap", {
      bootstrapToken: await issueBootstrapToken(engine.database.db, id),
      agentVersion: await readVersion(),
    });
    const { agentToken } = (await bootstrap.json()) as { agentToken: string };
    expect((await post("/api/agent/ready", {}, agentToken)).status).toBe(200);
    const silentSince = new Date(Date.now() - 10 * 60_000);
    await engine.database.db
      .update(workspaces)
      .set({ lastHeartbeatAt: silentSince })
      .where(eq(workspaces.id, id));
    await reconcileStaleWorkspaces(engine.database.db, {
      heartbeatTimeoutSeconds: 180,
      bootTimeoutSeconds: 900,
    });
    expect((await engine.readWorkspace(id)).state).toBe("error");
    return { id, agentToken, silentSince };
  }

  it("is running again after its next heartbeat, with the timeline saying why", async () => {
    const { id, agentToken, silentSince } = await silencedRunningWorkspace("outage");
    const beat = { agentVersion: "9.9.9", sessions: 0, lastActivityAt: null };
    expect((await post("/api/agent/heartbeat", beat, agentToken)).status).toBe(200);
    const row = await engine.readWorkspace(id);
    expect(row).toMatchObject({ state: "running", stateReason: null });
    expect(row.lastHeartbeatAt!.getTime()).toBeGreaterThan(silentSince.getTime());
    expect((await engine.api.workspaces.events({ id })).slice(-2)).toMatchObject([
      { fromState: "running", toState: "error", actor: "system" },
      { fromState: "error", toState: "running", actor: "agent" },
    ]);
  });

  it("is running again when the rebooted agent reports ready, which refreshes its heartbeat", async () => {
    const { id, agentToken, silentSince } = await silencedRunningWorkspace("reboot");
    expect((await post("/api/agent/ready", {}, agentToken)).status).toBe(200);
    const row = await engine.readWorkspace(id);
    expect(row.state).toBe("running");
    expect(row.lastHeartbeatAt!.getTime()).toBeGreaterThan(silentSince.getTime());
  });

  it("stays in error when the error came from something else, such as a failed stop", async () => {
    const { id, agentToken } = await silencedRunningWorkspace("failed-stop");
    await engine.api.workspaces.stop({ id });
    await transitionWorkspace(engine.database.db, id, "error", "Could not stop", "worker");
    const beat = { agentVersion: "9.9.9", sessions: 0, lastActivityAt: null };
    expect((await post("/api/agent/heartbeat", beat, agentToken)).status).toBe(200);
    expect((await engine.readWorkspace(id)).state).toBe("error");
    expect((await post("/api/agent/ready", {}, agentToken)).status).toBe(409);
  });
});

describe("credentials.hetzner", () => {
  it("is saved encrypted, shown only as a hint, and never returned", async () => {
    const saved = await engine.api.credentials.hetzner.get();
    expect(saved).toMatchObject({ provider: "hetzner", hint: engine.hetzner.token.slice(-4) });
    expect(JSON.stringify(saved)).not.toContain(engine.hetzner.token);
    const [row] = await engine.database.db
      .select()
      .from(credentials)
      .where(eq(credentials.userId, engine.user.id));
    expect(row!.secretEncrypted).toMatch(/^v1\./);
    expect(row!.secretEncrypted).not.toContain(engine.hetzner.token);
  });

  it("checks a new token against Hetzner before saving it, keeping the old one on refusal", async () => {
    const wrong = "B".repeat(64);
    await expect(engine.api.credentials.hetzner.set({ token: wrong })).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringContaining("Hetzner refused this API token"),
    });
    expect((await engine.api.credentials.hetzner.get())!.hint).toBe(engine.hetzner.token.slice(-4));
    await expect(engine.api.credentials.hetzner.set({ token: "short" })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
  });

  it("refuses removal while workspaces use it", async () => {
    await expect(engine.api.credentials.hetzner.remove()).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining("expired"),
    });
  });
});

describe("AI-agent reports (SPEC §14)", () => {
  async function runningAgent(name: string) {
    const { id } = await engine.api.workspaces.create({
      name,
      repository: "stand-in/sample",
      branch: "main",
    });
    const bootstrap = await post("/api/agent/bootstrap", {
      bootstrapToken: await issueBootstrapToken(engine.database.db, id),
      agentVersion: await readVersion(),
    });
    const { agentToken } = (await bootstrap.json()) as { agentToken: string };
    expect((await post("/api/agent/ready", {}, agentToken)).status).toBe(200);
    return { id, agentToken };
  }
  const session = (status: string | null, statusMessage: string | null = null) => ({
    name: "claude",
    startedAt: "2026-12-02T10:00:00.000Z",
    lastOutputAt: null,
    status,
    statusMessage,
    statusChangedAt: status ? new Date().toISOString() : null,
  });

  it("stores the reported sessions and tells the owner when an agent waits", async () => {
    const { id, agentToken } = await runningAgent("reporting");
    const report = (sessions: unknown[]) =>
      post("/api/agent/sessions", { sessions, idleStopAt: null }, agentToken);
    expect((await report([session("working")])).status).toBe(200);
    expect((await report([session("waiting", "allow Bash?")])).status).toBe(200);
    expect(await engine.api.sessions.list({ workspaceId: id })).toMatchObject([
      { name: "claude", status: "waiting", statusMessage: "allow Bash?" },
    ]);
    const mine = await engine.api.notifications.list({});
    expect(mine.filter((row) => row.workspaceId === id)).toMatchObject([
      { kind: "needs_input", message: "claude in reporting needs input: allow Bash?" },
    ]);
    expect((await report([{ ...session("working"), name: "bad name!" }])).status).toBe(400);
  });

  it("stops on the agent's idle request saying why, and takes no reports after", async () => {
    const { id, agentToken } = await runningAgent("idler");
    expect((await post("/api/agent/idle", { reason: "x".repeat(201) }, agentToken)).status).toBe(
      400,
    );
    const idle = await post("/api/agent/idle", { reason: "idle for 30 min" }, agentToken);
    expect(idle.status).toBe(200);
    expect(await idle.json()).toEqual({ state: "stopping" });
    expect((await engine.api.workspaces.events({ id })).at(-1)).toMatchObject({
      toState: "stopping",
      reason: "Stopped: idle for 30 min",
      actor: "agent",
    });
    const late = await post(
      "/api/agent/sessions",
      { sessions: [session("working")], idleStopAt: null },
      agentToken,
    );
    expect(late.status).toBe(409);
    expect(await engine.api.sessions.list({ workspaceId: id })).toEqual([]);
  });
});
