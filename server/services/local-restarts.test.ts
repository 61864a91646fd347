import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEngineHarness, type EngineHarness } from "../../e2e/support/engine.ts";
import { jobs, workspaceEvents, workspaces, type WorkspaceState } from "../../db/schema.ts";
import { restartLocalWorkspaces } from "./local-restarts.ts";
import { transitionWorkspace, workspaceJobKinds } from "./workspaces.ts";

// What `npm start` does with the one-machine workspaces it finds (ADR 0024), against a real
// database; no worker runs, and the agent probe is the test's answer.

let engine: EngineHarness;
beforeAll(async () => {
  engine = await startEngineHarness();
});
afterAll(() => engine?.close());

const db = () => engine.database.db;

/** A workspace of `provider` moved along `path`, its create job out of the way. */
async function workspaceIn(name: string, path: WorkspaceState[], provider = "local" as const) {
  const { id } = await engine.api.workspaces.create({
    name,
    repository: "stand-in/sample",
    branch: "main",
  });
  await db().update(jobs).set({ status: "succeeded" }).where(eq(jobs.workspaceId, id));
  await db()
    .update(workspaces)
    .set({ provider, agentUrl: "http://ws-x.localhost:1" })
    .where(eq(workspaces.id, id));
  for (const state of path) await transitionWorkspace(db(), id, state, "test", "system");
  return id;
}

const waitingJobsOf = (id: string) =>
  db()
    .select({ kind: jobs.kind })
    .from(jobs)
    .where(and(eq(jobs.workspaceId, id), eq(jobs.status, "queued")));

const settings = (up: Set<string>, previousWorkerIds: string[] = []) => ({
  maxAttempts: 3,
  previousWorkerIds,
  isAgentUp: async (workspace: { id: string }) => up.has(workspace.id),
});

describe("restartLocalWorkspaces", () => {
  it("keeps a running workspace whose agent answers, as a fresh heartbeat", async () => {
    const id = await workspaceIn("alive", ["booting", "running"]);
    await db()
      .update(workspaces)
      .set({ lastHeartbeatAt: new Date(Date.now() - 3_600_000) })
      .where(eq(workspaces.id, id));
    const summary = await restartLocalWorkspaces(db(), settings(new Set([id])));
    expect(summary.kept).toBeGreaterThanOrEqual(1);
    const row = await engine.readWorkspace(id);
    expect(row.state).toBe("running");
    expect(row.lastHeartbeatAt!.getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(await waitingJobsOf(id)).toEqual([]);
  });

  it("restarts a running workspace whose agent is gone, through stopped, with a start job", async () => {
    const id = await workspaceIn("dead", ["booting", "running"]);
    await restartLocalWorkspaces(db(), settings(new Set()));
    const row = await engine.readWorkspace(id);
    expect(row.state).toBe("starting");
    expect(row.agentUrl).toBeNull();
    const events = await db()
      .select({ to: workspaceEvents.toState, actor: workspaceEvents.actor })
      .from(workspaceEvents)
      .where(eq(workspaceEvents.workspaceId, id));
    expect(events.slice(-3)).toEqual([
      { to: "stopping", actor: "system" },
      { to: "stopped", actor: "system" },
      { to: "starting", actor: "system" },
    ]);
    expect(await waitingJobsOf(id)).toEqual([{ kind: workspaceJobKinds.start }]);
  });

  it("gives a step under way its job again, and leaves one whose job still waits", async () => {
    const orphaned = await workspaceIn("orphaned-stop", ["booting", "running", "stopping"]);
    const waiting = await workspaceIn("waiting-stop", ["booting", "running", "stopping"]);
    await db().insert(jobs).values({ kind: workspaceJobKinds.stop, workspaceId: waiting });
    await restartLocalWorkspaces(db(), settings(new Set()));
    expect(await waitingJobsOf(orphaned)).toEqual([{ kind: workspaceJobKinds.stop }]);
    expect(await waitingJobsOf(waiting)).toEqual([{ kind: workspaceJobKinds.stop }]);
    expect((await engine.readWorkspace(waiting)).state).toBe("stopping");
  });

  it("hands back the dead worker's running jobs at once, not another worker's", async () => {
    const id = await workspaceIn("mid-start", ["booting", "running", "stopping", "stopped"]);
    await transitionWorkspace(db(), id, "starting", "test", "user");
    // As the killed worker left it: taken, its lease still ten minutes off.
    await db()
      .insert(jobs)
      .values({
        kind: workspaceJobKinds.start,
        workspaceId: id,
        status: "running",
        attempts: 1,
        lockedBy: "old-host:42",
        lockedUntil: new Date(Date.now() + 600_000),
      });
    await restartLocalWorkspaces(db(), settings(new Set(), ["other-host:7"]));
    expect(await waitingJobsOf(id)).toEqual([]);
    await restartLocalWorkspaces(db(), settings(new Set(), ["old-host:42"]));
    expect(await waitingJobsOf(id)).toEqual([{ kind: workspaceJobKinds.start }]);
  });

  it("leaves Hetzner workspaces to the heartbeat timeout", async () => {
    const id = await workspaceIn("cloud", ["booting", "running"], "hetzner" as "local");
    await restartLocalWorkspaces(db(), settings(new Set()));
    expect((await engine.readWorkspace(id)).state).toBe("running");
  });
});
