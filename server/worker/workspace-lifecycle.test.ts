import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startEngineHarness, type EngineHarness } from "../../e2e/support/engine.ts";
import { readGitHubToken } from "../services/github-tokens.ts";
import { transitionWorkspace } from "../services/workspaces.ts";

// These tests start worker programs (node + tsx, seconds each on a busy machine) and wait
// for them across several jobs: a generous cap, well above the unit project's 30 s.
vi.setConfig({ testTimeout: 120_000 });

// SPEC §5 end to end against fake Hetzner and Cloudflare, with a real worker program and
// the agent played by the test over the real callback endpoints.

let engine: EngineHarness;
beforeAll(async () => {
  engine = await startEngineHarness();
  await engine.startWorker();
});
afterAll(() => engine?.close());

describe("workspace lifecycle on Hetzner + Cloudflare", () => {
  it("creates, runs, stops, starts and deletes, leaving nothing behind", async () => {
    const { api, hetzner, cloudflare } = engine;
    const created = await api.workspaces.create({
      name: "life",
      repository: "stand-in/sample",
      branch: "main",
      serverType: "cx23",
      location: "nbg1",
    });
    const id = created.id;

    const booting = await engine.waitForState(id, "booting");
    const [server] = engine.serversOf(id);
    expect(server).toMatchObject({
      name: `ws-${id}`,
      serverType: "cx23",
      location: "nbg1",
      labels: { "managed-by": "cloud-ai-workspaces", workspace: id },
    });
    expect(server!.userData).toMatch(/^#cloud-config/);
    expect(server!.volumeIds).toEqual([Number(booting.volumeId)]);
    expect(booting.agentUrl).toBe(`https://ws-${id}.${cloudflare.zoneName}`);
    const [record] = [...cloudflare.records.values()];
    expect(record).toMatchObject({
      name: `ws-${id}.${cloudflare.zoneName}`,
      content: server!.ipv4,
      proxied: true,
    });

    const agent = engine.agentFor(id);
    const bootstrapToken = agent.bootstrapTokenFromUserData();
    expect((await agent.bootstrap()).status).toBe(200);
    expect((await agent.bootstrap(bootstrapToken)).status).toBe(401); // single use
    expect((await agent.ready()).status).toBe(200);
    expect((await engine.readWorkspace(id)).state).toBe("running");
    expect((await agent.heartbeat()).status).toBe(200);
    expect((await agent.gitCredential()).body).toMatchObject({
      username: "alice",
      // Exactly the owner's own token (OAuth-app mode), not anybody's.
      password: await readGitHubToken(
        engine.database.db,
        engine.context.keyring,
        engine.context.github,
        engine.user.id,
      ),
    });

    await api.workspaces.stop({ id });
    await engine.waitForState(id, "stopped");
    expect(engine.serversOf(id)).toEqual([]);
    expect([...hetzner.state.volumes.values()]).toMatchObject([
      { id: Number(booting.volumeId), serverId: null },
    ]);
    expect(cloudflare.records.size).toBe(0);
    const oldToken = agent.token;

    await api.workspaces.start({ id });
    await engine.waitForState(id, "booting");
    const [restarted] = engine.serversOf(id);
    expect(restarted!.id).not.toBe(server!.id);
    expect(restarted!.volumeIds).toEqual([Number(booting.volumeId)]);
    expect(hetzner.state.volumes.get(Number(booting.volumeId))!.serverId).toBe(restarted!.id);
    expect((await agent.heartbeat()).status).toBe(401); // the old server's token died with it
    expect((await agent.bootstrap()).status).toBe(200);
    expect(agent.token).not.toBe(oldToken);
    expect((await agent.ready()).status).toBe(200);
    await engine.waitForState(id, "running");

    await api.workspaces.delete({ id });
    await engine.waitForState(id, "deleted");
    expect(hetzner.state.servers.size).toBe(0);
    expect(hetzner.state.volumes.size).toBe(0);
    expect(cloudflare.records.size).toBe(0);
    await expect(api.workspaces.get({ id })).rejects.toMatchObject({ code: "NOT_FOUND" });

    const timeline = await engine.database.sql<{ to_state: string }[]>`
      select to_state from workspace_events where workspace_id = ${id} order by id`;
    expect(timeline.map((row) => row.to_state)).toEqual([
      "pending",
      "provisioning",
      "booting",
      "running",
      "stopping",
      "stopped",
      "starting",
      "booting",
      "running",
      "deleting",
      "deleted",
    ]);
  });

  it("stops a workspace when its agent reports it idle", async () => {
    const { id } = await engine.api.workspaces.create({
      name: "idle",
      repository: "stand-in/sample",
      branch: "main",
    });
    await engine.waitForState(id, "booting");
    const agent = engine.agentFor(id);
    await agent.bootstrap();
    await agent.ready();
    expect((await agent.idle()).body).toEqual({ state: "stopping" });
    await engine.waitForState(id, "stopped");
    const events = await engine.api.workspaces.events({ id });
    expect(events.at(-2)).toMatchObject({ toState: "stopping", actor: "agent" });
  });

  it("starts from error on a fresh server, replacing the one left behind", async () => {
    const { id } = await engine.api.workspaces.create({
      name: "broken",
      repository: "stand-in/sample",
      branch: "main",
    });
    await engine.waitForState(id, "booting");
    const [left] = engine.serversOf(id);
    await transitionWorkspace(engine.database.db, id, "error", "The agent went silent", "system");
    await engine.api.workspaces.start({ id });
    await engine.waitForState(id, "booting");
    const servers = engine.serversOf(id);
    expect(servers).toHaveLength(1);
    expect(servers[0]!.id).not.toBe(left!.id);
    const agent = engine.agentFor(id);
    expect((await agent.bootstrap()).status).toBe(200);
    expect((await agent.ready()).status).toBe(200);
    await engine.waitForState(id, "running");
  });

  it("lets a delete requested during a running stop win, without an error", async () => {
    const { id } = await engine.api.workspaces.create({
      name: "change-of-mind",
      repository: "stand-in/sample",
      branch: "main",
    });
    await engine.waitForState(id, "booting");
    // Hetzner is slow to delete, so the stop job is still running when the user deletes.
    engine.hetzner.faults.add({
      kind: "slow",
      delayMs: 1_500,
      method: "DELETE",
      path: /^\/v1\/servers\//,
      times: 5,
    });
    await engine.api.workspaces.stop({ id });
    // Only once a worker runs the stop: a delete while it still waits cancels it instead
    // (what a loaded machine showed in a fresh-clone run), which is another case.
    await vi.waitFor(
      async () => {
        const [stop] = await engine.database.sql<{ status: string }[]>`
          select status from jobs where workspace_id = ${id} and kind = 'workspace.stop'`;
        expect(stop?.status).toBe("running");
      },
      { timeout: 60_000, interval: 50 },
    );
    await engine.api.workspaces.delete({ id });
    await engine.waitForState(id, "deleted");
    expect(engine.serversOf(id)).toEqual([]);
    const states = (
      await engine.database.sql<{ to_state: string }[]>`
      select to_state from workspace_events where workspace_id = ${id} order by id`
    ).map((row) => row.to_state);
    expect(states.slice(-3)).toEqual(["stopping", "deleting", "deleted"]);
    const jobs = await engine.database.sql<{ kind: string; status: string }[]>`
      select kind, status from jobs where workspace_id = ${id} order by id`;
    expect(jobs.map((job) => `${job.kind}:${job.status}`)).toEqual([
      "workspace.provision:succeeded",
      "workspace.stop:succeeded",
      "workspace.delete:succeeded",
    ]);
  });
});
