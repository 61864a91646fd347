import { afterEach, describe, expect, it, vi } from "vitest";
import { startEngineHarness, type EngineHarness } from "../../e2e/support/engine.ts";

// These tests start worker programs (node + tsx, seconds each on a busy machine) and wait
// for them across several jobs: a generous cap, well above the unit project's 30 s.
vi.setConfig({ testTimeout: 120_000 });

// Issue #13's acceptance for Cloudflare: for each failure the fake Cloudflare injects, the
// state the workspace ends in and the message its owner sees, with a real worker process,
// the real database and fake Hetzner (the agent played by the test).

let engine: EngineHarness | undefined;
afterEach(async () => {
  await engine?.close();
  engine = undefined;
});

async function start(worker: (engine: EngineHarness) => Record<string, string> = () => ({})) {
  engine = await startEngineHarness();
  await engine.startWorker(worker(engine));
  return engine;
}

const create = (harness: EngineHarness, name: string) =>
  harness.api.workspaces
    .create({ name, repository: "stand-in/sample", branch: "main" })
    .then(({ id }) => id);

async function provisionJobOf(harness: EngineHarness, workspaceId: string) {
  const [job] = await harness.database.sql<
    { id: number; status: string; attempts: number; last_error: string | null; wait: number }[]
  >`select id, status, attempts, last_error,
           extract(epoch from run_at - now())::float8 as wait
      from jobs where workspace_id = ${workspaceId} and kind = 'workspace.provision'`;
  return job!;
}

async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("Cloudflare failures, as a workspace's owner sees them", () => {
  it("the five-minute rate-limit block: the job waits it out in the queue, then the workspace comes up", async () => {
    const harness = await start();
    harness.cloudflare.access.blockRateLimit({ retryAfter: false });
    const id = await create(harness, "blocked");
    const job = await waitFor(
      () => provisionJobOf(harness, id),
      (row) => row.attempts === 1 && row.status === "queued",
      "the first attempt to fail",
    );
    expect(job.last_error).toContain("Cloudflare's API rate limit blocks this token for 300 s");
    expect(job.last_error).not.toContain(harness.cloudflare.token);
    // The next attempt is not before the block ends, not after the runner's short backoff.
    expect(job.wait).toBeGreaterThan(4 * 60);
    const waiting = await harness.readWorkspace(id);
    expect(waiting.state).toBe("provisioning");
    // The block reaches the first Cloudflare call, reading its IP ranges for the firewall:
    // no server is made without the firewall.
    expect(harness.serversOf(id)).toEqual([]);
    // The block ends; the job's time comes (moved forward here rather than waited for).
    harness.cloudflare.access.unblock();
    await harness.database.sql`update jobs set run_at = now() where id = ${job.id}`;
    await harness.database.sql`select pg_notify('caw_jobs', '')`;
    await harness.waitForState(id, "booting");
    const agent = harness.agentFor(id);
    expect((await agent.bootstrap()).status).toBe(200);
    expect((await agent.ready()).status).toBe(200);
    await harness.waitForState(id, "running");
    expect(harness.serversOf(id)).toHaveLength(1);
  }, 120_000);

  it("a token that may read DNS but not edit it: error at once, naming the permission", async () => {
    const harness = await start((engine) => ({
      CLOUDFLARE_API_TOKEN: engine.cloudflare.access.addToken({ dnsRead: true }),
    }));
    const id = await create(harness, "read-only");
    const failed = await harness.waitForState(id, "error");
    expect(failed.stateReason).toContain("Could not provision the workspace after 1 attempt: ");
    expect(failed.stateReason).toContain(
      `lacks the Zone → DNS → Edit permission for zone ${harness.cloudflare.zoneId}`,
    );
    expect((await provisionJobOf(harness, id)).attempts).toBe(1);
  }, 120_000);

  it("a token for another zone: error at once, saying the token does not cover the zone", async () => {
    const harness = await start((engine) => ({
      CLOUDFLARE_API_TOKEN: engine.cloudflare.access.addToken({ zone: false }),
    }));
    const id = await create(harness, "other-zone");
    const failed = await harness.waitForState(id, "error");
    expect(failed.stateReason).toMatch(/does not cover|not .*zone/i);
    expect(failed.stateReason).toContain(harness.cloudflare.zoneId);
    expect((await provisionJobOf(harness, id)).attempts).toBe(1);
  }, 120_000);
});
