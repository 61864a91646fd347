import { createHash } from "node:crypto";
import { chmod, readdir, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { startEngineHarness, type EngineHarness } from "../../e2e/support/engine.ts";
import { readVersion } from "../process/version.ts";
import { readInstallationId } from "../services/system.ts";
import { transitionWorkspace } from "../services/workspaces.ts";
import { createRunnerPool } from "../testing/job-runner-kit.ts";
import { createLogger } from "../logger.ts";
import { createJobHandlers, failJobWorkspace } from "./job-handlers.ts";

// The worker's job handlers run here in the test's own process, wired as server/worker/main.ts
// wires them (the other worker tests start worker programs, whose code coverage cannot see):
// the real queue and runner, fake Hetzner and Cloudflare over loopback HTTP, the agent played
// by the test against our real web server.

vi.setConfig({ testTimeout: 120_000 });

let engine: EngineHarness;
let runners: ReturnType<typeof createRunnerPool>;
beforeEach(async () => {
  engine = await startEngineHarness({ JOB_MAX_ATTEMPTS: "2" });
  runners = createRunnerPool();
  await startRunner();
});

async function startRunner() {
  const { db } = engine.database;
  const handlers = createJobHandlers({
    db,
    keyring: engine.context.keyring,
    env: engine.context.env,
    version: await readVersion(),
    installId: await readInstallationId(db),
    logger: createLogger({ level: "silent", service: "job-handlers-test" }),
  });
  await runners.start(engine.database, handlers, {
    onFinalFailure: (job, error) => failJobWorkspace(db, job, error),
  });
}
afterEach(async () => {
  await runners?.drainAll();
  await engine?.close();
});

const create = (name: string) =>
  engine.api.workspaces.create({ name, repository: "stand-in/sample", branch: "main" });

describe("the worker's job handlers", () => {
  it("provision, stop, start and delete a workspace on Hetzner behind Cloudflare", async () => {
    const { id } = await create("in-process");
    const booting = await engine.waitForState(id, "booting");
    const [server] = engine.serversOf(id);
    // The user data is cloud-init for this workspace, with the agent's checksum and TLS mode.
    expect(server!.userData).toMatch(/^#cloud-config/);
    expect(server!.userData).toContain(id);
    expect(server!.userData).toContain("origin-ca");
    expect(server!.volumeIds).toEqual([Number(booting.volumeId)]);
    expect([...engine.cloudflare.records.values()]).toMatchObject([{ content: server!.ipv4 }]);

    const agent = engine.agentFor(id);
    expect((await agent.bootstrap()).status).toBe(200);
    expect((await agent.ready()).status).toBe(200);
    await engine.waitForState(id, "running");

    await engine.api.workspaces.stop({ id });
    await engine.waitForState(id, "stopped");
    expect(engine.serversOf(id)).toEqual([]);
    expect(engine.cloudflare.records.size).toBe(0);

    await engine.api.workspaces.start({ id });
    await engine.waitForState(id, "booting");
    expect(engine.serversOf(id)).toHaveLength(1);

    await engine.api.workspaces.delete({ id });
    await engine.waitForState(id, "deleted");
    expect(engine.hetzner.state.servers.size).toBe(0);
    expect(engine.hetzner.state.volumes.size).toBe(0);
    expect(engine.cloudflare.records.size).toBe(0);
  });

  it("puts the workspace in error, with a reason, when its job runs out of attempts", async () => {
    engine.hetzner.faults.add({
      kind: "server-error",
      status: 500,
      method: "POST",
      path: "/v1/servers",
      times: Infinity,
    });
    const { id } = await create("broken");
    const failed = await engine.waitForState(id, "error");
    expect(failed.stateReason).toMatch(
      /^Could not provision the workspace after 2 attempts: .*500/,
    );
    expect(failed.stateReason).not.toContain(engine.hetzner.token);
    expect(engine.serversOf(id)).toEqual([]);
  });

  it("in one-machine mode, run the agent the web serves as a local process, tell the webhook, delete it", async () => {
    const { env } = engine.context;
    env.WORKSPACE_PROVIDER = "local";
    env.DNS_PROVIDER = "local";
    // What `npm run build` leaves for the web's /agent/download: the harness's stand-in agent.
    const distDir = env.AGENT_DIST_DIR!;
    await chmod(env.DATA_DIR, 0o711); // the workspace's own OS user must pass (AGENTS.md)
    const binary = await readFile(path.join(distDir, "agent-linux-x64"));
    const sha256 = createHash("sha256").update(binary).digest("hex");
    const entry = { file: "agent-linux-x64", sha256, size: binary.length };
    await writeFile(
      path.join(distDir, "manifest.json"),
      JSON.stringify({ version: await readVersion(), files: { "linux-x64": entry } }),
    );
    await runners.drainAll();
    await startRunner();

    const { id } = await create("on-this-machine");
    const booting = await engine.waitForState(id, "booting");
    expect(booting.provider).toBe("local");
    expect(booting.agentUrl).toMatch(/^http:\/\/.*localhost:\d+/);
    expect(engine.hetzner.state.servers.size).toBe(0);

    // A workspace that fails tells its owner's webhook (one-machine mode allows loopback).
    const received: { kind: string; message: string }[] = [];
    const receiver = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk: Buffer) => (body += chunk.toString()));
      request.on("end", () => {
        received.push(JSON.parse(body) as { kind: string; message: string });
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    try {
      const port = (receiver.address() as AddressInfo).port;
      await engine.api.notifications.webhook.set({ url: `http://127.0.0.1:${port}/hook` });
      await transitionWorkspace(engine.database.db, id, "error", "The agent went silent", "system");
      for (let tries = 0; received.length === 0 && tries < 600; tries++)
        await new Promise((resolve) => setTimeout(resolve, 100));
      expect(received).toMatchObject([
        { kind: "error", message: expect.stringContaining("The agent went silent") },
      ]);
    } finally {
      await new Promise((resolve) => receiver.close(resolve));
    }

    await engine.api.workspaces.delete({ id });
    await engine.waitForState(id, "deleted");
    const left = await readdir(path.join(env.DATA_DIR, "workspaces", "servers"));
    expect(left.filter((file) => file.endsWith(".json"))).toEqual([]);
  });
});
