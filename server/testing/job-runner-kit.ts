import { eq } from "drizzle-orm";
import type { Database, DatabaseHandle } from "../../db/client.ts";
import { jobs } from "../../db/schema.ts";
import type { Job } from "../jobs/queue.ts";
import {
  createJobRunner,
  type JobHandler,
  type JobRunner,
  type JobRunnerOptions,
} from "../jobs/runner.ts";
import { createLogger } from "../logger.ts";

// Helpers for the job queue's tests: in-process runners, waiting on the database, gates.

/** Starts runners with quick test settings and drains them all at the end of a test. */
export function createRunnerPool() {
  const runners: JobRunner[] = [];
  return {
    async start(
      database: Pick<DatabaseHandle, "db" | "sql">,
      handlers: Record<string, JobHandler>,
      overrides: Partial<JobRunnerOptions> = {},
    ): Promise<JobRunner> {
      const runner = createJobRunner({
        db: database.db,
        sql: database.sql,
        workerId: `in-process-${runners.length}`,
        handlers,
        concurrency: 2,
        leaseSeconds: 30,
        pollIntervalMs: 200,
        logger: createLogger({ level: "silent", service: "runner-test" }),
        backoff: { baseMs: 10, capMs: 50 },
        retryPauseMs: 100,
        ...overrides,
      });
      runners.push(runner);
      await runner.start();
      return runner;
    },
    drainAll: () => Promise.all(runners.splice(0).map((runner) => runner.drain())),
  };
}

/** A logger that keeps its lines, for tests that wait on what a runner said. */
export function captureLogs() {
  const lines: { msg?: string }[] = [];
  const logger = createLogger({
    level: "info",
    service: "runner-test",
    destination: { write: (line: string) => void lines.push(JSON.parse(line)) },
  });
  return { logger, count: (msg: string) => lines.filter((line) => line.msg === msg).length };
}

/**
 * Polls until `done` holds; fails with `what` after the deadline. A failed read counts as
 * "not yet": right after a restart the pool may still hand out a connection that was cut.
 */
export async function waitFor<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  what: string,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await read();
      if (done(value)) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function readJob(db: Database, id: number): Promise<Job> {
  const [job] = await db.select().from(jobs).where(eq(jobs.id, id));
  if (!job) throw new Error(`job ${id} does not exist`);
  return job;
}

export function waitForJobStatus(db: Database, id: number, status: Job["status"]): Promise<Job> {
  return waitFor(
    () => readJob(db, id),
    (job) => job.status === status,
    `job ${id} to be ${status}`,
  );
}

/**
 * A handler that waits until the test opens its gate, or rejects when its signal aborts.
 * `entered` resolves once a job is in the handler: a job's row says running a little before
 * the runner has the job in hand.
 */
export function createGate() {
  let open = () => {};
  let enter = () => {};
  const opened = new Promise<void>((resolve) => (open = resolve));
  const entered = new Promise<void>((resolve) => (enter = resolve));
  const handler: JobHandler = (_job, { signal }) =>
    new Promise((resolve, reject) => {
      enter();
      void opened.then(resolve);
      signal.addEventListener("abort", () => reject(signal.reason as Error));
    });
  return { handler, open, entered };
}
