import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startFakeCloudflare, type FakeCloudflare } from "../../e2e/fakes/cloudflare.ts";
import { startFakeHetzner, type FakeHetzner } from "../../e2e/fakes/hetzner.ts";
import { createCloudflareRangesReader } from "../dns/cloudflare-ranges.ts";
import type { AppLoadContextValue } from "../http/load-context.ts";
import type { Job } from "../jobs/queue.ts";
import { createHetznerFirewallClient } from "../providers/hetzner-firewall.ts";
import { createHetznerProvider } from "../providers/hetzner.ts";
import { installLabels } from "../providers/provider.ts";
import { readCredentialSecret, setCredential } from "../services/credentials.ts";
import { createTestLoadContext } from "../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { createTestUser } from "../testing/test-users.ts";
import {
  createPeriodicHandlers,
  enqueuePeriodicJobs,
  periodicIntervalsOf,
  periodicJobs,
} from "./periodic-jobs.ts";

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.drop());

async function waitingJobs() {
  const rows = await database.sql<{ kind: string; run_at: Date }[]>`
    select kind, run_at from jobs where status = 'queued' order by kind`;
  return Object.fromEntries(rows.map((row) => [row.kind, new Date(row.run_at).toISOString()]));
}

describe("periodic jobs", () => {
  afterEach(() => database.sql`delete from jobs`);
  const now = Date.UTC(2026, 10, 22, 10, 7, 30);

  it("keeps exactly one waiting job per kind, due at its next interval, however often scheduled", async () => {
    // Two workers' schedulers, twice each.
    await Promise.all([
      enqueuePeriodicJobs(database.db, now),
      enqueuePeriodicJobs(database.db, now),
    ]);
    await enqueuePeriodicJobs(database.db, now + 1_000);
    const rows = await database.sql<{ kind: string }[]>`select kind from jobs order by kind`;
    expect(rows.map((row) => row.kind)).toEqual(Object.keys(periodicJobs).sort());
    expect(await waitingJobs()).toEqual({
      "firewalls.refresh_rules": "2026-11-22T12:00:00.000Z",
      "servers.sweep_orphans": "2026-11-22T10:10:00.000Z",
      "signing_keys.rotate": "2026-11-22T11:00:00.000Z",
      "workspaces.enforce_lifetime": "2026-11-22T10:10:00.000Z",
      "workspaces.purge": "2026-11-22T11:00:00.000Z",
      "workspaces.reconcile": "2026-11-22T10:08:00.000Z",
    });
  });

  it("refreshes the firewalls as often as FIREWALL_REFRESH_MINUTES says, and never in one-machine mode", async () => {
    const hetzner = { WORKSPACE_PROVIDER: "hetzner", FIREWALL_REFRESH_MINUTES: 90 } as const;
    await enqueuePeriodicJobs(database.db, now, periodicIntervalsOf(hetzner));
    expect((await waitingJobs())["firewalls.refresh_rules"]).toBe("2026-11-22T10:30:00.000Z");
    await database.sql`delete from jobs`;
    const local = { WORKSPACE_PROVIDER: "local", FIREWALL_REFRESH_MINUTES: 90 } as const;
    await enqueuePeriodicJobs(database.db, now, periodicIntervalsOf(local));
    expect(Object.keys(await waitingJobs())).not.toContain("firewalls.refresh_rules");
    expect(Object.keys(await waitingJobs())).toHaveLength(Object.keys(periodicJobs).length - 1);
  });
});

// Three users with saved Hetzner tokens: two projects with our firewall, and one whose token
// Hetzner no longer accepts. The refresh job reads the fake Cloudflare's ranges each run.
describe("firewalls.refresh_rules", () => {
  const installId = "0b7c2f4e-8d1a-4f3b-9c6e-5a2d1e0f9b87";
  const timing = { actionPollMs: 0, sleep: async () => {} };
  let context: AppLoadContextValue;
  let cloudflare: FakeCloudflare;
  let projects: FakeHetzner[];
  let revokedUser: string;
  const logs: { level: string; message: string }[] = [];

  beforeAll(async () => {
    context = await createTestLoadContext(database, {}, { WORKSPACE_PROVIDER: "hetzner" });
    cloudflare = await startFakeCloudflare();
    projects = [await startFakeHetzner(), await startFakeHetzner()];
    const tokens = [...projects.map((project) => project.token), "revoked-token-0123456789"];
    for (const [index, token] of tokens.entries()) {
      const user = await createTestUser(context, `firewall-user-${index}`);
      const owner = { userId: user.id, auditSubject: user.id };
      await setCredential(database.db, context.keyring, owner, {
        provider: "hetzner",
        token,
        validate: async () => {},
      });
      revokedUser = user.id;
    }
    // Each project got our firewall with its first workspace server.
    const reader = createCloudflareRangesReader({ apiUrl: cloudflare.url });
    for (const project of projects)
      await createHetznerProvider({
        token: project.token,
        apiUrl: project.url,
        timing,
        firewall: { installId, sourceIps: async () => (await reader.readFresh()).ipv4 },
      }).createServer({
        name: "ws-1",
        serverType: "cx23",
        location: "fsn1",
        userData: "#cloud-config\n",
        labels: { ...installLabels(installId), workspace: "1" },
        volumeIds: [],
      });
  });
  afterAll(async () => {
    await Promise.all([cloudflare.close(), ...projects.map((project) => project.close())]);
  });
  afterEach(() => {
    logs.length = 0;
    cloudflare.faults.clear();
  });

  function refresh(workspaceProvider: "hetzner" | "local" = "hetzner") {
    const handlers = createPeriodicHandlers({
      db: database.db,
      env: { ...context.env, WORKSPACE_PROVIDER: workspaceProvider },
      keyring: context.keyring,
      installId,
      hetznerProviderFor: () => Promise.reject(new Error("not used by this job")),
      hetznerFirewallFor: async (userId) => {
        const token = await readCredentialSecret(database.db, context.keyring, userId, "hetzner");
        // The revoked token goes to the first project, which refuses it (401).
        const project = projects.find((candidate) => candidate.token === token) ?? projects[0]!;
        return createHetznerFirewallClient({ token, apiUrl: project.url, installId, timing });
      },
      cloudflareRanges: createCloudflareRangesReader({ apiUrl: cloudflare.url, maxRetries: 0 }),
    });
    return handlers["firewalls.refresh_rules"]({} as Job, {
      signal: new AbortController().signal,
      log: async (level, message) => void logs.push({ level, message }),
    });
  }

  const setRulesPosts = (project: FakeHetzner) =>
    project.state.requests.filter((entry) => entry.path.endsWith("/actions/set_rules"));
  const sourceIpsOf = (project: FakeHetzner) =>
    [...project.state.firewalls.values()].map((firewall) =>
      firewall.rules.flatMap((rule) => rule.source_ips),
    );

  it("writes the new ranges into every project when Cloudflare's changed, past a failing one", async () => {
    // Created with the IPv4 ranges only, so both projects differ from what Cloudflare lists.
    await refresh();
    const expected = [...cloudflare.ips.ranges.ipv4, ...cloudflare.ips.ranges.ipv6];
    for (const project of projects) {
      expect(setRulesPosts(project)).toHaveLength(1);
      expect(sourceIpsOf(project)).toEqual([expected]);
    }
    const warning = logs.find((line) => line.level === "warn");
    expect(warning?.message).toMatch(
      new RegExp(
        `^Could not update the firewall in the Hetzner project of user ${revokedUser}: .*401`,
      ),
    );
    expect(JSON.stringify(logs)).not.toContain("revoked-token-0123456789");
    expect(logs.at(-1)?.message).toMatch(/updated in 2 project\(s\), unchanged in 0, failed in 1/);

    cloudflare.ips.set({ ipv4: ["198.51.100.0/24"], ipv6: ["2001:db8::/32"] });
    await refresh();
    for (const project of projects) {
      expect(setRulesPosts(project)).toHaveLength(2);
      expect(sourceIpsOf(project)).toEqual([["198.51.100.0/24", "2001:db8::/32"]]);
    }
  });

  it("changes nothing when the ranges are the same", async () => {
    const before = projects.map((project) => setRulesPosts(project).length);
    await refresh();
    expect(projects.map((project) => setRulesPosts(project).length)).toEqual(before);
  });

  it("leaves every firewall as it is when Cloudflare cannot be read, and says so", async () => {
    const before = projects.map((project) => sourceIpsOf(project));
    cloudflare.ips.set({ ipv4: ["192.0.2.0/24"], ipv6: ["2001:db8:1::/48"] });
    cloudflare.faults.add({ kind: "server-error", path: "/client/v4/ips", times: Infinity });
    await expect(refresh()).rejects.toThrow(/^Could not read Cloudflare's IP ranges/);
    expect(projects.map((project) => sourceIpsOf(project))).toEqual(before);
  });

  it("does nothing in one-machine mode", async () => {
    const asked = cloudflare.ips.requests.length;
    const requests = projects.map((project) => project.state.requests.length);
    await refresh("local");
    expect(cloudflare.ips.requests).toHaveLength(asked);
    expect(projects.map((project) => project.state.requests.length)).toEqual(requests);
  });
});
