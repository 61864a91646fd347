import { and, asc, eq, gt, inArray, gte, lt, lte, sql } from "drizzle-orm";
import type { Database } from "../../db/client.ts";
import { jobEvents, jobs } from "../../db/schema.ts";

// The job queue (SPEC §7): each function is one statement or one short transaction over the
// `jobs` table, so any number of worker processes can share it. `locked_by` names the worker
// that took the job last; it stays on finished jobs as a record, while `locked_until` (the
// lease) is only set while the job runs.

export type Job = typeof jobs.$inferSelect;
export type JobEvent = typeof jobEvents.$inferSelect;
export type JobEventLevel = JobEvent["level"];

export type EnqueueJobInput = {
  kind: string;
  workspaceId?: string | null;
  payload?: Record<string, unknown>;
  runAt?: Date;
  maxAttempts?: number;
  /** Only one queued or running job may hold a key; enqueueing it again returns that job. */
  uniqueKey?: string;
};

export type BackoffSettings = { baseMs: number; capMs: number };

export const defaultBackoff: BackoffSettings = { baseMs: 2_000, capMs: 10 * 60_000 };

export type FailJobResult = { status: "queued"; runAt: Date } | { status: "failed" };

// Literal statuses, not parameters: a generic plan can then still prove the partial indexes'
// predicates and walk jobs_ready_index in order.
const waiting = sql`${jobs.status} in ('queued', 'running')`;
const isQueued = sql`${jobs.status} = 'queued'`;
const isRunning = sql`${jobs.status} = 'running'`;
// Long enough for any message worth reading, short enough that one bad job cannot bloat the table.
const maxErrorLength = 4_000;
const uniqueViolation = "23505";
// The statements every job runs are prepared (drizzle's prepare() makes postgres.js keep a
// named statement per connection): parsing and planning them on each call cost the worker
// more than half its throughput in e2e/bench/queue.ts.

export async function enqueueJob(db: Database, input: EnqueueJobInput): Promise<Job> {
  const values = {
    kind: input.kind,
    workspaceId: input.workspaceId ?? null,
    payload: input.payload ?? {},
    runAt: input.runAt,
    maxAttempts: input.maxAttempts,
    uniqueKey: input.uniqueKey ?? null,
  };
  if (input.uniqueKey === undefined) {
    const [job] = await db.insert(jobs).values(values).returning().prepare("enqueue_job").execute();
    return job!;
  }
  // The job holding the key may finish between our insert and our select; then the key is
  // free again and the next insert succeeds, so a few rounds always settle.
  for (let round = 0; round < 5; round++) {
    const [inserted] = await db
      .insert(jobs)
      .values(values)
      .onConflictDoNothing({ target: jobs.uniqueKey, where: waiting })
      .returning();
    if (inserted) return inserted;
    const [existing] = await db
      .select()
      .from(jobs)
      .where(and(eq(jobs.uniqueKey, input.uniqueKey), waiting))
      .limit(1);
    if (existing) return existing;
  }
  throw new Error(`could not enqueue job with unique key ${input.uniqueKey}; try again`);
}

export type AcquireJobOptions = {
  workerId: string;
  leaseSeconds: number;
  /** Only these kinds; every kind when omitted. */
  kinds?: readonly string[];
};

/**
 * Fails running jobs whose lease ran out on their last attempt: a job that takes its worker
 * down with it (out of memory, say) would otherwise be re-taken forever.
 */
export async function failAbandonedJobs(db: Database): Promise<Job[]> {
  return db
    .update(jobs)
    .set({
      status: "failed",
      lockedBy: null,
      lockedUntil: null,
      finishedAt: sql`now()`,
      updatedAt: sql`now()`,
      lastError: sql`'Its worker stopped responding during each of its ' || ${jobs.attempts} || ' attempts (killed, or out of memory?). See the worker logs.'`,
    })
    .where(and(isRunning, lt(jobs.lockedUntil, sql`now()`), gte(jobs.attempts, jobs.maxAttempts)))
    .returning();
}

/**
 * Takes the next job: first a running job whose lease ran out (its worker died; taking it
 * counts as a new attempt), else the oldest queued job that is due and whose workspace has
 * no running job. Returns null when there is nothing to do.
 */
export async function acquireJob(db: Database, options: AcquireJobOptions): Promise<Job | null> {
  const [job] = await acquireJobs(db, options, 1);
  return job ?? null;
}

/**
 * Takes up to `limit` jobs in one statement, by the same rules as acquireJob: running jobs
 * whose lease ran out first, then the oldest due queued ones, at most one per workspace and
 * none of a workspace that has a running job. The runner asks for as many as it has slots
 * waiting, so a backlog costs one statement per batch rather than per job (ADR 0026).
 */
export async function acquireJobs(
  db: Database,
  options: AcquireJobOptions,
  limit: number,
): Promise<Job[]> {
  // Two workers can each pick a different job of the same workspace in the same instant;
  // jobs_one_running_per_workspace lets one through and the other fails with 23505. The
  // loser looks again: by then the winner's job is visible as running and is skipped.
  for (let round = 0; round < 3; round++) {
    try {
      return await preparedAcquire(db, options.kinds).execute({
        workerId: options.workerId,
        leaseSeconds: options.leaseSeconds,
        limit,
      });
    } catch (error) {
      if (databaseErrorCode(error) !== uniqueViolation) throw error;
    }
  }
  return [];
}

// Built once per database handle and kind list: drizzle takes longer to build this statement
// than PostgreSQL takes to run it.
const acquireStatements = new WeakMap<Database, Map<string, AcquireStatement>>();
type AcquireStatement = ReturnType<typeof prepareAcquire>;

function preparedAcquire(db: Database, kinds: readonly string[] | undefined): AcquireStatement {
  let byKinds = acquireStatements.get(db);
  if (!byKinds) acquireStatements.set(db, (byKinds = new Map()));
  const key = JSON.stringify(kinds ?? null);
  let statement = byKinds.get(key);
  if (!statement) byKinds.set(key, (statement = prepareAcquire(db, kinds)));
  return statement;
}

function prepareAcquire(db: Database, kinds: readonly string[] | undefined) {
  const ofKind = kinds ? inArray(jobs.kind, [...kinds]) : undefined;
  const limit = sql.placeholder("limit");
  const expired = db
    .select({ id: jobs.id })
    .from(jobs)
    .where(
      and(isRunning, lt(jobs.lockedUntil, sql`now()`), lt(jobs.attempts, jobs.maxAttempts), ofKind),
    )
    .orderBy(asc(jobs.lockedUntil))
    .limit(limit)
    .for("update", { skipLocked: true });
  // Any other running job blocks the workspace, even one whose lease ran out: that one is
  // taken again (above) rather than started alongside.
  const workspaceIdle = sql`not exists (select 1 from ${jobs} as other_job where other_job.workspace_id = ${jobs.workspaceId} and other_job.status = 'running')`;
  const ready = db
    .select({ id: jobs.id, workspaceId: jobs.workspaceId, runAt: jobs.runAt })
    .from(jobs)
    .where(and(isQueued, lte(jobs.runAt, sql`now()`), ofKind, workspaceIdle))
    .orderBy(asc(jobs.runAt), asc(jobs.id))
    .limit(limit)
    .for("update", { skipLocked: true });
  // Two due jobs of one workspace may both be idle-looking: only the older one is taken.
  // An expired job's workspace has a running job, so none of its ready jobs is a candidate.
  const candidates = sql`select id from (
      select e.id, 0 as preference from (${expired}) as e
      union all
      (select distinct on (coalesce(r.workspace_id::text, r.id::text)) r.id, 1 as preference
       from (${ready}) as r order by coalesce(r.workspace_id::text, r.id::text), r.run_at, r.id)
    ) as candidate order by preference limit ${limit}`;
  return db
    .update(jobs)
    .set({
      status: "running",
      attempts: sql`${jobs.attempts} + 1`,
      lockedBy: sql`${sql.placeholder("workerId")}`,
      lockedUntil: sql`now() + make_interval(secs => ${sql.placeholder("leaseSeconds")})`,
      startedAt: sql`now()`,
      updatedAt: sql`now()`,
    })
    .where(sql`${jobs.id} in (${candidates})`)
    .returning()
    .prepare("acquire_jobs");
}

/** Extends the lease; false when the job is no longer ours (taken over, canceled, done). */
export async function renewLease(
  db: Database,
  jobId: number,
  workerId: string,
  leaseSeconds: number,
): Promise<boolean> {
  const rows = await db
    .update(jobs)
    .set({ lockedUntil: leaseEnd(leaseSeconds) })
    .where(heldBy(jobId, workerId))
    .returning({ id: jobs.id })
    .prepare("renew_lease")
    .execute();
  return rows.length > 0;
}

/** Marks the job succeeded; false when it is no longer ours, so the outcome was not kept. */
export async function completeJob(db: Database, jobId: number, workerId: string): Promise<boolean> {
  return (await completeJobs(db, [jobId], workerId)).has(jobId);
}

/**
 * Marks several jobs succeeded in one statement; answers those that were still ours (the
 * others were canceled or taken over, and their outcome was not kept).
 */
export async function completeJobs(
  db: Database,
  jobIds: readonly number[],
  workerId: string,
): Promise<Set<number>> {
  const rows = await db
    .update(jobs)
    .set({
      status: "succeeded",
      lockedUntil: null,
      finishedAt: sql`now()`,
      updatedAt: sql`now()`,
    })
    .where(
      and(
        sql`${jobs.id} = any(${sql.placeholder("jobIds")}::bigint[])`,
        eq(jobs.lockedBy, sql.placeholder("workerId")),
        isRunning,
      ),
    )
    .returning({ id: jobs.id })
    .prepare("complete_jobs")
    .execute({ jobIds: [...jobIds], workerId });
  return new Set(rows.map((row) => row.id));
}

/**
 * Records a failed attempt: the job is queued again after a backoff, or fails for good when
 * it ran out of attempts or the error is not retryable. Null when the job is no longer ours.
 */
export async function failJob(
  db: Database,
  jobId: number,
  workerId: string,
  message: string,
  options: {
    retryable?: boolean;
    backoff?: BackoffSettings;
    /** The earliest the next attempt may run (a provider's Retry-After); backoff if later. */
    minDelayMs?: number;
  } = {},
): Promise<FailJobResult | null> {
  const lastError = message.slice(0, maxErrorLength);
  return db.transaction(async (tx) => {
    const [job] = await tx
      .select({ attempts: jobs.attempts, maxAttempts: jobs.maxAttempts })
      .from(jobs)
      .where(heldBy(jobId, workerId))
      .for("update");
    if (!job) return null;
    if ((options.retryable ?? true) && job.attempts < job.maxAttempts) {
      const delayMs = Math.max(
        computeBackoffMs(job.attempts, options.backoff),
        options.minDelayMs ?? 0,
      );
      const [queued] = await tx
        .update(jobs)
        .set({
          status: "queued",
          runAt: sql`now() + make_interval(secs => ${delayMs / 1000})`,
          lockedUntil: null,
          lastError,
          updatedAt: sql`now()`,
        })
        .where(eq(jobs.id, jobId))
        .returning({ runAt: jobs.runAt });
      return { status: "queued" as const, runAt: queued!.runAt };
    }
    await tx
      .update(jobs)
      .set({
        status: "failed",
        lockedUntil: null,
        lastError,
        finishedAt: sql`now()`,
        updatedAt: sql`now()`,
      })
      .where(eq(jobs.id, jobId));
    return { status: "failed" as const };
  });
}

/**
 * Exponential backoff with full jitter: a random delay between zero and base·2^(attempt-1),
 * capped, so retries of many jobs that failed together spread out instead of returning as
 * one wave.
 */
export function computeBackoffMs(
  attempt: number,
  settings: BackoffSettings = defaultBackoff,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(settings.capMs, settings.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

/**
 * Hands a running job back (the worker is shutting down): queued again at once, and the
 * attempt it was on does not count against it.
 */
export async function releaseJob(db: Database, jobId: number, workerId: string): Promise<boolean> {
  const rows = await db
    .update(jobs)
    .set({
      status: "queued",
      attempts: sql`greatest(${jobs.attempts} - 1, 0)`,
      runAt: sql`now()`,
      lockedUntil: null,
      updatedAt: sql`now()`,
    })
    .where(heldBy(jobId, workerId))
    .returning({ id: jobs.id });
  return rows.length > 0;
}

/**
 * Cancels a queued or running job; null when it had already finished. A running handler
 * learns of it at its next lease renewal, which is refused.
 */
export async function cancelJob(db: Database, jobId: number): Promise<Job | null> {
  const [job] = await db
    .update(jobs)
    .set({
      status: "canceled",
      lockedUntil: null,
      finishedAt: sql`now()`,
      updatedAt: sql`now()`,
    })
    .where(and(eq(jobs.id, jobId), waiting))
    .returning();
  return job ?? null;
}

export async function appendJobEvent(
  db: Database,
  jobId: number,
  level: JobEventLevel,
  message: string,
): Promise<JobEvent> {
  const [event] = await db.insert(jobEvents).values({ jobId, level, message }).returning();
  return event!;
}

/** A job's log lines in order, those after `afterId` only (for live tails), at most 1,000. */
export async function listJobEvents(db: Database, jobId: number, afterId = 0): Promise<JobEvent[]> {
  return db
    .select()
    .from(jobEvents)
    .where(and(eq(jobEvents.jobId, jobId), gt(jobEvents.id, afterId)))
    .orderBy(asc(jobEvents.id))
    .limit(1_000);
}

/** The PostgreSQL error code (SQLSTATE) of an error, also when drizzle wrapped it. */
export function databaseErrorCode(error: unknown): string | undefined {
  for (let current = error; typeof current === "object" && current !== null;) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function heldBy(jobId: number, workerId: string) {
  return and(eq(jobs.id, jobId), eq(jobs.lockedBy, workerId), isRunning);
}

function leaseEnd(leaseSeconds: number) {
  return sql`now() + make_interval(secs => ${leaseSeconds})`;
}
