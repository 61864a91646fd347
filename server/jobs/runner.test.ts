import { eq, inArray } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { jobs } from "../../db/schema.ts";
import {
  createGate,
  createRunnerPool,
  readJob,
  waitFor,
  waitForJobStatus,
} from "../testing/job-runner-kit.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { cancelJob, enqueueJob, listJobEvents, type Job } from "./queue.ts";
import { PermanentJobError, type JobHandler, type JobRunnerOptions } from "./runner.ts";

let database: TestDatabase;
const runners = createRunnerPool();

beforeAll(async () => {
  database = await createTestDatabase();
});
afterEach(async () => {
  await runners.drainAll();
});
afterAll(async () => {
  await database.drop();
});

const startRunner = (handlers: Record<string, JobHandler>, overrides?: Partial<JobRunnerOptions>) =>
  runners.start(database, handlers, overrides);
const noop: JobHandler = async () => {};
const waitForStatus = (id: number, status: Job["status"]) =>
  waitForJobStatus(database.db, id, status);

describe("a runner in this process", () => {
  it("runs a job and keeps its log lines", async () => {
    await startRunner({
      greet: async (job, context) => {
        await context.log("info", `hello from job ${job.id}`);
      },
    });
    const job = await enqueueJob(database.db, { kind: "greet" });
    expect(await waitForStatus(job.id, "succeeded")).toMatchObject({ attempts: 1 });
    const events = await listJobEvents(database.db, job.id);
    expect(events.map((event) => event.message)).toEqual([`hello from job ${job.id}`]);
  });

  it("retries a failing job, then fails it for good and reports it once", async () => {
    const reported: number[] = [];
    await startRunner(
      { flaky: async () => Promise.reject(new Error("provider said no")) },
      { onFinalFailure: (job) => void reported.push(job.id) },
    );
    const job = await enqueueJob(database.db, { kind: "flaky", maxAttempts: 3 });
    const failed = await waitForStatus(job.id, "failed");
    expect(failed).toMatchObject({ attempts: 3, lastError: "provider said no" });
    await waitFor(
      async () => reported,
      (ids) => ids.length > 0,
      "onFinalFailure",
    );
    expect(reported).toEqual([job.id]);
  });

  it("runs the next attempt no earlier than the provider's retry-after, wrapped or not", async () => {
    const retryLater = Object.assign(new Error("Cloudflare blocks this token for a while"), {
      retryAfterMs: 300_000,
    });
    await startRunner({
      limited: async () => Promise.reject(new Error("DNS step failed", { cause: retryLater })),
    });
    const job = await enqueueJob(database.db, { kind: "limited", maxAttempts: 3 });
    const queued = await waitFor(
      () => readJob(database.db, job.id),
      (row) => row.attempts === 1 && row.status === "queued",
      "the first attempt to fail",
    );
    const [clock] = await database.sql<{ now: string }[]>`select now()::text as now`;
    // The runner's own backoff here is at most 50 ms; the five-minute block wins.
    expect(queued.runAt.getTime() - new Date(clock!.now).getTime()).toBeGreaterThan(290_000);
  });

  it("fails and reports a job whose worker died on its last attempt", async () => {
    const reported: number[] = [];
    const job = await enqueueJob(database.db, { kind: "crashy", maxAttempts: 1 });
    // As a dead worker leaves it: running, on its last attempt, lease run out.
    await database.sql`update jobs set status = 'running', attempts = 1, locked_by = 'dead',
      locked_until = now() - interval '1 second' where id = ${job.id}`;
    await startRunner(
      { crashy: async () => {} },
      { onFinalFailure: (failed) => void reported.push(failed.id) },
    );
    expect(await waitForStatus(job.id, "failed")).toMatchObject({ attempts: 1 });
    await waitFor(
      async () => reported,
      (ids) => ids.length > 0,
      "onFinalFailure",
    );
    expect(reported).toEqual([job.id]);
  });

  it("fails at once on a PermanentJobError and on an unknown kind", async () => {
    await startRunner({
      doomed: async () => Promise.reject(new PermanentJobError("the repository does not exist")),
    });
    const doomed = await enqueueJob(database.db, { kind: "doomed" });
    const unknown = await enqueueJob(database.db, { kind: "mystery" });
    expect(await waitForStatus(doomed.id, "failed")).toMatchObject({
      attempts: 1,
      lastError: "the repository does not exist",
    });
    const failed = await waitForStatus(unknown.id, "failed");
    expect(failed.attempts).toBe(1);
    expect(failed.lastError).toContain('no handler for job kind "mystery"');
  });

  it("aborts a running handler when its job is canceled", async () => {
    const gate = createGate();
    let abortedWith: unknown;
    await startRunner(
      {
        wait: (job, context) =>
          gate.handler(job, context).catch((error: unknown) => {
            abortedWith = error;
          }),
      },
      { leaseSeconds: 0.6 },
    );
    const job = await enqueueJob(database.db, { kind: "wait" });
    await gate.entered;
    await cancelJob(database.db, job.id);
    await waitFor(async () => abortedWith, Boolean, "the handler to be aborted");
    expect(String(abortedWith)).toContain("canceled");
    expect((await readJob(database.db, job.id)).status).toBe("canceled");
  });

  it("runs at most `concurrency` jobs at once", async () => {
    const gate = createGate();
    let active = 0;
    let mostActive = 0;
    await startRunner({
      wait: async (job, context) => {
        mostActive = Math.max(mostActive, ++active);
        await gate.handler(job, context).finally(() => active--);
      },
    });
    const queued = await Promise.all(
      Array.from({ length: 5 }, () => enqueueJob(database.db, { kind: "wait" })),
    );
    const ids = queued.map((job) => job.id);
    const countRunning = async () =>
      (await database.db.select().from(jobs).where(inArray(jobs.id, ids))).filter(
        (job) => job.status === "running",
      ).length;
    await waitFor(countRunning, (running) => running === 2, "two running jobs");
    gate.open();
    for (const id of ids) await waitForStatus(id, "succeeded");
    expect(mostActive).toBe(2);
  });

  it("wakes on NOTIFY without waiting for its poll", async () => {
    await startRunner({ noop }, { pollIntervalMs: 10 * 60_000 });
    const job = await enqueueJob(database.db, { kind: "noop" });
    await waitForStatus(job.id, "succeeded");
  });
});

describe("drain", () => {
  it("lets a running job finish and takes no new job", async () => {
    const gate = createGate();
    const runner = await startRunner({ wait: gate.handler, noop });
    const running = await enqueueJob(database.db, { kind: "wait" });
    await gate.entered;
    const drained = runner.drain();
    const later = await enqueueJob(database.db, { kind: "noop" });
    gate.open();
    await drained;
    expect((await readJob(database.db, running.id)).status).toBe("succeeded");
    expect(await readJob(database.db, later.id)).toMatchObject({ status: "queued", attempts: 0 });
    await database.db.delete(jobs).where(eq(jobs.id, later.id));
  });

  it("releases a job whose handler outlasts the grace period", async () => {
    const gate = createGate();
    const runner = await startRunner({ wait: gate.handler }, { drainGraceMs: 100 });
    const job = await enqueueJob(database.db, { kind: "wait" });
    await gate.entered;
    await runner.drain();
    expect(await readJob(database.db, job.id)).toMatchObject({
      status: "queued",
      attempts: 0,
      lockedUntil: null,
    });
    await database.db.delete(jobs).where(eq(jobs.id, job.id));
  });
});
