import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobs, workspaces, type WorkspaceState } from "../../../db/schema.ts";
import type { AuthenticatedUser } from "../../auth/request-auth.ts";
import type { AppLoadContextValue } from "../../http/load-context.ts";
import { appendJobEvent, enqueueJob, type EnqueueJobInput } from "../../jobs/queue.ts";
import { createTestLoadContext } from "../../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../../testing/test-database.ts";
import { callerFor, createTestUser } from "../../testing/test-users.ts";
import { adminRouter } from "./admin.ts";

let database: TestDatabase;
let context: AppLoadContextValue;
let admin: AuthenticatedUser;
let member: AuthenticatedUser;

beforeAll(async () => {
  database = await createTestDatabase();
  context = await createTestLoadContext(database);
  // The first user of an install is its admin; everyone after is a member.
  admin = await createTestUser(context, "root");
  member = await createTestUser(context, "plain");
});
afterAll(() => database.drop());

/** A job as the worker would have left it: failed for good after its last attempt. */
async function failedJob(input: EnqueueJobInput, error = "simulated failure") {
  const job = await enqueueJob(database.db, input);
  await database.db
    .update(jobs)
    .set({
      status: "failed",
      attempts: sql`${jobs.maxAttempts}`,
      lastError: error,
      finishedAt: sql`now()`,
    })
    .where(eq(jobs.id, job.id));
  return job;
}

/** A workspace of `admin` in `state`, whose provision job is done. */
async function workspaceIn(name: string, state: WorkspaceState) {
  const workspace = await callerFor(context, admin).workspaces.create({
    name,
    repository: "stand-in/sample",
    branch: "main",
  });
  await database.db
    .update(jobs)
    .set({ status: "succeeded", finishedAt: sql`now()` })
    .where(eq(jobs.workspaceId, workspace.id));
  await database.db.update(workspaces).set({ state }).where(eq(workspaces.id, workspace.id));
  return workspace.id;
}

const stateOf = async (id: string) =>
  (await database.db.select().from(workspaces).where(eq(workspaces.id, id)))[0]!.state;

describe("admin procedures", () => {
  it("refuses a member on every admin procedure, and on audit.verify", async () => {
    const paths = Object.keys(adminRouter._def.procedures);
    expect(paths).toEqual(
      expect.arrayContaining(["stats", "jobs.list", "jobs.retry", "users.list"]),
    );
    const api = callerFor(context, member) as unknown as Record<string, unknown>;
    const callables = [...paths.map((path) => `admin.${path}`), "audit.verify"];
    for (const path of callables) {
      const call = path
        .split(".")
        .reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], api) as (
        input: unknown,
      ) => Promise<unknown>;
      await expect(call({ id: 1 }), path).rejects.toMatchObject({
        code: "FORBIDDEN",
        message: expect.stringContaining("Only admins"),
      });
    }
  });

  it("lists jobs newest first, filtered, a page at a time", async () => {
    const made = [];
    for (let index = 0; index < 5; index++)
      made.push(await enqueueJob(database.db, { kind: "test.paging" }));
    await failedJob({ kind: "test.paging" });
    const api = callerFor(context, admin).admin.jobs;

    const first = await api.list({ kind: "test.paging", status: "queued", limit: 2 });
    expect(first.items.map((job) => job.id)).toEqual([made[4]!.id, made[3]!.id]);
    expect(first.nextCursor).toBe(made[3]!.id);
    const second = await api.list({
      kind: "test.paging",
      status: "queued",
      limit: 2,
      cursor: first.nextCursor!,
    });
    expect(second.items.map((job) => job.id)).toEqual([made[2]!.id, made[1]!.id]);
    const last = await api.list({
      kind: "test.paging",
      status: "queued",
      limit: 2,
      cursor: second.nextCursor!,
    });
    expect(last).toEqual({
      items: [expect.objectContaining({ id: made[0]!.id })],
      nextCursor: null,
    });

    const failed = await api.list({ kind: "test.paging", status: "failed" });
    expect(failed.items).toHaveLength(1);
    expect(failed.items[0]).toMatchObject({ status: "failed", lastError: "simulated failure" });

    const workspaceId = await workspaceIn("listed", "running");
    const ofWorkspace = await api.list({ workspaceId });
    expect(ofWorkspace.items.map((job) => job.kind)).toEqual(["workspace.provision"]);
    await expect(api.list({ limit: 101 })).rejects.toMatchObject({ code: "BAD_REQUEST" });
  });

  it("shows one job with its log lines", async () => {
    const job = await failedJob({ kind: "test.detail", payload: { hello: "world" } });
    await appendJobEvent(database.db, job.id, "info", "step one");
    await appendJobEvent(database.db, job.id, "error", "it broke");
    const detail = await callerFor(context, admin).admin.jobs.get({ id: job.id });
    expect(detail).toMatchObject({ id: job.id, payload: { hello: "world" }, status: "failed" });
    expect(detail.events.map((event) => [event.level, event.message])).toEqual([
      ["info", "step one"],
      ["error", "it broke"],
    ]);
    await expect(callerFor(context, admin).admin.jobs.get({ id: 999_999 })).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
  });

  it("retries a failed job: queued again from scratch, its error kept, audited", async () => {
    const job = await failedJob({ kind: "test.retry", maxAttempts: 3 });
    const api = callerFor(context, admin);
    const retried = await api.admin.jobs.retry({ id: job.id });
    expect(retried).toMatchObject({
      status: "queued",
      attempts: 0,
      finishedAt: null,
      lastError: "simulated failure",
    });
    expect(retried.runAt.getTime()).toBeLessThanOrEqual(Date.now() + 1_000);
    const audit = await api.audit.list({ limit: 5 });
    expect(audit[0]).toMatchObject({
      action: "admin.job.retry",
      targetType: "job",
      targetId: String(job.id),
    });
    expect((await api.audit.verify()).valid).toBe(true);

    await expect(api.admin.jobs.retry({ id: job.id })).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining("only a failed or canceled job"),
    });
  });

  it("retries a failed start job and moves its workspace from error back to starting", async () => {
    const workspaceId = await workspaceIn("broken", "error");
    const job = await failedJob({ kind: "workspace.start", workspaceId });
    const retried = await callerFor(context, admin).admin.jobs.retry({ id: job.id });
    expect(retried.status).toBe("queued");
    expect(await stateOf(workspaceId)).toBe("starting");
    const events = await callerFor(context, admin).workspaces.events({ id: workspaceId });
    expect(events.at(-1)).toMatchObject({
      fromState: "error",
      toState: "starting",
      actor: "system",
    });
  });

  it("refuses to retry a provision job whose workspace is in error, pointing at Start", async () => {
    const workspaceId = await workspaceIn("never-made", "error");
    const job = await failedJob({ kind: "workspace.provision", workspaceId });
    await expect(callerFor(context, admin).admin.jobs.retry({ id: job.id })).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining("Start the workspace from its page"),
    });
    const [row] = await database.db.select().from(jobs).where(eq(jobs.id, job.id));
    expect(row!.status).toBe("failed");
    expect(await stateOf(workspaceId)).toBe("error");
  });

  it("refuses to retry a workspace job while another job of the workspace waits", async () => {
    const workspaceId = await workspaceIn("busy", "error");
    const old = await failedJob({ kind: "workspace.start", workspaceId });
    await callerFor(context, admin).workspaces.start({ id: workspaceId });
    await expect(callerFor(context, admin).admin.jobs.retry({ id: old.id })).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining("already queued for this workspace"),
    });
  });

  it("cancels a queued job (its workspace goes to error) and refuses a finished one", async () => {
    const workspaceId = await workspaceIn("halted", "stopping");
    const job = await enqueueJob(database.db, { kind: "workspace.stop", workspaceId });
    const api = callerFor(context, admin);
    const canceled = await api.admin.jobs.cancel({ id: job.id });
    expect(canceled).toMatchObject({ status: "canceled" });
    expect(canceled.finishedAt).toBeInstanceOf(Date);
    expect(await stateOf(workspaceId)).toBe("error");
    expect((await api.audit.list({ limit: 1 }))[0]).toMatchObject({
      action: "admin.job.cancel",
      targetId: String(job.id),
    });
    await expect(api.admin.jobs.cancel({ id: job.id })).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining("only a queued or running job"),
    });

    // A canceled job can be retried: the workspace goes back to where the job works.
    expect((await api.admin.jobs.retry({ id: job.id })).status).toBe("queued");
    expect(await stateOf(workspaceId)).toBe("stopping");
  });

  it("counts finished jobs per minute over the last hour", async () => {
    const [{ minute }] = (await database.db.execute<{ minute: string }>(
      sql`select to_json(date_trunc('minute', now()) - interval '5 minutes')#>>'{}' as minute`,
    )) as unknown as [{ minute: string }];
    const finishedAt = sql`${minute}::timestamptz + interval '30 seconds'`;
    for (const status of ["succeeded", "succeeded", "failed", "canceled"] as const) {
      const job = await enqueueJob(database.db, { kind: "test.throughput" });
      await database.db.update(jobs).set({ status, finishedAt }).where(eq(jobs.id, job.id));
    }
    const buckets = await callerFor(context, admin).admin.jobs.throughput();
    expect(buckets).toHaveLength(60);
    const minutes = buckets.map((bucket) => bucket.minute.getTime());
    expect(minutes.slice(1).every((time, index) => time - minutes[index]! === 60_000)).toBe(true);
    const bucket = buckets.find((entry) => entry.minute.getTime() === new Date(minute).getTime());
    expect(bucket).toMatchObject({ succeeded: 2, failed: 1 });
  });

  it("lists users with their role and live workspaces", async () => {
    const users = await callerFor(context, admin).admin.users.list();
    expect(users.map((user) => [user.login, user.role])).toEqual([
      ["root", "admin"],
      ["plain", "member"],
    ]);
    expect(users[0]!.workspaceCount).toBeGreaterThan(0);
    expect(users[1]).toMatchObject({ workspaceCount: 0, createdAt: expect.any(Date) });
  });
});
