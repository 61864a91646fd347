import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEngineHarness, type EngineHarness } from "../../e2e/support/engine.ts";
import { jobEvents, jobs, workspaces } from "../../db/schema.ts";
import { readVersion } from "../process/version.ts";
import { issueBootstrapToken } from "../services/agents.ts";
import { transitionWorkspace } from "../services/workspaces.ts";

// POST /api/agent/boot-progress over the harness's real web server: what a server's bootstrap
// script reports with the token of its user data. No worker runs; the create's job is queued
// and its log is where the reports land.

let engine: EngineHarness;
beforeAll(async () => {
  engine = await startEngineHarness();
});
afterAll(() => engine?.close());

const report = (body: unknown, token?: string) =>
  fetch(`${engine.web.baseUrl}/api/agent/boot-progress`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });

let counter = 0;
/** A workspace booting on its server, the token in that server's user data, its job's id. */
async function bootingWorkspace() {
  const { id } = await engine.api.workspaces.create({
    name: `boot-${(counter += 1)}`,
    repository: "stand-in/sample",
    branch: "main",
    serverType: "cx23",
    location: "nbg1",
  });
  const token = await issueBootstrapToken(engine.database.db, id);
  await transitionWorkspace(engine.database.db, id, "booting", "Server created", "worker");
  const [job] = await engine.database.db.select().from(jobs).where(eq(jobs.workspaceId, id));
  return { id, token, jobId: job!.id };
}

const jobLog = async (jobId: number) =>
  (await engine.database.db.select().from(jobEvents).where(eq(jobEvents.jobId, jobId))).map(
    (event) => `${event.level} ${event.message}`,
  );

describe("boot progress", () => {
  it("writes each step into the job log and leaves a booting workspace booting", async () => {
    const { id, token, jobId } = await bootingWorkspace();
    const started = await report({ step: "mount-volume", status: "started" }, token);
    expect(started.status).toBe(200);
    expect(await started.json()).toEqual({ recorded: true, state: "booting" });
    await report(
      { step: "mount-volume", status: "done", message: "/dev/sdb at /workspace" },
      token,
    );
    expect(await jobLog(jobId)).toEqual(
      expect.arrayContaining([
        "info Server: mount-volume started",
        "info Server: mount-volume done: /dev/sdb at /workspace",
      ]),
    );
    expect((await engine.readWorkspace(id)).state).toBe("booting");
  });

  it("turns a failed required step into error with the server's reason and log tail", async () => {
    const { id, token, jobId } = await bootingWorkspace();
    const answer = await report(
      {
        step: "verify-agent",
        status: "failed",
        message: "the downloaded agent does not match SHA-256 abc",
        logTail: "line one\nthe token cawb_secretvalue123 was here\n",
      },
      token,
    );
    expect(await answer.json()).toEqual({ recorded: true, state: "error" });
    const row = await engine.readWorkspace(id);
    expect(row.stateReason).toContain(
      "verify-agent failed (the downloaded agent does not match SHA-256 abc)",
    );
    const log = await jobLog(jobId);
    expect(log).toContain(
      "error Server: verify-agent failed: the downloaded agent does not match SHA-256 abc",
    );
    const tail = log.find((line) => line.includes("Server log (last lines)"))!;
    expect(tail).toContain("line one");
    // A token quoted back by the server's log never reaches the job log.
    expect(tail).not.toContain("cawb_secretvalue123");
    expect(tail).toContain("[token]");
  });

  it("turns the agent's failed clone into error with git's message, tokens taken out", async () => {
    const { id, token, jobId } = await bootingWorkspace();
    const message =
      "fatal: couldn't find remote ref refs/heads/gone (https://x:ghs_live123@github.com/a/b.git)";
    const answer = await report(
      { step: "clone", status: "failed", message, logTail: `Fetching\n${message}` },
      token,
    );
    expect(await answer.json()).toEqual({ recorded: true, state: "error" });
    const row = await engine.readWorkspace(id);
    expect(row.stateReason).toMatch(
      /^Could not clone the repository: fatal: couldn't find remote ref refs\/heads\/gone/,
    );
    expect(row.stateReason).toContain("https://[token]@github.com/a/b.git");
    const log = (await jobLog(jobId)).join("\n");
    expect(log).toContain("error Server: clone failed: fatal: couldn't find remote ref");
    expect(log).not.toContain("ghs_live123");
  });

  it("logs a failed optional step as a warning and keeps the workspace as it is", async () => {
    const { id, token, jobId } = await bootingWorkspace();
    await report({ step: "toolchain", status: "failed", message: "apt-get timed out" }, token);
    expect((await engine.readWorkspace(id)).state).toBe("booting");
    expect(await jobLog(jobId)).toContain("warn Server: toolchain failed: apt-get timed out");
  });

  it("keeps taking reports with the bootstrap token after the agent redeemed it, never moving a running workspace", async () => {
    const { id, token } = await bootingWorkspace();
    const bootstrap = await fetch(`${engine.web.baseUrl}/api/agent/bootstrap`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ bootstrapToken: token, agentVersion: await readVersion() }),
    });
    expect(bootstrap.status).toBe(200);
    const { agentToken } = (await bootstrap.json()) as { agentToken: string };
    await transitionWorkspace(engine.database.db, id, "running", "ready", "agent");
    const late = await report(
      { step: "start-agent", status: "failed", message: "after a restart" },
      token,
    );
    expect(await late.json()).toEqual({ recorded: true, state: "running" });
    // The agent's own token works too.
    expect((await report({ step: "devcontainer", status: "started" }, agentToken)).status).toBe(
      200,
    );
  });

  it("refuses an unknown token, a token of an earlier server, and bad bodies, clearly", async () => {
    const { id, token } = await bootingWorkspace();
    const unknown = await report({ step: "bootstrap", status: "started" }, "cawb_unknown");
    expect(unknown.status).toBe(401);
    expect(((await unknown.json()) as { detail: string }).detail).toContain("BOOTSTRAP_TOKEN");
    await issueBootstrapToken(engine.database.db, id); // the next server's
    expect((await report({ step: "bootstrap", status: "started" }, token)).status).toBe(401);
    const [row] = await engine.database.db.select().from(workspaces).where(eq(workspaces.id, id));
    expect(row!.state).toBe("booting");
    const bad = await report({ step: "format-disk", status: "maybe" }, "cawb_unknown");
    expect(bad.status).toBe(401);
    const fresh = await bootingWorkspace();
    const invalid = await report({ step: "format-disk", status: "maybe" }, fresh.token);
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as { detail: string }).detail).toMatch(
      /step must be one of: .*status must be one of/s,
    );
  });
});
