import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { FaultRule } from "../../e2e/fakes/fake-http.ts";
import { startEngineHarness, type EngineHarness } from "../../e2e/support/engine.ts";
import { reconcileStaleWorkspaces } from "../services/maintenance.ts";

// These tests start worker programs (node + tsx, seconds each on a busy machine) and wait
// for them across several jobs: a generous cap, well above the unit project's 30 s.
vi.setConfig({ testTimeout: 120_000 });

// Issue #13's acceptance: for every failure the fake Hetzner injects, the state a workspace
// ends in and the message its owner sees, with a real worker process, the real database and
// the agent played by the test (as in workspace-lifecycle.test.ts).

let engine: EngineHarness;
beforeAll(async () => {
  engine = await startEngineHarness();
  await engine.startWorker();
});
afterEach(() => engine.hetzner.faults.clear());
afterAll(() => engine?.close());

async function createWorkspace(name: string): Promise<string> {
  const created = await engine.api.workspaces.create({
    name,
    repository: "stand-in/sample",
    branch: "main",
  });
  return created.id;
}

/** Plays the agent once the server is up: the workspace is running afterwards. */
async function bootToRunning(id: string) {
  await engine.waitForState(id, "booting");
  const agent = engine.agentFor(id);
  expect((await agent.bootstrap()).status).toBe(200);
  expect((await agent.ready()).status).toBe(200);
  return engine.waitForState(id, "running");
}

const onCreate = (rule: FaultRule): FaultRule => ({ ...rule, method: "POST", path: "/v1/servers" });
const creates = () =>
  engine.hetzner.state.requests.filter(
    (entry) => entry.method === "POST" && entry.path === "/v1/servers",
  ).length;

type Permanent = { name: string; rule: FaultRule; reason: string };

const permanent: Permanent[] = [
  {
    name: "403 resource_limit_exceeded",
    rule: {
      kind: "error",
      status: 403,
      code: "resource_limit_exceeded",
      message: "server limit exceeded",
      details: { limits: [{ name: "server_limit" }] },
    },
    reason:
      "Could not provision the workspace after 1 attempt: Hetzner refused POST /servers (403 resource_limit_exceeded): server limit exceeded. Limits reached: server_limit. Your Hetzner project is at its limit: delete servers or volumes you no longer need, or ask Hetzner to raise the limit (Console → your project → Limits).",
  },
  {
    name: "412 resource_unavailable",
    rule: {
      kind: "error",
      status: 412,
      code: "resource_unavailable",
      message: "server type cx23 is unavailable in fsn1",
    },
    reason:
      "Could not provision the workspace after 1 attempt: Hetzner refused POST /servers (412 resource_unavailable): server type cx23 is unavailable in fsn1. Hetzner has none available there right now: pick another location or server type, or try again later.",
  },
  {
    name: "422 invalid_input, unsupported location for the server type",
    rule: {
      kind: "error",
      status: 422,
      code: "invalid_input",
      message: "invalid input in field 'location'",
      details: {
        fields: [{ name: "location", messages: ["unsupported location for server type"] }],
      },
    },
    reason:
      "Could not provision the workspace after 1 attempt: Hetzner refused POST /servers (422 invalid_input): invalid input in field 'location'. Fields: location: unsupported location for server type. Correct the fields above and try again.",
  },
  {
    name: "403 token_readonly (the saved token lost its write permission)",
    rule: {
      kind: "error",
      status: 403,
      code: "token_readonly",
      message: "The token is only allowed to perform GET requests",
    },
    reason:
      "Could not provision the workspace after 1 attempt: Hetzner refused POST /servers (403 token_readonly): The token is only allowed to perform GET requests. This token is Read only, and creating servers needs Read & Write: create a Read & Write token in the Hetzner Console (your project → Security → API tokens) and save it in Settings.",
  },
];

describe("Hetzner failures seen by a workspace: permanent ones end in error at once", () => {
  it.each(permanent)("$name", async ({ rule, reason }) => {
    const before = creates();
    engine.hetzner.faults.add(onCreate(rule));
    const id = await createWorkspace(`perm-${permanent.findIndex((p) => p.rule === rule)}`);
    const failed = await engine.waitForState(id, "error");
    expect(failed.stateReason).toBe(reason);
    // Asked once, never again: neither the client nor the job runner retried it.
    expect(creates() - before).toBe(1);
    expect(engine.serversOf(id)).toEqual([]);
    expect(JSON.stringify(failed)).not.toContain(engine.hetzner.token);
  });
});

const brief: { name: string; rule: FaultRule }[] = [
  { name: "429 with RateLimit-* and no Retry-After", rule: { kind: "rate-limit", times: 2 } },
  {
    name: "423 locked",
    rule: { kind: "error", status: 423, code: "locked", message: "server is locked" },
  },
  {
    name: "409 conflict",
    rule: {
      kind: "error",
      status: 409,
      code: "conflict",
      message: "the resource has changed during the request, please retry",
    },
  },
];

describe("Hetzner failures seen by a workspace: brief ones are retried and it runs", () => {
  it.each(brief)("$name", async ({ rule }) => {
    const before = creates();
    engine.hetzner.faults.add(onCreate(rule));
    const id = await createWorkspace(`brief-${brief.findIndex((b) => b.rule === rule)}`);
    const running = await bootToRunning(id);
    expect(running.state).toBe("running");
    expect(creates() - before).toBe((rule.times ?? 1) + 1);
    expect(engine.serversOf(id)).toHaveLength(1);
  });

  it("a create action that ends in error: that server is deleted and a new one runs", async () => {
    engine.hetzner.failNextAction("create_server", {
      code: "server_error",
      message: "the host failed",
    });
    const id = await createWorkspace("failed-action");
    await bootToRunning(id);
    const servers = engine.serversOf(id);
    expect(servers).toHaveLength(1);
    // Two creates, the first server deleted: not reused with its spent bootstrap token.
    const posts = engine.hetzner.state.requests.filter(
      (entry) =>
        entry.method === "POST" &&
        entry.path === "/v1/servers" &&
        (entry.body as { labels?: Record<string, string> } | undefined)?.labels?.workspace === id,
    );
    expect(posts).toHaveLength(2);
    const first = (posts[0]?.response as { server: { id: number } }).server.id;
    expect(servers[0]!.id).not.toBe(first);
  });
});

describe("Hetzner failures seen by a workspace: behind our back", () => {
  async function goesSilent(id: string) {
    // The agent no longer beats once its server is gone; the backstop notices.
    const settings = { heartbeatTimeoutSeconds: 1, bootTimeoutSeconds: 900 };
    for (;;) {
      await reconcileStaleWorkspaces(engine.database.db, settings);
      const row = await engine.readWorkspace(id);
      if (row.state !== "running") return row;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  it.each([
    ["deleted", (serverId: number) => engine.hetzner.deleteServerBehindOurBack(serverId)],
    ["switched off", (serverId: number) => engine.hetzner.switchOffServer(serverId)],
  ] as const)(
    "a server %s in the Console: error, then a start runs on a fresh one",
    async (what, act) => {
      const id = await createWorkspace(`behind-${what.replace(" ", "-")}`);
      await bootToRunning(id);
      const [server] = engine.serversOf(id);
      act(server!.id);
      const failed = await goesSilent(id);
      expect(failed.state).toBe("error");
      expect(failed.stateReason).toBe(
        "No heartbeat from the agent for 1 s: the server may have crashed. Start the workspace to get a fresh server (your files are kept), or delete it.",
      );
      await engine.api.workspaces.start({ id });
      await bootToRunning(id);
      const servers = engine.serversOf(id);
      expect(servers).toHaveLength(1);
      expect(servers[0]!.id).not.toBe(server!.id);
    },
  );
});
