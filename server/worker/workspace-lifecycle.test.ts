import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEngineHarness, type EngineHarness } from "../../e2e/support/engine.ts";

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
      password: "gho_test_alice",
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
});
