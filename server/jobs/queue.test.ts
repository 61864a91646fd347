import { randomUUID } from "node:crypto";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createDb, type DatabaseHandle } from "../../db/client.ts";
import { jobs, users, workspaces } from "../../db/schema.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import {
  acquireJob,
  acquireJobs,
  appendJobEvent,
  cancelJob,
  completeJob,
  completeJobs,
  computeBackoffMs,
  enqueueJob,
  failAbandonedJobs,
  failJob,
  listJobEvents,
  releaseJob,
  renewLease,
  type Job,
} from "./queue.ts";

let database: TestDatabase;
// A second pool, so concurrent acquires really run on separate connections.
let wide: DatabaseHandle;

beforeAll(async () => {
  database = await createTestDatabase();
  wide = createDb(database.url, { max: 8 });
});
afterAll(async () => {
  await wide.close();
  await database.drop();
});
beforeEach(async () => {
  await database.db.delete(jobs);
});

const lease = { leaseSeconds: 30 };
const past = (seconds: number) => new Date(Date.now() - seconds * 1000);

async function createWorkspace(): Promise<string> {
  const [user] = await database.db
    .insert(users)
    .values({ githubId: Math.floor(Math.random() * 1e9), login: `user-${randomUUID()}` })
    .returning();
  const [workspace] = await database.db
    .insert(workspaces)
    .values({
      userId: user!.id,
      name: "ws",
      repository: "owner/repo",
      branch: "main",
      provider: "local",
      serverType: "local",
      location: "local",
      idleTimeoutMinutes: 30,
    })
    .returning();
  return workspace!.id;
}

async function readJob(id: number): Promise<Job> {
  const [job] = await database.db.select().from(jobs).where(eq(jobs.id, id));
  return job!;
}

/** Makes a running job's lease run out, as if its worker died long ago. */
async function expireLease(id: number): Promise<void> {
  await database.db
    .update(jobs)
    .set({ lockedUntil: sql`now() - interval '1 second'` })
    .where(eq(jobs.id, id));
}

describe("enqueueJob", () => {
  it("queues a job with defaults", async () => {
    const job = await enqueueJob(database.db, { kind: "noop" });
    expect(job).toMatchObject({
      kind: "noop",
      status: "queued",
      attempts: 0,
      maxAttempts: 5,
      payload: {},
      workspaceId: null,
      lockedBy: null,
    });
  });

  it("returns the waiting job instead of a second one with the same unique key", async () => {
    const first = await enqueueJob(database.db, { kind: "sweep", uniqueKey: "sweep" });
    const again = await Promise.all(
      Array.from({ length: 5 }, () =>
        enqueueJob(wide.db, { kind: "sweep", uniqueKey: "sweep", payload: { n: 2 } }),
      ),
    );
    expect(again.map((job) => job.id)).toEqual(Array(5).fill(first.id));
    await acquireJob(database.db, { workerId: "w1", ...lease });
    expect((await enqueueJob(database.db, { kind: "sweep", uniqueKey: "sweep" })).id).toBe(
      first.id,
    );
    await completeJob(database.db, first.id, "w1");
    const next = await enqueueJob(database.db, { kind: "sweep", uniqueKey: "sweep" });
    expect(next.id).not.toBe(first.id);
    expect(next.status).toBe("queued");
  });
});

describe("acquireJob", () => {
  it("takes due jobs oldest first and leaves future ones", async () => {
    const newer = await enqueueJob(database.db, { kind: "a", runAt: past(10) });
    const older = await enqueueJob(database.db, { kind: "a", runAt: past(20) });
    await enqueueJob(database.db, { kind: "a", runAt: new Date(Date.now() + 60_000) });
    const first = await acquireJob(database.db, { workerId: "w1", ...lease });
    expect(first).toMatchObject({ id: older.id, status: "running", attempts: 1, lockedBy: "w1" });
    expect(first!.startedAt).toBeInstanceOf(Date);
    expect(first!.lockedUntil!.getTime()).toBeGreaterThan(first!.startedAt!.getTime());
    expect((await acquireJob(database.db, { workerId: "w1", ...lease }))?.id).toBe(newer.id);
    expect(await acquireJob(database.db, { workerId: "w1", ...lease })).toBeNull();
  });

  it("takes only the kinds asked for", async () => {
    await enqueueJob(database.db, { kind: "a", runAt: past(10) });
    const b = await enqueueJob(database.db, { kind: "b" });
    expect((await acquireJob(database.db, { workerId: "w1", ...lease, kinds: ["b"] }))?.id).toBe(
      b.id,
    );
    expect(await acquireJob(database.db, { workerId: "w1", ...lease, kinds: [] })).toBeNull();
  });

  it("skips a job another transaction has locked instead of waiting for it", async () => {
    const first = await enqueueJob(database.db, { kind: "a", runAt: past(10) });
    const second = await enqueueJob(database.db, { kind: "a" });
    await wide.sql.begin(async (tx) => {
      await tx`select id from jobs where id = ${first.id} for update`;
      expect((await acquireJob(database.db, { workerId: "w1", ...lease }))?.id).toBe(second.id);
    });
  });

  it("gives concurrent workers different jobs", async () => {
    for (let i = 0; i < 8; i++) await enqueueJob(database.db, { kind: "a" });
    const taken = await Promise.all(
      Array.from({ length: 8 }, (_, i) => acquireJob(wide.db, { workerId: `w${i}`, ...lease })),
    );
    const ids = taken.map((job) => job?.id);
    expect(ids.every((id) => id !== undefined)).toBe(true);
    expect(new Set(ids).size).toBe(8);
  });

  it("runs one job per workspace at a time", async () => {
    const workspaceId = await createWorkspace();
    const first = await enqueueJob(database.db, { kind: "a", workspaceId, runAt: past(10) });
    const second = await enqueueJob(database.db, { kind: "a", workspaceId });
    const other = await enqueueJob(database.db, {
      kind: "a",
      workspaceId: await createWorkspace(),
    });
    expect((await acquireJob(database.db, { workerId: "w1", ...lease }))?.id).toBe(first.id);
    expect((await acquireJob(database.db, { workerId: "w2", ...lease }))?.id).toBe(other.id);
    expect(await acquireJob(database.db, { workerId: "w2", ...lease })).toBeNull();
    await completeJob(database.db, first.id, "w1");
    expect((await acquireJob(database.db, { workerId: "w2", ...lease }))?.id).toBe(second.id);
  });

  it("takes several jobs in one statement: expired first, then due ones, one per workspace", async () => {
    const busy = await createWorkspace();
    const stale = await enqueueJob(database.db, { kind: "a", workspaceId: busy });
    await acquireJob(database.db, { workerId: "dead", ...lease });
    await expireLease(stale.id);
    await enqueueJob(database.db, { kind: "a", workspaceId: busy });
    const idle = await createWorkspace();
    const older = await enqueueJob(database.db, { kind: "a", workspaceId: idle, runAt: past(5) });
    await enqueueJob(database.db, { kind: "a", workspaceId: idle });
    const loose = [
      await enqueueJob(database.db, { kind: "a" }),
      await enqueueJob(database.db, { kind: "a" }),
    ];
    await enqueueJob(database.db, { kind: "a", runAt: new Date(Date.now() + 60_000) });
    const taken = await acquireJobs(database.db, { workerId: "w1", ...lease }, 10);
    // The expired job comes first; its workspace's queued job and the idle workspace's
    // younger job wait, and so does the job that is not due yet.
    expect(taken[0]?.id).toBe(stale.id);
    expect(taken.map((job) => job.id).sort()).toEqual(
      [stale.id, older.id, ...loose.map((job) => job.id)].sort(),
    );
    expect(taken.every((job) => job.status === "running" && job.lockedBy === "w1")).toBe(true);
    expect(await acquireJobs(database.db, { workerId: "w2", ...lease }, 10)).toEqual([]);
  });

  it("takes no more than asked for", async () => {
    for (let i = 0; i < 5; i++) await enqueueJob(database.db, { kind: "a" });
    expect(await acquireJobs(database.db, { workerId: "w1", ...lease }, 3)).toHaveLength(3);
    expect(await acquireJobs(database.db, { workerId: "w2", ...lease }, 3)).toHaveLength(2);
  });

  it("completes several jobs in one statement, keeping only the outcomes still ours", async () => {
    for (let i = 0; i < 3; i++) await enqueueJob(database.db, { kind: "a" });
    const [mine, canceled, takenOver] = await acquireJobs(
      database.db,
      { workerId: "w1", ...lease },
      3,
    );
    await cancelJob(database.db, canceled!.id);
    await expireLease(takenOver!.id);
    expect((await acquireJob(database.db, { workerId: "w2", ...lease }))?.id).toBe(takenOver!.id);
    const kept = await completeJobs(database.db, [mine!.id, canceled!.id, takenOver!.id], "w1");
    expect([...kept]).toEqual([mine!.id]);
    expect((await readJob(mine!.id)).status).toBe("succeeded");
    expect((await readJob(canceled!.id)).status).toBe("canceled");
    expect((await readJob(takenOver!.id)).status).toBe("running");
  });

  it("lets exactly one of many racing workers start a workspace's jobs", async () => {
    const workspaceId = await createWorkspace();
    for (let i = 0; i < 8; i++) await enqueueJob(database.db, { kind: "a", workspaceId });
    const taken = await Promise.all(
      Array.from({ length: 8 }, (_, i) => acquireJob(wide.db, { workerId: `w${i}`, ...lease })),
    );
    expect(taken.filter((job) => job !== null)).toHaveLength(1);
    const [running] = await database.sql<{ count: number }[]>`
      select count(*)::int as count from jobs where status = 'running'`;
    expect(running!.count).toBe(1);
  });

  it("takes over a job whose lease ran out and refuses its old worker", async () => {
    const job = await enqueueJob(database.db, { kind: "a" });
    await acquireJob(database.db, { workerId: "old", ...lease });
    expect(await acquireJob(database.db, { workerId: "new", ...lease })).toBeNull();
    await expireLease(job.id);
    const retaken = await acquireJob(database.db, { workerId: "new", ...lease });
    expect(retaken).toMatchObject({ id: job.id, status: "running", attempts: 2, lockedBy: "new" });
    expect(await renewLease(database.db, job.id, "old", 30)).toBe(false);
    expect(await completeJob(database.db, job.id, "old")).toBe(false);
    expect(await failJob(database.db, job.id, "old", "late")).toBeNull();
    expect(await releaseJob(database.db, job.id, "old")).toBe(false);
    expect(await renewLease(database.db, job.id, "new", 30)).toBe(true);
    expect(await completeJob(database.db, job.id, "new")).toBe(true);
    expect(await readJob(job.id)).toMatchObject({ status: "succeeded", lockedUntil: null });
  });

  it("fails, rather than re-takes, a job whose worker died on its last attempt", async () => {
    const job = await enqueueJob(database.db, { kind: "a", maxAttempts: 2 });
    for (const worker of ["first", "second"]) {
      expect(await acquireJob(database.db, { workerId: worker, ...lease })).toMatchObject({
        id: job.id,
      });
      await expireLease(job.id);
    }
    expect(await acquireJob(database.db, { workerId: "third", ...lease })).toBeNull();
    const [failed] = await failAbandonedJobs(database.db);
    expect(failed).toMatchObject({ id: job.id, status: "failed", attempts: 2 });
    expect(failed!.lastError).toContain("stopped responding during each of its 2 attempts");
    expect(await failAbandonedJobs(database.db)).toEqual([]);
  });

  it("takes a workspace's expired job again before its queued one, without a conflict", async () => {
    const workspaceId = await createWorkspace();
    const stuck = await enqueueJob(database.db, { kind: "a", workspaceId, runAt: past(10) });
    const waiting = await enqueueJob(database.db, { kind: "a", workspaceId });
    await acquireJob(database.db, { workerId: "dead", ...lease });
    await expireLease(stuck.id);
    expect((await acquireJob(database.db, { workerId: "w1", ...lease }))?.id).toBe(stuck.id);
    expect(await acquireJob(database.db, { workerId: "w2", ...lease })).toBeNull();
    await completeJob(database.db, stuck.id, "w1");
    expect((await acquireJob(database.db, { workerId: "w2", ...lease }))?.id).toBe(waiting.id);
  });
});

describe("failJob", () => {
  it("retries after a backoff, then fails for good when out of attempts", async () => {
    const job = await enqueueJob(database.db, { kind: "a", maxAttempts: 2 });
    await acquireJob(database.db, { workerId: "w1", ...lease });
    const backoff = { baseMs: 60_000, capMs: 60_000 };
    const [clock] = await database.sql<{ now: string }[]>`select now()::text as now`;
    const retry = await failJob(database.db, job.id, "w1", "boom 1", { backoff });
    expect(retry?.status).toBe("queued");
    const { runAt } = retry as { runAt: Date };
    expect(runAt.getTime()).toBeGreaterThanOrEqual(new Date(clock!.now).getTime());
    expect(await readJob(job.id)).toMatchObject({
      status: "queued",
      attempts: 1,
      lastError: "boom 1",
      lockedUntil: null,
    });
    await database.db
      .update(jobs)
      .set({ runAt: past(1) })
      .where(eq(jobs.id, job.id));
    expect((await acquireJob(database.db, { workerId: "w1", ...lease }))?.attempts).toBe(2);
    expect(await failJob(database.db, job.id, "w1", "boom 2", { backoff })).toEqual({
      status: "failed",
    });
    const failed = await readJob(job.id);
    expect(failed).toMatchObject({ status: "failed", attempts: 2, lastError: "boom 2" });
    expect(failed.finishedAt).toBeInstanceOf(Date);
    expect(await acquireJob(database.db, { workerId: "w1", ...lease })).toBeNull();
  });

  it("fails at once when the error is not retryable", async () => {
    const job = await enqueueJob(database.db, { kind: "a" });
    await acquireJob(database.db, { workerId: "w1", ...lease });
    expect(await failJob(database.db, job.id, "w1", "bad input", { retryable: false })).toEqual({
      status: "failed",
    });
    expect(await readJob(job.id)).toMatchObject({ status: "failed", attempts: 1 });
  });
});

describe("computeBackoffMs", () => {
  it("doubles from the base up to the cap, scaled by the jitter", () => {
    const settings = { baseMs: 2_000, capMs: 600_000 };
    const ceilings = [1, 2, 3, 4, 12, 30].map((attempt) =>
      computeBackoffMs(attempt, settings, () => 1),
    );
    expect(ceilings).toEqual([2_000, 4_000, 8_000, 16_000, 600_000, 600_000]);
    expect(computeBackoffMs(3, settings, () => 0.5)).toBe(4_000);
    expect(computeBackoffMs(3, settings, () => 0)).toBe(0);
  });
});

describe("releaseJob", () => {
  it("queues a running job again without counting the attempt", async () => {
    const job = await enqueueJob(database.db, { kind: "a" });
    await acquireJob(database.db, { workerId: "w1", ...lease });
    expect(await releaseJob(database.db, job.id, "w1")).toBe(true);
    expect(await readJob(job.id)).toMatchObject({
      status: "queued",
      attempts: 0,
      lockedUntil: null,
    });
    expect(await acquireJob(database.db, { workerId: "w2", ...lease })).toMatchObject({
      id: job.id,
      attempts: 1,
    });
  });
});

describe("cancelJob", () => {
  it("cancels queued and running jobs, and refuses the running job's worker", async () => {
    const queued = await enqueueJob(database.db, {
      kind: "a",
      runAt: new Date(Date.now() + 60_000),
    });
    const running = await enqueueJob(database.db, { kind: "a", runAt: past(10) });
    await acquireJob(database.db, { workerId: "w1", ...lease });
    expect(await cancelJob(database.db, queued.id)).toMatchObject({ status: "canceled" });
    expect(await cancelJob(database.db, running.id)).toMatchObject({
      status: "canceled",
      lockedUntil: null,
    });
    expect(await renewLease(database.db, running.id, "w1", 30)).toBe(false);
    expect(await completeJob(database.db, running.id, "w1")).toBe(false);
    expect(await acquireJob(database.db, { workerId: "w1", ...lease })).toBeNull();
    expect(await cancelJob(database.db, running.id)).toBeNull();
  });
});

describe("job events", () => {
  it("lists a job's lines in order, and only the newer ones after an id", async () => {
    const job = await enqueueJob(database.db, { kind: "a" });
    const first = await appendJobEvent(database.db, job.id, "info", "creating server");
    await appendJobEvent(database.db, job.id, "warn", "server slow to boot");
    const all = await listJobEvents(database.db, job.id);
    expect(all.map((event) => [event.level, event.message])).toEqual([
      ["info", "creating server"],
      ["warn", "server slow to boot"],
    ]);
    const after = await listJobEvents(database.db, job.id, first.id);
    expect(after.map((event) => event.message)).toEqual(["server slow to boot"]);
  });
});
