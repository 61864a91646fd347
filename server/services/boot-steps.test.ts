import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobs } from "../../db/schema.ts";
import type { AuthenticatedUser } from "../auth/request-auth.ts";
import type { AppLoadContextValue } from "../http/load-context.ts";
import { appendJobEvent } from "../jobs/queue.ts";
import { createTestLoadContext } from "../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { callerFor, createTestUser } from "../testing/test-users.ts";
import { recordBootProgress } from "./boot-reports.ts";
import { transitionWorkspace } from "./workspaces.ts";

// The boot steps of real workspaces: created through the API (the job queued), moved as the
// worker and the agent move them, with boot reports recorded by the service the HTTP route uses.

let database: TestDatabase;
let context: AppLoadContextValue;
let alice: AuthenticatedUser;

beforeAll(async () => {
  database = await createTestDatabase();
  context = await createTestLoadContext(database);
  alice = await createTestUser(context, "alice");
});
afterAll(() => database.drop());

let counter = 0;
async function createWorkspace() {
  const api = callerFor(context, alice);
  const workspace = await api.workspaces.create({
    name: `steps-${(counter += 1)}`,
    repository: "stand-in/sample",
    branch: "main",
  });
  const [job] = await database.db.select().from(jobs).where(eq(jobs.workspaceId, workspace.id));
  return { api, id: workspace.id, jobId: job!.id };
}

const db = () => database.db;
const byId = (steps: { id: string; state: string }[]) =>
  Object.fromEntries(steps.map((step) => [step.id, step.state]));
const report = async (id: string, body: Parameters<typeof recordBootProgress>[2]) => {
  const row = await database.db.query.workspaces.findFirst({
    where: (w, { eq: is }) => is(w.id, id),
  });
  await recordBootProgress(db(), row!, body);
};

describe("boot steps", () => {
  it("shows a queued workspace as queued, everything else waiting", async () => {
    const { api, id } = await createWorkspace();
    const steps = await api.workspaces.bootSteps({ id });
    expect(steps.map((step) => step.label)).toEqual([
      "Queued",
      "Creating server",
      "Booting",
      "Installing agent",
      "Cloning",
      "Starting devcontainer",
      "Ready",
    ]);
    expect(steps[0]).toMatchObject({
      state: "active",
      startedAt: expect.any(Date),
      finishedAt: null,
    });
    expect(steps.slice(1).every((step) => step.state === "waiting")).toBe(true);
  });

  it("follows the worker, the server's reports and the agent to ready, with times", async () => {
    const { api, id, jobId } = await createWorkspace();
    await db()
      .update(jobs)
      .set({ startedAt: new Date(), status: "running" })
      .where(eq(jobs.id, jobId));
    await appendJobEvent(db(), jobId, "info", "Creating server workspace-1");
    expect(byId(await api.workspaces.bootSteps({ id }))).toMatchObject({
      queued: "done",
      "creating-server": "active",
    });
    await transitionWorkspace(
      db(),
      id,
      "booting",
      "Server created; waiting for the agent",
      "worker",
    );
    await report(id, { step: "mount-volume", status: "started" });
    await report(id, { step: "download-agent", status: "done" });
    await report(id, { step: "clone", status: "started", message: "stand-in/sample (main)" });
    await report(id, {
      step: "clone",
      status: "done",
      message: "Receiving objects: 100% (3/3), done.",
    });
    await transitionWorkspace(db(), id, "running", "The agent reported ready", "agent");
    const steps = await api.workspaces.bootSteps({ id });
    expect(byId(steps)).toEqual({
      queued: "done",
      "creating-server": "done",
      booting: "done",
      "installing-agent": "done",
      cloning: "done",
      devcontainer: "skipped",
      ready: "done",
    });
    const cloning = steps.find((step) => step.id === "cloning")!;
    expect(cloning.message).toBe("Receiving objects: 100% (3/3), done.");
    expect(cloning.finishedAt!.getTime()).toBeGreaterThanOrEqual(cloning.startedAt!.getTime());
  });

  it("marks a failed clone failed with git's message, and a failed devcontainer as a warning", async () => {
    const { api, id } = await createWorkspace();
    await transitionWorkspace(db(), id, "booting", "Server created", "worker");
    await report(id, { step: "clone", status: "started" });
    await report(id, {
      step: "clone",
      status: "failed",
      message: "fatal: couldn't find remote ref refs/heads/gone",
    });
    const steps = await api.workspaces.bootSteps({ id });
    expect(steps.find((step) => step.id === "cloning")).toMatchObject({
      state: "failed",
      message: "fatal: couldn't find remote ref refs/heads/gone",
    });
    expect(byId(steps).ready).toBe("waiting");

    const other = await createWorkspace();
    await transitionWorkspace(db(), other.id, "booting", "Server created", "worker");
    await report(other.id, { step: "clone", status: "done" });
    await report(other.id, { step: "devcontainer", status: "started" });
    await report(other.id, {
      step: "devcontainer",
      status: "failed",
      message: "devcontainer up failed: no docker",
    });
    await transitionWorkspace(db(), other.id, "running", "The agent reported ready", "agent");
    const withWarning = await api.workspaces.bootSteps({ id: other.id });
    expect(withWarning.find((step) => step.id === "devcontainer")).toMatchObject({
      state: "failed",
      message: "devcontainer up failed: no docker",
    });
    expect(byId(withWarning).ready).toBe("done");
  });

  it("marks the step under way failed when the workspace went to error without a report", async () => {
    const { api, id, jobId } = await createWorkspace();
    await db().update(jobs).set({ startedAt: new Date() }).where(eq(jobs.id, jobId));
    await transitionWorkspace(
      db(),
      id,
      "error",
      "Could not provision the workspace: Hetzner refused",
      "worker",
    );
    expect(
      (await api.workspaces.bootSteps({ id })).find((step) => step.id === "creating-server"),
    ).toMatchObject({
      state: "failed",
      message: "Could not provision the workspace: Hetzner refused",
    });
  });

  it("shows another user's workspace to nobody but its owner", async () => {
    const { id } = await createWorkspace();
    const mallory = await createTestUser(context, "mallory");
    await expect(callerFor(context, mallory).workspaces.bootSteps({ id })).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
  });
});
