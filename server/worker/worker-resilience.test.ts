import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { startEngineHarness, type EngineHarness } from "../../e2e/support/engine.ts";

// These tests start worker programs (node + tsx, seconds each on a busy machine) and wait
// for them across several jobs: a generous cap, well above the unit project's 30 s.
vi.setConfig({ testTimeout: 120_000 });

// How the engine behaves when things go wrong: a worker killed mid-job, a rate-limited
// provider, a provider that only fails. Each test gets its own fakes and database.

let engine: EngineHarness;
beforeEach(async () => {
  engine = await startEngineHarness({ JOB_LEASE_SECONDS: "3", JOB_MAX_ATTEMPTS: "2" });
});
afterEach(() => engine?.close());

const create = (name: string) =>
  engine.api.workspaces.create({ name, repository: "stand-in/sample", branch: "main" });

async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("worker resilience", () => {
  it("re-takes a job after its worker is killed mid-provisioning, making exactly one server", async () => {
    // The create action stays running until the test settles it, so worker A is killed
    // after Hetzner accepted the server but before the job could record it.
    engine.hetzner.faults.add({
      kind: "slow",
      delayMs: 1_500,
      method: "GET",
      path: /^\/v1\/actions\//,
      times: 100,
    });
    const first = await engine.startWorker();
    const { id } = await create("killed");
    await waitFor(() => engine.serversOf(id).length === 1, "worker A to create the server");
    first.child.kill("SIGKILL");
    await first.exited;
    engine.hetzner.faults.clear();
    await engine.startWorker();
    await engine.waitForState(id, "booting");
    expect(engine.serversOf(id)).toHaveLength(1);
    const [job] = await engine.database.sql<{ attempts: number; status: string }[]>`
      select attempts, status from jobs where workspace_id = ${id} and kind = 'workspace.provision'`;
    expect(job).toEqual({ attempts: 2, status: "succeeded" });
    // The server's user data still holds a token that works: the re-taken job kept it.
    expect((await engine.agentFor(id).bootstrap()).status).toBe(200);
  });

  it("waits out a 429 with Retry-After and succeeds", async () => {
    engine.hetzner.faults.add({
      kind: "rate-limit",
      retryAfterSeconds: 2,
      method: "POST",
      path: "/v1/servers",
    });
    await engine.startWorker();
    const { id } = await create("limited");
    await engine.waitForState(id, "booting");
    const posts = engine.hetzner.state.requests.filter(
      (request) => request.method === "POST" && request.path === "/v1/servers",
    );
    expect(posts.map((request) => request.status)).toEqual([429, 201]);
    expect(engine.serversOf(id)).toHaveLength(1);
  });

  it("fails the job after its attempts when Hetzner answers 500 forever, with a readable reason", async () => {
    engine.hetzner.faults.add({
      kind: "server-error",
      status: 500,
      method: "POST",
      path: "/v1/servers",
      times: Infinity,
    });
    await engine.startWorker();
    const { id } = await create("broken");
    const failed = await engine.waitForState(id, "error", 120_000);
    expect(failed.stateReason).toMatch(
      /^Could not provision the workspace after 2 attempts: .*500/,
    );
    expect(failed.stateReason).not.toContain(engine.hetzner.token);
    const [job] = await engine.database.sql<{ status: string; attempts: number }[]>`
      select status, attempts from jobs where workspace_id = ${id}`;
    expect(job).toEqual({ status: "failed", attempts: 2 });
    expect(engine.serversOf(id)).toEqual([]);
  }, 150_000);
});
