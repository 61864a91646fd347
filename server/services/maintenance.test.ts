import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEngineHarness, type EngineHarness } from "../../e2e/support/engine.ts";
import { apiTokens, jobs, workspaces } from "../../db/schema.ts";
import { createHetznerProvider } from "../providers/hetzner.ts";
import { installLabels, managedByLabel } from "../providers/provider.ts";
import { createApiToken, revokeApiToken } from "./api-tokens.ts";
import { readInstallationId } from "./system.ts";
import {
  enforceMaximumLifetime,
  purgeDeletedWorkspaces,
  reconcileStaleWorkspaces,
  sweepOrphanServers,
} from "./maintenance.ts";
import { transitionWorkspace } from "./workspaces.ts";

// The periodic backstops against a real database and the fake Hetzner; no worker runs, so
// each test moves workspaces into the state it needs by hand.

let engine: EngineHarness;
beforeAll(async () => {
  engine = await startEngineHarness();
});
afterAll(() => engine?.close());

async function workspaceIn(name: string, path: ("booting" | "running")[]) {
  const { id } = await engine.api.workspaces.create({
    name,
    repository: "stand-in/sample",
    branch: "main",
  });
  for (const state of path)
    await transitionWorkspace(engine.database.db, id, state, "test", "system");
  return id;
}

const stateOf = async (id: string) => (await engine.readWorkspace(id)).state;

describe("maintenance", () => {
  it("marks running workspaces without a heartbeat as error, and leaves fresh ones", async () => {
    const stale = await workspaceIn("stale", ["booting", "running"]);
    const fresh = await workspaceIn("fresh", ["booting", "running"]);
    await engine.database.db
      .update(workspaces)
      .set({ lastHeartbeatAt: sql`now() - interval '10 minutes'` })
      .where(eq(workspaces.id, stale));
    await engine.database.db
      .update(workspaces)
      .set({ lastHeartbeatAt: new Date() })
      .where(eq(workspaces.id, fresh));
    const settings = { heartbeatTimeoutSeconds: 180, bootTimeoutSeconds: 900 };
    expect(await reconcileStaleWorkspaces(engine.database.db, settings)).toBe(1);
    expect(await stateOf(stale)).toBe("error");
    expect((await engine.readWorkspace(stale)).stateReason).toContain(
      "No heartbeat from the agent for 180 s",
    );
    expect(await stateOf(fresh)).toBe("running");
  });

  it("stops running workspaces past the maximum lifetime", async () => {
    const old = await workspaceIn("old", ["booting", "running"]);
    await engine.database
      .sql`update workspace_events set occurred_at = now() - interval '200 hours' where workspace_id = ${old}`;
    const stopped = await enforceMaximumLifetime(engine.database.db, {
      maxLifetimeHours: 168,
      maxAttempts: 3,
    });
    expect(stopped).toBe(1);
    expect(await stateOf(old)).toBe("stopping");
    expect((await engine.readWorkspace(old)).stateReason).toBe(
      "Stopped: running longer than the 168 h limit",
    );
    const queued = await engine.database.db
      .select({ kind: jobs.kind })
      .from(jobs)
      .where(eq(jobs.workspaceId, old));
    expect(queued.map((job) => job.kind)).toContain("workspace.stop");
  });

  it("deletes orphan servers of this install and nothing else", async () => {
    const provider = createHetznerProvider({
      token: engine.hetzner.token,
      apiUrl: engine.hetzner.url,
    });
    const installId = await readInstallationId(engine.database.db);
    const ours = (workspace: string) => ({ ...installLabels(installId), workspace });
    const live = await workspaceIn("has-server", ["booting"]);
    const base = {
      serverType: "cx23",
      location: "fsn1",
      userData: "#cloud-config\n",
      volumeIds: [],
    };
    await provider.createServer({ ...base, name: `ws-${live}`, labels: ours(live) });
    const orphanId = "00000000-0000-4000-8000-000000000000";
    await provider.createServer({ ...base, name: `ws-${orphanId}`, labels: ours(orphanId) });
    const otherInstall = { ...managedByLabel, install: "another-install", workspace: orphanId };
    await provider.createServer({ ...base, name: "staging-server", labels: otherInstall });
    await provider.createServer({ ...base, name: "someone-elses", labels: { team: "db" } });
    const lines: string[] = [];
    const log = async (line: string) => void lines.push(line);
    expect(await sweepOrphanServers(engine.database.db, provider, installId, log)).toBe(1);
    const names = [...engine.hetzner.state.servers.values()].map((server) => server.name).sort();
    expect(names).toEqual([`ws-${live}`, "someone-elses", "staging-server"].sort());
    expect(lines[0]).toContain(`ws-${orphanId}`);
  });

  it("purges soft-deleted workspaces after 30 days only", async () => {
    const gone = await workspaceIn("gone", []);
    const recent = await workspaceIn("recent", []);
    await engine.database
      .sql`update workspaces set deleted_at = now() - interval '31 days' where id = ${gone}`;
    await engine.database
      .sql`update workspaces set deleted_at = now() - interval '1 day' where id = ${recent}`;
    expect(await purgeDeletedWorkspaces(engine.database.db, 30)).toBe(1);
    const left = await engine.database.db.select({ id: workspaces.id }).from(workspaces);
    expect(left.map((row) => row.id)).toContain(recent);
    expect(left.map((row) => row.id)).not.toContain(gone);
  });

  it("purges API tokens revoked or expired over 30 days ago, keeping the rest", async () => {
    const owner = { userId: engine.user.id, auditSubject: engine.user.auditSubject };
    const token = async (name: string, age: { revoked?: string; expired?: string } = {}) => {
      const { id } = await createApiToken(engine.database.db, owner, { name }, { limit: 20 });
      if (age.revoked) await revokeApiToken(engine.database.db, owner, id);
      await engine.database.sql`update api_tokens set
        revoked_at = case when revoked_at is null then null else now() - ${age.revoked ?? "0 days"}::interval end,
        expires_at = ${age.expired ? engine.database.sql`now() - ${age.expired}::interval` : null}
        where id = ${id}`;
      return id;
    };
    const kept = [
      await token("live"),
      await token("revoked-lately", { revoked: "29 days" }),
      await token("expired-lately", { expired: "29 days" }),
    ];
    const purged = [
      await token("revoked-long-ago", { revoked: "31 days" }),
      await token("expired-long-ago", { expired: "31 days" }),
    ];
    await purgeDeletedWorkspaces(engine.database.db, 30);
    const left = (await engine.database.db.select({ id: apiTokens.id }).from(apiTokens)).map(
      (row) => row.id,
    );
    expect(left).toEqual(expect.arrayContaining(kept));
    for (const id of purged) expect(left).not.toContain(id);
  });
});
