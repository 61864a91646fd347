import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { startEngineHarness, type EngineHarness } from "../../e2e/support/engine.ts";

// These tests start worker programs (node + tsx, seconds each on a busy machine) and wait
// for them across several jobs: a generous cap, well above the unit project's 30 s.
vi.setConfig({ testTimeout: 120_000 });

// Issue #13's drain-with-slow-Hetzner case: a worker is drained while its create-server
// request hangs at Hetzner, and another worker takes the job. Before, the hung request landed
// after the re-take: a second server, an `error` about the volume, a billed server left up.
// Now the draining worker aborts the request and hands the job back only once its handler has
// settled; the next worker finds a server the request did make by the job's label.

let engine: EngineHarness;
beforeEach(async () => {
  engine = await startEngineHarness({
    JOB_LEASE_SECONDS: "3",
    WORKER_DRAIN_GRACE_SECONDS: "1",
  });
});
afterEach(() => engine?.close());

const serverPosts = () =>
  engine.hetzner.state.requests.filter(
    (request) => request.method === "POST" && request.path === "/v1/servers",
  );

async function waitFor(condition: () => boolean, what: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Worker A's create request hangs; A is drained; worker B finishes the job. */
async function drainWhileCreateHangs(performs: boolean, { creationFails = false } = {}) {
  engine.hetzner.faults.add({ kind: "hang", performs, method: "POST", path: "/v1/servers" });
  if (creationFails) engine.hetzner.failNextAction("create_server");
  const first = await engine.startWorker();
  const { id } = await engine.api.workspaces.create({
    name: performs ? "landed" : "dropped",
    repository: "stand-in/sample",
    branch: "main",
  });
  await waitFor(() => serverPosts().length === 1, "worker A's create request to reach Hetzner");
  first.child.kill("SIGTERM");
  expect(await first.exited).toEqual({ code: 0, signal: null });
  // A settled before it let go of the job: whatever its request did has happened already.
  expect(first.output()).toContain("job released for another worker");
  const serversWhenDrained = engine.serversOf(id).map((server) => server.id);
  await engine.startWorker();
  const booting = await engine.waitForState(id, "booting");
  const agent = engine.agentFor(id);
  expect((await agent.bootstrap()).status).toBe(200);
  expect((await agent.ready()).status).toBe(200);
  await engine.waitForState(id, "running");
  const servers = engine.serversOf(id);
  expect(servers).toHaveLength(1);
  expect(servers[0]!.volumeIds).toEqual([Number(booting.volumeId)]);
  expect(engine.hetzner.state.volumes.get(Number(booting.volumeId))!.serverId).toBe(servers[0]!.id);
  expect(String(servers[0]!.id)).toBe(booting.serverId);
  const [job] = await engine.database.sql<{ status: string }[]>`
    select status from jobs where workspace_id = ${id} and kind = 'workspace.provision'`;
  expect(job).toEqual({ status: "succeeded" });
  return { serversWhenDrained, servers, posts: serverPosts().map((request) => request.status) };
}

describe("a worker drained while Hetzner hangs on its create request", () => {
  it("ends with one server when the request made it: the next worker reuses that server", async () => {
    const { serversWhenDrained, posts } = await drainWhileCreateHangs(true);
    expect(serversWhenDrained).toHaveLength(1);
    // Worker B made no server of its own: it found A's by the job's label.
    expect(posts).toEqual(["lost"]);
  }, 120_000);

  it("ends with one server when the request did not: the next worker creates it", async () => {
    const { serversWhenDrained, posts } = await drainWhileCreateHangs(false);
    expect(serversWhenDrained).toEqual([]);
    expect(posts).toEqual(["lost", 201]);
  }, 120_000);

  it("replaces the server the request made when Hetzner's creation of it failed", async () => {
    const { serversWhenDrained, posts, servers } = await drainWhileCreateHangs(true, {
      creationFails: true,
    });
    expect(serversWhenDrained).toHaveLength(1);
    expect(posts).toEqual(["lost", 201]);
    expect(servers.map((server) => server.id)).not.toEqual(serversWhenDrained);
  }, 120_000);
});
