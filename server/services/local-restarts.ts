import { and, eq, inArray, isNull } from "drizzle-orm";
import type { Database } from "../../db/client.ts";
import { jobs, workspaces, type WorkspaceState } from "../../db/schema.ts";
import { enqueueJob, releaseJob } from "../jobs/queue.ts";
import { transitionWorkspace, workspaceJobKinds } from "./workspaces.ts";

// What `npm start` does with the one-machine workspaces it finds on start-up (ADR 0024): the
// last run ended (Ctrl-C, a crash, a reboot) and may have taken agents and a worker with it.
// A workspace that was running comes back running: its agent still answers, or it is
// restarted (the folder keeps /workspace). One half-way through a step gets that step's job
// again. Every change goes through the state machine and the job queue.

type LocalWorkspace = { id: string; state: WorkspaceState; agentUrl: string | null };

export type LocalRestartSettings = {
  maxAttempts: number;
  /** The last run's workers, gone now: their running jobs are handed back at once. */
  previousWorkerIds: readonly string[];
  isAgentUp: (workspace: LocalWorkspace) => Promise<boolean>;
};

export type LocalRestartSummary = { kept: number; restarted: number; resumed: number };

// The states a step is under way in, and the job that does it.
const stepJobs: Partial<Record<WorkspaceState, string>> = {
  provisioning: workspaceJobKinds.provision,
  starting: workspaceJobKinds.start,
  stopping: workspaceJobKinds.stop,
  deleting: workspaceJobKinds.delete,
};
const unsettledStates: WorkspaceState[] = [
  "provisioning",
  "booting",
  "starting",
  "stopping",
  "deleting",
];
const agentStates: WorkspaceState[] = ["running", "booting"];

export async function restartLocalWorkspaces(
  db: Database,
  settings: LocalRestartSettings,
): Promise<LocalRestartSummary> {
  await handBackJobsOf(db, settings.previousWorkerIds);
  const summary: LocalRestartSummary = { kept: 0, restarted: 0, resumed: 0 };
  const found = await listLocalWorkspaces(db, [...agentStates, ...unsettledStates]);
  const waiting = await workspacesWithWaitingJobs(db);
  for (const workspace of found) {
    if (waiting.has(workspace.id)) summary.resumed++;
    else if (agentStates.includes(workspace.state)) {
      if (await settings.isAgentUp(workspace)) {
        await noteAgentAnswered(db, workspace.id);
        summary.kept++;
      } else {
        await restartWorkspace(db, workspace, settings.maxAttempts);
        summary.restarted++;
      }
    } else {
      await enqueueJob(db, {
        kind: stepJobs[workspace.state]!,
        workspaceId: workspace.id,
        maxAttempts: settings.maxAttempts,
      });
      summary.resumed++;
    }
  }
  return summary;
}

/** Local workspaces still on their way somewhere; `npm start` says Ready when there are none. */
export async function countUnsettledLocalWorkspaces(db: Database): Promise<number> {
  return (await listLocalWorkspaces(db, unsettledStates)).length;
}

async function listLocalWorkspaces(
  db: Database,
  states: WorkspaceState[],
): Promise<LocalWorkspace[]> {
  return db
    .select({ id: workspaces.id, state: workspaces.state, agentUrl: workspaces.agentUrl })
    .from(workspaces)
    .where(
      and(
        eq(workspaces.provider, "local"),
        inArray(workspaces.state, states),
        isNull(workspaces.deletedAt),
      ),
    );
}

/**
 * A killed worker's running jobs would wait out their lease (JOB_LEASE_SECONDS); its process
 * is gone (the launcher made sure), so they are queued again now, the attempt not counted.
 */
async function handBackJobsOf(db: Database, workerIds: readonly string[]): Promise<void> {
  if (workerIds.length === 0) return;
  const held = await db
    .select({ id: jobs.id, lockedBy: jobs.lockedBy })
    .from(jobs)
    .where(and(eq(jobs.status, "running"), inArray(jobs.lockedBy, [...workerIds])));
  for (const job of held) await releaseJob(db, job.id, job.lockedBy!);
}

async function workspacesWithWaitingJobs(db: Database): Promise<Set<string>> {
  const rows = await db
    .select({ workspaceId: jobs.workspaceId })
    .from(jobs)
    .where(inArray(jobs.status, ["queued", "running"]));
  return new Set(rows.map((row) => row.workspaceId).filter((id): id is string => !!id));
}

/**
 * The agent answered just now: that counts as its heartbeat, so a downtime longer than
 * HEARTBEAT_TIMEOUT_SECONDS does not put a live workspace in `error` before its next one.
 */
async function noteAgentAnswered(db: Database, id: string): Promise<void> {
  await db.update(workspaces).set({ lastHeartbeatAt: new Date() }).where(eq(workspaces.id, id));
}

/**
 * Its agent ended with the last run: the workspace is stopped (what it is: nothing of it
 * runs, its folder is kept) and started again, as the user left it running. The start job
 * replaces the dead "server".
 */
async function restartWorkspace(
  db: Database,
  workspace: LocalWorkspace,
  maxAttempts: number,
): Promise<void> {
  await db.transaction(async (tx) => {
    await transitionWorkspace(
      tx,
      workspace.id,
      "stopping",
      "Its agent ended with the last run of `npm start`",
      "system",
    );
    await transitionWorkspace(
      tx,
      workspace.id,
      "stopped",
      "No agent runs any more; the folder keeps /workspace",
      "system",
      {
        serverId: null,
        ipv4: null,
        agentUrl: null,
        agentTokenHash: null,
        bootstrapTokenHash: null,
        bootstrapExpiresAt: null,
      },
    );
    await transitionWorkspace(
      tx,
      workspace.id,
      "starting",
      "Restarted by `npm start`: it was running when the last run ended",
      "system",
    );
    await enqueueJob(tx, {
      kind: workspaceJobKinds.start,
      workspaceId: workspace.id,
      maxAttempts,
    });
  });
}
