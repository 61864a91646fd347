import { and, desc, eq, gt } from "drizzle-orm";
import type { Database } from "../../db/client.ts";
import {
  notificationWebhooks,
  notifications,
  workspaceEvents,
  workspaceSessions,
  workspaces,
  type NotificationKind,
  type WorkspaceState,
} from "../../db/schema.ts";
import type { SessionInfo } from "../../protocol/agent-sessions.ts";
import { enqueueJob } from "../jobs/queue.ts";
import type { DatabaseExecutor } from "./audit.ts";

// SPEC §14: what a user is told: an AI agent needs input, is done or failed; a workspace stops
// soon or stopped. Each notification is a row (the browser polls for new ones) and, when the
// user has a webhook, a delivery job (notification-webhooks.ts) so a slow receiver never holds
// up the agent's report or a workspace job.

export const notificationDeliveryJobKind = "notifications.deliver";

type WorkspaceRef = { id: string; name: string; userId: string };
type NewNotification = {
  kind: NotificationKind;
  message: string;
  sessionName?: string | null;
};

const sessionKinds: Partial<Record<NonNullable<SessionInfo["status"]>, NotificationKind>> = {
  waiting: "needs_input",
  done: "done",
  error: "error",
};

/** Notifications for the sessions whose status changed in a report, and for a coming idle stop. */
export async function recordSessionNotifications(
  executor: DatabaseExecutor,
  change: {
    workspace: WorkspaceRef;
    before: SessionInfo[];
    after: SessionInfo[];
    idleStop: { at: Date; reason: string | null } | null;
  },
): Promise<void> {
  const { workspace } = change;
  const previous = new Map(change.before.map((session) => [session.name, session]));
  for (const session of change.after) {
    const kind = session.status ? sessionKinds[session.status] : undefined;
    const earlier = previous.get(session.name);
    const changed =
      earlier?.status !== session.status || earlier?.statusChangedAt !== session.statusChangedAt;
    if (!kind || !changed) continue;
    await insertNotification(executor, workspace, {
      kind,
      sessionName: session.name,
      message: describeSessionStatus(workspace.name, session),
    });
  }
  if (change.idleStop)
    await insertNotification(executor, workspace, {
      kind: "stopping_soon",
      message: describeComingStop(workspace.name, change.idleStop),
    });
}

/**
 * Called by the one workspace transition function inside its transaction: a workspace that
 * reached `stopped` (or `error`) tells its owner; one that leaves `running` has no sessions.
 */
export async function recordStateNotification(
  executor: DatabaseExecutor,
  workspaceId: string,
  to: WorkspaceState,
  reason: string,
): Promise<void> {
  if (to !== "running" && to !== "booting") {
    await executor.delete(workspaceSessions).where(eq(workspaceSessions.workspaceId, workspaceId));
    await executor
      .update(workspaces)
      .set({ idleStopAt: null })
      .where(eq(workspaces.id, workspaceId));
  }
  if (to !== "stopped" && to !== "error") return;
  const [workspace] = await executor
    .select({ id: workspaces.id, name: workspaces.name, userId: workspaces.userId })
    .from(workspaces)
    .where(eq(workspaces.id, workspaceId));
  if (!workspace) return;
  if (to === "error")
    return insertNotification(executor, workspace, {
      kind: "error",
      message: `${workspace.name} failed: ${reason}`,
    });
  // The stop's own reason ("Stopped: idle for 30 min", "Stop requested") says why; the
  // transition to stopped only says the server is gone.
  const [stopping] = await executor
    .select({ reason: workspaceEvents.reason })
    .from(workspaceEvents)
    .where(
      and(eq(workspaceEvents.workspaceId, workspaceId), eq(workspaceEvents.toState, "stopping")),
    )
    .orderBy(desc(workspaceEvents.id))
    .limit(1);
  const why = (stopping?.reason ?? reason).replace(/^Stopped: /, "");
  await insertNotification(executor, workspace, {
    kind: "stopped",
    message: `${workspace.name} stopped (${why}). Its files are kept; start it again any time.`,
  });
}

export type NotificationView = {
  id: number;
  kind: NotificationKind;
  message: string;
  workspaceId: string;
  workspaceName: string;
  sessionName: string | null;
  createdAt: Date;
};

/** The owner's newest notifications (after `afterId`, when given), newest first. */
export async function listNotifications(
  db: Database,
  owner: { userId: string },
  options: { afterId?: number; limit?: number } = {},
): Promise<NotificationView[]> {
  return db
    .select({
      id: notifications.id,
      kind: notifications.kind,
      message: notifications.message,
      workspaceId: notifications.workspaceId,
      workspaceName: workspaces.name,
      sessionName: notifications.sessionName,
      createdAt: notifications.createdAt,
    })
    .from(notifications)
    .innerJoin(workspaces, eq(workspaces.id, notifications.workspaceId))
    .where(
      and(
        eq(notifications.userId, owner.userId),
        options.afterId === undefined ? undefined : gt(notifications.id, options.afterId),
      ),
    )
    .orderBy(desc(notifications.id))
    .limit(options.limit ?? 50);
}

async function insertNotification(
  executor: DatabaseExecutor,
  workspace: WorkspaceRef,
  notification: NewNotification,
): Promise<void> {
  const [row] = await executor
    .insert(notifications)
    .values({
      userId: workspace.userId,
      workspaceId: workspace.id,
      sessionName: notification.sessionName ?? null,
      kind: notification.kind,
      message: notification.message.slice(0, 500),
    })
    .returning({ id: notifications.id });
  const [webhook] = await executor
    .select({ userId: notificationWebhooks.userId })
    .from(notificationWebhooks)
    .where(eq(notificationWebhooks.userId, workspace.userId));
  // No workspace on the job: a delivery must never wait for (or hold up) the workspace's jobs.
  if (webhook && row)
    await enqueueJob(executor as Database, {
      kind: notificationDeliveryJobKind,
      payload: { notificationId: row.id },
      maxAttempts: 6,
    });
}

function describeSessionStatus(workspaceName: string, session: SessionInfo): string {
  const where = `${session.name} in ${workspaceName}`;
  const detail = session.statusMessage ? `: ${session.statusMessage}` : "";
  if (session.status === "waiting") return `${where} needs input${detail}`;
  if (session.status === "done") return `${where} is done${detail}`;
  return `${where} reported an error${detail}`;
}

function describeComingStop(workspaceName: string, stop: { at: Date; reason: string | null }) {
  const time = stop.at.toISOString().slice(11, 16);
  const minutes = Math.max(1, Math.round((stop.at.getTime() - Date.now()) / 60_000));
  const why = stop.reason ? `: ${stop.reason}` : "";
  return `${workspaceName} stops at ${time} UTC (in ${minutes} minute${minutes === 1 ? "" : "s"})${why}. Type in one of its terminals to keep it running.`;
}
