import type postgres from "postgres";
import type { Database } from "../../db/client.ts";
import type { Logger } from "../logger.ts";
import {
  acquireJobs,
  appendJobEvent,
  completeJobs,
  failAbandonedJobs,
  failJob,
  releaseJob,
  renewLease,
  type BackoffSettings,
  type Job,
  type JobEventLevel,
} from "./queue.ts";
import { createCoalescer } from "./coalesce.ts";
import { describeError, describeFailure, retryAfterOf } from "./job-errors.ts";
import { keepLease, type LeaseLoss } from "./lease-keeper.ts";

export type JobContext = {
  /**
   * Aborted when the job is canceled, its lease is lost or about to run out unrenewed, or the
   * worker drains past its grace. Pass it to every provider and DNS client: the job is handed
   * on only after the handler settled, so no request of an aborted job lands later.
   */
  signal: AbortSignal;
  /** Adds a line to the job's log (job_events), shown to users and admins. */
  log: (level: JobEventLevel, message: string) => Promise<void>;
};

export type JobHandler = (job: Job, context: JobContext) => Promise<void>;

/** Thrown by a handler when retrying cannot help: the job fails at once. */
export class PermanentJobError extends Error {
  readonly retryable = false;
  override readonly name = "PermanentJobError";
}

export type JobRunnerOptions = {
  db: Database;
  /** The postgres.js client under `db`, for LISTEN. */
  sql: postgres.Sql;
  workerId: string;
  handlers: Record<string, JobHandler>;
  concurrency: number;
  leaseSeconds: number;
  /**
   * How often each idle slot looks for work unprompted: the fallback when a notification is
   * missed, and how jobs are found once their run_at arrives (nothing notifies then).
   */
  pollIntervalMs: number;
  logger: Logger;
  /** Called once when a job fails for good (out of attempts or not retryable). */
  onFinalFailure?: (job: Job, error: unknown) => Promise<void> | void;
  /** Called as each handler run settles, before its outcome is written (metrics; must not throw). */
  onJobSettled?: (sample: JobSettled) => void;
  /**
   * How long drain() lets running handlers finish before aborting them; each job is released
   * once its handler has settled, so another worker never runs it alongside.
   */
  drainGraceMs?: number;
  /** Pause before trying again after a database error. */
  retryPauseMs?: number;
  backoff?: BackoffSettings;
};

export type JobSettled = {
  kind: string;
  /** released: cut short by a drain or an unrenewable lease, and handed back. */
  outcome: "succeeded" | "failed" | "released";
  seconds: number;
};

export type JobRunner = { start: () => Promise<void>; drain: () => Promise<void> };

type RunningJob = {
  job: Job;
  /** By our clock, before the job was taken: its lease ends no earlier than this + lease. */
  takenAt: number;
  log: Logger;
  controller: AbortController;
  /**
   * Set by drain and by an unrenewable lease: a handler that ends in an error hands the job
   * back instead of failing it (the attempt was cut short, it did not fail).
   */
  releasing: boolean;
  stopLease: () => void;
};

type Taken = { job: Job; takenAt: number };

type Outcome = { ok: true } | { ok: false; error: unknown };

const jobChannel = "caw_jobs";

/**
 * Runs jobs from the queue: `concurrency` slots, each taking and running one job after
 * another; idle slots are woken by NOTIFY on `caw_jobs` and by a poll. It keeps going
 * through database outages: every error is logged and retried.
 */
export function createJobRunner(options: JobRunnerOptions): JobRunner {
  const { db, workerId, logger, leaseSeconds } = options;
  const retryPauseMs = options.retryPauseMs ?? 1_000;
  const running = new Map<number, RunningJob>();
  const idle = createIdleSlots();
  const slots: Promise<void>[] = [];
  let healthy = true;
  let draining = false;
  let abandoned = false;
  let unlisten: (() => Promise<void>) | undefined;
  // Slots that look for a job, or report one done, while another slot's statement is under
  // way go together in the next statement (ADR 0026): one per batch, not one per job.
  const take = createCoalescer(async (asks: null[]): Promise<(Taken | null)[]> => {
    // By our clock, before the statement: each lease ends no earlier than this + lease.
    const takenAt = Date.now();
    const jobs = await acquireJobs(db, { workerId, leaseSeconds }, asks.length);
    return asks.map((_, index) => (jobs[index] ? { job: jobs[index], takenAt } : null));
  });
  const complete = createCoalescer(async (jobIds: number[]) => {
    const kept = await completeJobs(db, jobIds, workerId);
    return jobIds.map((jobId) => kept.has(jobId));
  });

  async function runSlot(): Promise<void> {
    while (!draining) {
      const taken = await takeJob();
      if (taken === "error") await idle.wait(retryPauseMs);
      else if (!taken) await idle.wait(options.pollIntervalMs);
      else {
        // There may be more where this came from: let another idle slot look too, so a
        // backlog gets every slot within a few round trips.
        idle.wakeOne();
        await runJob(taken);
      }
    }
  }

  async function takeJob(): Promise<Taken | null | "error"> {
    try {
      const taken = await take(null);
      const job = taken?.job;
      if (!healthy) logger.info("job queue reachable again");
      healthy = true;
      if (!job) await failAbandoned();
      if (job && draining) {
        // drain() began while this job was being taken: hand it straight back.
        await releaseJob(db, job.id, workerId);
        return null;
      }
      return taken;
    } catch (error) {
      // Log the first failure of an outage loudly and the rest quietly, then keep trying.
      logger[healthy ? "error" : "debug"](describeError(error), "job queue unreachable; retrying");
      healthy = false;
      return "error";
    }
  }

  async function failAbandoned(): Promise<void> {
    for (const job of await failAbandonedJobs(db)) {
      const log = logger.child({ jobId: job.id, kind: job.kind, attempt: job.attempts });
      log.warn("job failed: its worker stopped responding on its last attempt");
      await options.onFinalFailure?.(
        job,
        new Error(job.lastError ?? "its worker stopped responding"),
      );
    }
  }

  async function runJob({ job, takenAt }: Taken): Promise<void> {
    const entry: RunningJob = {
      job,
      takenAt,
      log: logger.child({ jobId: job.id, kind: job.kind, attempt: job.attempts }),
      controller: new AbortController(),
      releasing: false,
      stopLease: () => {},
    };
    running.set(job.id, entry);
    try {
      await executeJob(entry);
    } catch (error) {
      entry.log.error(describeError(error), "job runner failed on a job");
    } finally {
      running.delete(job.id);
    }
  }

  async function executeJob(entry: RunningJob): Promise<void> {
    const startedAt = performance.now();
    entry.log.debug("job started");
    entry.stopLease = keepJobLease(entry);
    let outcome: Outcome;
    try {
      await runHandler(entry);
      outcome = { ok: true };
    } catch (error) {
      outcome = { ok: false, error };
    } finally {
      entry.stopLease();
    }
    const seconds = (performance.now() - startedAt) / 1000;
    const settled = outcome.ok ? "succeeded" : entry.releasing ? "released" : "failed";
    options.onJobSettled?.({ kind: entry.job.kind, outcome: settled, seconds });
    await recordOutcome(entry, outcome, Math.round(seconds * 1000));
  }

  async function runHandler({ job, controller }: RunningJob): Promise<void> {
    const handler = options.handlers[job.kind];
    if (!handler) {
      throw new PermanentJobError(
        `no handler for job kind "${job.kind}" in this worker; is the worker older than the code that enqueued it?`,
      );
    }
    const log = async (level: JobEventLevel, message: string) => {
      await appendJobEvent(db, job.id, level, message);
    };
    await handler(job, { signal: controller.signal, log });
  }

  async function recordOutcome(entry: RunningJob, outcome: Outcome, durationMs: number) {
    const { job, log } = entry;
    if (outcome.ok) {
      const kept = await persist(entry, () => complete(job.id));
      if (kept) log.info({ durationMs }, "job succeeded");
      else log.warn({ durationMs }, "job finished after it was canceled or taken over");
    } else if (entry.releasing) {
      const kept = await persist(entry, () => releaseJob(db, job.id, workerId));
      if (kept) log.info({ durationMs }, "job released for another worker");
      else log.warn({ durationMs }, "job stopped after it was canceled or taken over");
    } else {
      await recordFailure(entry, outcome.error, durationMs);
    }
  }

  async function recordFailure(entry: RunningJob, error: unknown, durationMs: number) {
    const { job, log } = entry;
    const reason = describeFailure(error);
    const result = await persist(entry, () =>
      failJob(db, job.id, workerId, reason, {
        retryable: isRetryable(error),
        backoff: options.backoff,
        minDelayMs: retryAfterOf(error),
      }),
    );
    if (!result) {
      log.warn({ durationMs, reason }, "job failed after it was canceled or taken over");
    } else if (result.status === "queued") {
      log.warn({ durationMs, reason, runAt: result.runAt }, "job failed; will retry");
    } else {
      log.error({ durationMs, reason }, "job failed for good");
      await reportFinalFailure(entry, error);
    }
  }

  async function reportFinalFailure({ job, log }: RunningJob, error: unknown): Promise<void> {
    try {
      await options.onFinalFailure?.(job, error);
    } catch (hookError) {
      log.error(describeError(hookError), "onFinalFailure failed");
    }
  }

  /** Keeps trying to write a job's outcome through a database outage (until drain gives up). */
  async function persist<T>(entry: RunningJob, write: () => Promise<T>): Promise<T | undefined> {
    for (;;) {
      try {
        return await write();
      } catch (error) {
        if (abandoned) return undefined;
        entry.log.warn(describeError(error), "could not record the job's outcome; retrying");
        await delay(retryPauseMs);
      }
    }
  }

  function keepJobLease(entry: RunningJob): () => void {
    return keepLease({
      leaseSeconds,
      takenAt: entry.takenAt,
      renew: () => renewLease(db, entry.job.id, workerId, leaseSeconds),
      onRenewError: (error) =>
        entry.log.warn(describeError(error), "could not renew the job's lease"),
      onLost: (loss: LeaseLoss) => {
        if (loss === "not-ours")
          return abortJob(entry, "the job was canceled or another worker took it over");
        // Still ours until the lease ends: stop now, so the handler settles before anyone
        // else may take the job, and hand it back if nobody has.
        entry.releasing = true;
        abortJob(entry, "its lease could not be renewed and is about to run out");
      },
    });
  }

  function abortJob(entry: RunningJob, reason: string): void {
    if (entry.controller.signal.aborted) return;
    entry.log.warn({ reason }, "aborting job");
    entry.controller.abort(new Error(`job aborted: ${reason}`));
  }

  async function listenForJobs(): Promise<void> {
    try {
      // postgres.js listens again by itself whenever its listening connection is re-made,
      // also after a first attempt that failed; onlisten runs each time, and the wake then
      // catches up on jobs queued while nobody was listening.
      const listening = await options.sql.listen(jobChannel, idle.wakeOne, () => {
        logger.info({ channel: jobChannel }, "listening for new jobs");
        idle.wakeOne();
      });
      unlisten = listening.unlisten;
    } catch (error) {
      logger.warn(describeError(error), "could not listen for new jobs yet; polling meanwhile");
    }
  }

  async function drain(): Promise<void> {
    draining = true;
    idle.wakeAll();
    const stopped = Promise.all(slots);
    if (!(await settlesWithin(stopped, options.drainGraceMs ?? 15_000))) {
      for (const entry of running.values()) {
        entry.releasing = true;
        abortJob(entry, "the worker is shutting down");
      }
      if (!(await settlesWithin(stopped, 5_000))) abandonJobs();
    }
    if (unlisten)
      await settlesWithin(
        unlisten().catch(() => {}),
        2_000,
      );
    logger.info({ workerId }, "job runner drained");
  }

  /**
   * Handlers that ignore their abort signal are left behind. Their jobs are not released: the
   * handler may still act, so the job is taken again only once its lease has run out (this
   * process exits meanwhile), never while a request of ours may still land.
   */
  function abandonJobs(): void {
    abandoned = true;
    for (const entry of running.values()) {
      entry.stopLease();
      entry.log.warn("handler ignored the abort; its job is taken again once its lease runs out");
    }
  }

  return {
    async start() {
      if (slots.length > 0)
        throw new Error("this job runner was already started; create another one");
      await listenForJobs();
      for (let slot = 0; slot < options.concurrency; slot++) slots.push(runSlot());
      logger.info(
        { workerId, concurrency: options.concurrency, kinds: Object.keys(options.handlers) },
        "job runner started",
      );
    },
    drain,
  };
}

/**
 * Where idle slots wait. A wake-up that finds no slot waiting is kept for the next slot
 * that would wait, so a notification arriving while every slot is busy is not lost.
 */
function createIdleSlots() {
  const waiters: (() => void)[] = [];
  let pending = false;
  return {
    wakeOne: () => {
      const waiter = waiters.shift();
      if (waiter) waiter();
      else pending = true;
    },
    wakeAll: () => {
      for (const waiter of waiters.splice(0)) waiter();
      pending = true;
    },
    wait: (timeoutMs: number) =>
      new Promise<void>((resolve) => {
        if (pending) {
          pending = false;
          return resolve();
        }
        const done = () => {
          clearTimeout(timer);
          const index = waiters.indexOf(done);
          if (index >= 0) waiters.splice(index, 1);
          resolve();
        };
        const timer = setTimeout(done, timeoutMs);
        waiters.push(done);
      }),
  };
}

function isRetryable(error: unknown): boolean {
  return !(
    typeof error === "object" &&
    error !== null &&
    (error as { retryable?: unknown }).retryable === false
  );
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Whether `promise` settles within `ms`; it keeps running either way. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
