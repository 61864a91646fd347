import { and, asc, eq, inArray } from "drizzle-orm";
import type { Database } from "../../db/client.ts";
import { workspaceSessions, workspaces } from "../../db/schema.ts";
import {
  sessionInfoSchema,
  sessionOutputResponseSchema,
  type SessionInfo,
  type SessionOutput,
  type SessionReport,
} from "../../protocol/agent-sessions.ts";
import { z } from "zod";
import { callAgent, type AgentCall } from "../agents/agent-control-client.ts";
import type { Keyring } from "../crypto/envelope.ts";
import { AppError } from "../errors.ts";
import type { AgentWorkspace } from "./agents.ts";
import { recordSessionNotifications } from "./notifications.ts";
import type { Owner } from "./owner.ts";
import { signAgentControlToken } from "./signing-keys.ts";
import { getWorkspace } from "./workspaces.ts";

// SPEC §14: a workspace's terminal sessions as the control plane sees them. The agent owns them
// (tmux on the server) and reports the whole set; reads come from that report, and actions
// (create, rename, end, input, output) are calls to the agent's session API (ADR 0015).

/** What the control plane needs to call a workspace's agent (signs a short-lived JWT). */
export type AgentControlContext = { db: Database; keyring: Keyring; issuer: string };

// Reports are accepted while the agent is up; a late one after a stop would bring sessions back.
const reportingStates = ["booting", "running"] as const;

/** Stores the agent's report (replacing the set) and records notifications for status changes. */
export async function recordSessionReport(
  db: Database,
  workspace: AgentWorkspace,
  report: SessionReport,
): Promise<void> {
  await db.transaction(async (tx) => {
    const [row] = await tx
      .select({ state: workspaces.state, name: workspaces.name, idleStopAt: workspaces.idleStopAt })
      .from(workspaces)
      .where(eq(workspaces.id, workspace.id))
      .for("update");
    if (!row || !(reportingStates as readonly string[]).includes(row.state))
      throw new AppError(
        "CONFLICT",
        `The workspace is ${row?.state ?? "gone"}; sessions are reported only while it runs.`,
      );
    const before = await tx
      .select()
      .from(workspaceSessions)
      .where(eq(workspaceSessions.workspaceId, workspace.id));
    await tx.delete(workspaceSessions).where(eq(workspaceSessions.workspaceId, workspace.id));
    if (report.sessions.length > 0)
      await tx.insert(workspaceSessions).values(report.sessions.map((s) => rowOf(workspace.id, s)));
    const idleStopAt = report.idleStopAt ? new Date(report.idleStopAt) : null;
    await tx.update(workspaces).set({ idleStopAt }).where(eq(workspaces.id, workspace.id));
    await recordSessionNotifications(tx, {
      workspace: { id: workspace.id, name: row.name, userId: workspace.userId },
      before: before.map(infoOf),
      after: report.sessions,
      idleStop:
        idleStopAt && row.idleStopAt?.getTime() !== idleStopAt.getTime()
          ? { at: idleStopAt, reason: report.idleStopReason }
          : null,
    });
  });
}

/** The owner's workspace's sessions as last reported. */
export async function listWorkspaceSessions(
  db: Database,
  owner: Owner,
  workspaceId: string,
): Promise<SessionInfo[]> {
  await getWorkspace(db, owner, workspaceId);
  const rows = await db
    .select()
    .from(workspaceSessions)
    .where(eq(workspaceSessions.workspaceId, workspaceId))
    .orderBy(asc(workspaceSessions.startedAt), asc(workspaceSessions.name));
  return rows.map(infoOf);
}

/** The sessions of several of the owner's workspaces at once (the workspace list). */
export async function listSessionsOfWorkspaces(
  db: Database,
  owner: Owner,
  workspaceIds: string[],
): Promise<Map<string, SessionInfo[]>> {
  const bySpace = new Map<string, SessionInfo[]>();
  if (workspaceIds.length === 0) return bySpace;
  const rows = await db
    .select({ session: workspaceSessions })
    .from(workspaceSessions)
    .innerJoin(workspaces, eq(workspaces.id, workspaceSessions.workspaceId))
    .where(and(eq(workspaces.userId, owner.userId), inArray(workspaces.id, workspaceIds)));
  for (const { session } of rows)
    bySpace.set(session.workspaceId, [
      ...(bySpace.get(session.workspaceId) ?? []),
      infoOf(session),
    ]);
  return bySpace;
}

/** Starts a session in a running workspace (through its agent). */
export async function createWorkspaceSession(
  context: AgentControlContext,
  owner: Owner,
  workspaceId: string,
  name?: string,
): Promise<SessionInfo> {
  const call = await prepareCall(context, owner, workspaceId);
  const session = await callAgent(
    { ...call, method: "POST", path: "/api/sessions", body: name ? { name } : {} },
    sessionInfoSchema,
  );
  await saveSession(context.db, workspaceId, session);
  return session;
}

export async function renameWorkspaceSession(
  context: AgentControlContext,
  owner: Owner,
  workspaceId: string,
  name: string,
  newName: string,
): Promise<SessionInfo> {
  const call = await prepareCall(context, owner, workspaceId);
  const session = await callAgent(
    { ...call, method: "PATCH", path: sessionPath(name), body: { name: newName } },
    sessionInfoSchema,
  );
  await forgetSession(context.db, workspaceId, name);
  await saveSession(context.db, workspaceId, session);
  return session;
}

export async function endWorkspaceSession(
  context: AgentControlContext,
  owner: Owner,
  workspaceId: string,
  name: string,
): Promise<{ name: string }> {
  const call = await prepareCall(context, owner, workspaceId);
  const answer = await callAgent(
    { ...call, method: "DELETE", path: sessionPath(name) },
    z.object({ name: z.string() }),
  );
  await forgetSession(context.db, workspaceId, name);
  return answer;
}

export async function sendSessionInput(
  context: AgentControlContext,
  owner: Owner,
  workspaceId: string,
  name: string,
  input: { text: string; enter: boolean },
): Promise<{ ok: true }> {
  const call = await prepareCall(context, owner, workspaceId);
  return callAgent(
    { ...call, method: "POST", path: `${sessionPath(name)}/input`, body: input },
    z.object({ ok: z.literal(true) }),
  );
}

/** Recent output, bounded and ANSI-stripped by the agent. */
export async function readSessionOutput(
  context: AgentControlContext,
  owner: Owner,
  workspaceId: string,
  name: string,
  lines: number,
): Promise<SessionOutput> {
  const call = await prepareCall(context, owner, workspaceId);
  return callAgent(
    { ...call, method: "GET", path: `${sessionPath(name)}/output?lines=${lines}` },
    sessionOutputResponseSchema,
  );
}

/** The owner's running workspace's agent address and a token for one call. */
async function prepareCall(
  context: AgentControlContext,
  owner: Owner,
  workspaceId: string,
): Promise<Pick<AgentCall, "agentUrl" | "token">> {
  const workspace = await getWorkspace(context.db, owner, workspaceId);
  if (workspace.state !== "running" || !workspace.agentUrl)
    throw new AppError(
      "CONFLICT",
      `The workspace "${workspace.name}" is ${workspace.state}; its sessions can be used once it is running. Start it first.`,
    );
  const token = await signAgentControlToken(context.db, context.keyring, {
    userId: owner.userId,
    workspaceId: workspace.id,
    issuer: context.issuer,
  });
  return { agentUrl: workspace.agentUrl, token };
}

const sessionPath = (name: string) => `/api/sessions/${encodeURIComponent(name)}`;

async function saveSession(db: Database, workspaceId: string, session: SessionInfo) {
  const row = rowOf(workspaceId, session);
  await db
    .insert(workspaceSessions)
    .values(row)
    .onConflictDoUpdate({
      target: [workspaceSessions.workspaceId, workspaceSessions.name],
      set: row,
    });
}

async function forgetSession(db: Database, workspaceId: string, name: string) {
  await db
    .delete(workspaceSessions)
    .where(and(eq(workspaceSessions.workspaceId, workspaceId), eq(workspaceSessions.name, name)));
}

function rowOf(workspaceId: string, session: SessionInfo): typeof workspaceSessions.$inferInsert {
  const date = (value: string | null) => (value ? new Date(value) : null);
  return {
    workspaceId,
    name: session.name,
    startedAt: new Date(session.startedAt),
    lastOutputAt: date(session.lastOutputAt),
    status: session.status,
    statusMessage: session.statusMessage,
    statusChangedAt: date(session.statusChangedAt),
    reportedAt: new Date(),
  };
}

function infoOf(row: typeof workspaceSessions.$inferSelect): SessionInfo {
  const iso = (value: Date | null) => value?.toISOString() ?? null;
  return {
    name: row.name,
    startedAt: row.startedAt.toISOString(),
    lastOutputAt: iso(row.lastOutputAt),
    status: row.status,
    statusMessage: row.statusMessage,
    statusChangedAt: iso(row.statusChangedAt),
  };
}
