import { afterEach, describe, expect, it, vi } from "vitest";
import { startEngineHarness, type EngineHarness } from "../../e2e/support/engine.ts";
import { firewallNameOf } from "./hetzner-firewall.ts";

// These tests start worker programs (node + tsx, seconds each on a busy machine) and wait
// for them across several jobs: a generous cap, well above the unit project's 30 s.
vi.setConfig({ testTimeout: 120_000 });

// The firewall through a real worker program, as a user creates a workspace: fake Hetzner and
// Cloudflare on loopback, the worker started from source.

let engine: EngineHarness | undefined;
afterEach(() => engine?.close());

const create = (harness: EngineHarness, name: string) =>
  harness.api.workspaces.create({ name, repository: "stand-in/sample", branch: "main" });

describe("Hetzner firewall in the worker", () => {
  it("puts every workspace server behind our firewall: 443 from Cloudflare's ranges only", async () => {
    const harness = (engine = await startEngineHarness());
    await harness.startWorker();
    const [one, two] = await Promise.all([create(harness, "one"), create(harness, "two")]);
    await harness.waitForState(one.id, "booting");
    await harness.waitForState(two.id, "booting");

    const [installId] = await harness.database.sql<{ id: string }[]>`select id from installation`;
    const firewalls = [...harness.hetzner.state.firewalls.values()];
    expect(firewalls.map((firewall) => firewall.name)).toEqual([firewallNameOf(installId!.id)]);
    const { ranges } = harness.cloudflare.ips;
    expect(firewalls[0]?.rules).toEqual([
      expect.objectContaining({
        direction: "in",
        protocol: "tcp",
        port: "443",
        source_ips: [...ranges.ipv4, ...ranges.ipv6],
      }),
    ]);
    for (const id of [one.id, two.id]) {
      const [server] = harness.serversOf(id);
      expect(server?.labels).toMatchObject({ install: installId!.id });
      const response = await fetch(`${harness.hetzner.url}/servers/${server?.id}`, {
        headers: { authorization: `Bearer ${harness.hetzner.token}` },
      });
      const { server: shown } = (await response.json()) as {
        server: { public_net: { firewalls: { id: number }[] } };
      };
      expect(shown.public_net.firewalls.map((firewall) => firewall.id)).toEqual([firewalls[0]?.id]);
    }
  });

  it("makes no server, and says why, when Cloudflare's ranges cannot be read", async () => {
    const harness = (engine = await startEngineHarness({ JOB_MAX_ATTEMPTS: "2" }));
    harness.cloudflare.faults.add({
      kind: "server-error",
      path: "/client/v4/ips",
      times: Infinity,
    });
    await harness.startWorker();
    const { id } = await create(harness, "closed");
    const failed = await harness.waitForState(id, "error", 120_000);
    expect(failed.stateReason).toMatch(
      /^Could not provision the workspace after 2 attempts: Could not read Cloudflare's IP ranges .*the workspace's firewall cannot be created/,
    );
    expect(harness.serversOf(id)).toEqual([]);
    expect(harness.hetzner.state.firewalls.size).toBe(0);
  }, 150_000);
});
