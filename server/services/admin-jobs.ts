import { and, desc, eq, inArray, lt, ne, sql } from "drizzle-orm";
import type { Database } from "../../db/client.ts";
import { jobs, workspaces, type JobStatus, type WorkspaceState } from "../../db/schema.ts";
import { AppError } from "../errors.ts";
import { cancelJob, listJobEvents } from "../jobs/queue.ts";
import { recordAuditEvent, type DatabaseExecutor } from "./audit.ts";
import type { Owner } from "./owner.ts";
import { canTransition } from "./workspace-states.ts";
import { transitionWorkspace, transitionWorkspaceIf, workspaceJobKinds } from "./workspaces.ts";

// The job side of the admin dashboard (SPEC §7, §11): it reads the queue's own rows, and
// its two actions (retry, cancel) keep each job's workspace consistent with the job.

export type JobFilter = {
  status?: JobStatus;
  kind?: string;
  workspaceId?: string;
  /** The id of the last job of the previous page; newer ones are not listed again. */
  cursor?: number;
  limit: number;
};

/** What the jobs table shows: no payload (it is on the detail view). */
const listColumns = {
  id: jobs.id,
  kind: jobs.kind,
  workspaceId: jobs.workspaceId,
  status: jobs.status,
  attempts: jobs.attempts,
  maxAttempts: jobs.maxAttempts,
  runAt: jobs.runAt,
  lockedBy: jobs.lockedBy,
  lastError: jobs.lastError,
  createdAt: jobs.createdAt,
  startedAt: jobs.startedAt,
  finishedAt: jobs.finishedAt,
};

/** Newest first; ids only grow, so the last id of a page is a stable cursor. */
export async function listAdminJobs(db: Database, filter: JobFilter) {
  const rows = await db
    .select(listColumns)
    .from(jobs)
    .where(
      and(
        filter.status ? eq(jobs.status, filter.status) : undefined,
        filter.kind ? eq(jobs.kind, filter.kind) : undefined,
        filter.workspaceId ? eq(jobs.workspaceId, filter.workspaceId) : undefined,
        filter.cursor === undefined ? undefined : lt(jobs.id, filter.cursor),
      ),
    )
    .orderBy(desc(jobs.id))
    .limit(filter.limit + 1);
  const items = rows.slice(0, filter.limit);
  const nextCursor = rows.length > filter.limit ? items.at(-1)!.id : null;
  return { items, nextCursor };
}

const jobNotFound = (id: number) =>
  new AppError("NOT_FOUND", `There is no job #${id}. Pick one from admin.jobs.list.`);

/** One job with its payload and its log lines. */
export async function getAdminJob(db: Database, id: number) {
  const [job] = await db
    .select({ ...listColumns, payload: jobs.payload, updatedAt: jobs.updatedAt })
    .from(jobs)
    .where(eq(jobs.id, id));
  if (!job) throw jobNotFound(id);
  return { ...job, events: await listJobEvents(db, id) };
}

export type ThroughputBucket = { minute: Date; succeeded: number; failed: number };

/** Jobs finished in each of the last 60 minutes (the current one last), empty minutes too. */
export async function readJobThroughput(db: Database): Promise<ThroughputBucket[]> {
  const rows = await db.execute<{ minute: string; succeeded: number; failed: number }>(
    sql`select to_json(minutes.minute)#>>'{}' as minute,
               count(*) filter (where ${jobs.status} = 'succeeded')::int as succeeded,
               count(*) filter (where ${jobs.status} = 'failed')::int as failed
          from generate_series(date_trunc('minute', now()) - interval '59 minutes',
                               date_trunc('minute', now()), interval '1 minute') as minutes(minute)
          left join ${jobs}
            on ${jobs.finishedAt} >= minutes.minute
           and ${jobs.finishedAt} < minutes.minute + interval '1 minute'
           and ${jobs.status} in ('succeeded', 'failed')
         group by minutes.minute
         order by minutes.minute`,
  );
  return rows.map((row) => ({
    minute: new Date(row.minute),
    succeeded: row.succeeded,
    failed: row.failed,
  }));
}

// The states a workspace is in while each job kind works on it; a retry puts it back in
// the first, a cancel moves it from any of them to error.
const workingStates: Record<string, readonly [WorkspaceState, ...WorkspaceState[]]> = {
  [workspaceJobKinds.provision]: ["provisioning", "booting"],
  [workspaceJobKinds.start]: ["starting", "booting"],
  [workspaceJobKinds.stop]: ["stopping"],
  [workspaceJobKinds.delete]: ["deleting"],
};

type LockedJob = typeof jobs.$inferSelect;

async function lockJob(tx: DatabaseExecutor, id: number): Promise<LockedJob> {
  const [job] = await tx.select().from(jobs).where(eq(jobs.id, id)).for("update");
  if (!job) throw jobNotFound(id);
  return job;
}

/**
 * Queues a failed or canceled job again from scratch (attempts 0, due now). Its last error
 * stays until it runs. A workspace job first puts its workspace back in the state the job
 * works in, where the state machine allows it.
 */
export async function retryAdminJob(db: Database, admin: Owner, id: number) {
  await db.transaction(async (tx) => {
    const job = await lockJob(tx, id);
    if (job.status !== "failed" && job.status !== "canceled")
      throw new AppError(
        "CONFLICT",
        `Job #${id} is ${job.status}; only a failed or canceled job can be retried. Refresh the list to see where it is now.`,
      );
    if (job.workspaceId) {
      await assertWorkspaceIdle(tx, job, job.workspaceId);
      await reviveWorkspace(tx, job, job.workspaceId);
    }
    await tx
      .update(jobs)
      .set({
        status: "queued",
        attempts: 0,
        runAt: sql`now()`,
        lockedUntil: null,
        finishedAt: null,
        // A periodic job's key would clash with the next scheduled run, which is already
        // waiting: the retry is one extra run now, outside the schedule.
        uniqueKey: null,
        updatedAt: sql`now()`,
      })
      .where(eq(jobs.id, id));
    await recordAuditEvent(tx, {
      actorSubject: admin.auditSubject,
      action: "admin.job.retry",
      targetType: "job",
      targetId: String(id),
      details: { kind: job.kind, workspaceId: job.workspaceId },
    });
  });
  return getAdminJob(db, id);
}

/** Another waiting job of the workspace would do (or undo) the work of the retried one. */
async function assertWorkspaceIdle(tx: DatabaseExecutor, job: LockedJob, workspaceId: string) {
  const [other] = await tx
    .select({ id: jobs.id, kind: jobs.kind, status: jobs.status })
    .from(jobs)
    .where(
      and(
        eq(jobs.workspaceId, workspaceId),
        ne(jobs.id, job.id),
        inArray(jobs.status, ["queued", "running"]),
      ),
    )
    .limit(1);
  if (other)
    throw new AppError(
      "CONFLICT",
      `Job #${other.id} (${other.kind}) is already ${other.status} for this workspace. Wait for it to finish, then retry job #${job.id} if it is still needed.`,
    );
}

async function reviveWorkspace(tx: DatabaseExecutor, job: LockedJob, workspaceId: string) {
  const target = workingStates[job.kind]?.[0];
  const [workspace] = await tx
    .select({ state: workspaces.state, deletedAt: workspaces.deletedAt })
    .from(workspaces)
    .where(eq(workspaces.id, workspaceId))
    .for("update");
  if (!target || !workspace || workspace.deletedAt)
    throw new AppError(
      "CONFLICT",
      `Job #${job.id} (${job.kind}) cannot be retried: its workspace is gone or the kind is unknown.`,
    );
  if (workspace.state === target) return;
  if (workspace.state === "error" && canTransition("error", target)) {
    await transitionWorkspace(
      tx,
      workspaceId,
      target,
      `An admin retried job #${job.id} (${job.kind})`,
      "system",
    );
    return;
  }
  if (job.kind === workspaceJobKinds.provision)
    throw new AppError(
      "CONFLICT",
      `Job #${job.id} provisioned a workspace that is now ${workspace.state}; a provision cannot be retried. Start the workspace from its page instead (it will make a fresh server).`,
    );
  throw new AppError(
    "CONFLICT",
    `Job #${job.id} (${job.kind}) works on a ${target} workspace, but the workspace is ${workspace.state}. Act on the workspace from its page instead.`,
  );
}

/**
 * Cancels a queued or running job (a running handler stops at its next lease renewal). A
 * workspace the job was working on goes to `error`, so its owner can start or delete it
 * again instead of waiting for a job that will not come.
 */
export async function cancelAdminJob(db: Database, admin: Owner, id: number) {
  await db.transaction(async (tx) => {
    const job = await lockJob(tx, id);
    const canceled = await cancelJob(tx, id);
    if (!canceled)
      throw new AppError(
        "CONFLICT",
        `Job #${id} is ${job.status}; only a queued or running job can be canceled.`,
      );
    const states = workingStates[job.kind];
    if (job.workspaceId && states)
      await transitionWorkspaceIf(
        tx,
        job.workspaceId,
        states,
        "error",
        `An admin canceled its ${job.kind} job (#${id}). Start or delete the workspace again.`,
        "system",
      );
    await recordAuditEvent(tx, {
      actorSubject: admin.auditSubject,
      action: "admin.job.cancel",
      targetType: "job",
      targetId: String(id),
      details: { kind: job.kind, workspaceId: job.workspaceId },
    });
  });
  return getAdminJob(db, id);
}
