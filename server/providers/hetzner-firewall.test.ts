import { afterEach, describe, expect, it } from "vitest";
import { publishedCloudflareRanges } from "../../e2e/fakes/cloudflare-ips.ts";
import { startFakeHetzner, type FakeHetzner } from "../../e2e/fakes/hetzner.ts";
import { AppError } from "../errors.ts";
import { createHetznerFirewallClient, firewallNameOf } from "./hetzner-firewall.ts";
import { createHetznerProvider } from "./hetzner.ts";
import { installLabels, type CreateServerInput, type Labels } from "./provider.ts";

// Our firewall in a user's Hetzner project, against the fake Hetzner: made once per project
// (also when two workers race), applied by label selector to our servers, old and new, with
// exactly one rule: TCP 443 from Cloudflare's ranges.

const installId = "6d1f7c9e-3b52-4c1e-9a0f-2f4b8d7e5a10";
const selector = `managed-by=cloud-ai-workspaces,install=${installId}`;
const cloudflareIps = [...publishedCloudflareRanges.ipv4, ...publishedCloudflareRanges.ipv6];

let running: FakeHetzner | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

async function startFake(): Promise<FakeHetzner> {
  running = await startFakeHetzner({ actionPolls: 1 });
  return running;
}

const fastTiming = { actionPollMs: 0, sleep: async () => {} };

function providerFor(fake: FakeHetzner, sourceIps: () => Promise<string[]>) {
  return createHetznerProvider({
    token: fake.token,
    apiUrl: fake.url,
    timing: fastTiming,
    firewall: { installId, sourceIps },
  });
}

function serverInput(id: string, labels: Labels = installLabels(installId)): CreateServerInput {
  return {
    name: `ws-${id}`,
    serverType: "cx23",
    location: "fsn1",
    userData: "#cloud-config\n",
    labels: { ...labels, workspace: id },
    volumeIds: [],
  };
}

const postsTo = (fake: FakeHetzner, path: string | RegExp) =>
  fake.state.requests.filter(
    (entry) =>
      entry.method === "POST" &&
      (typeof path === "string" ? entry.path === path : path.test(entry.path)),
  );

/** What Hetzner's API says of a server: the firewalls on its public interface. */
async function firewallsOnServer(fake: FakeHetzner, serverId: string) {
  const response = await fetch(`${fake.url}/servers/${serverId}`, {
    headers: { authorization: `Bearer ${fake.token}` },
  });
  const body = (await response.json()) as {
    server: { public_net: { firewalls: { id: number; status: string }[] } };
  };
  return body.server.public_net.firewalls;
}

const countingSource = (ips = cloudflareIps) => {
  const source = Object.assign(async () => ((source.calls += 1), ips), { calls: 0 });
  return source;
};

describe("Hetzner firewall: made before the first server", () => {
  it("creates one firewall with only TCP 443 from Cloudflare, applied by our label selector", async () => {
    const fake = await startFake();
    const source = countingSource();
    const provider = providerFor(fake, source);
    const first = await provider.createServer(serverInput("1"));
    const second = await provider.createServer(serverInput("2"));

    const firewalls = [...fake.state.firewalls.values()];
    expect(firewalls).toHaveLength(1);
    const [firewall] = firewalls;
    expect(firewall).toMatchObject({
      name: firewallNameOf(installId),
      labels: installLabels(installId),
      appliedTo: [{ type: "label_selector", selector }],
    });
    expect(firewall?.rules).toEqual([
      {
        direction: "in",
        protocol: "tcp",
        port: "443",
        source_ips: cloudflareIps,
        destination_ips: [],
        description: "HTTPS from Cloudflare only (cloud-ai-workspaces)",
      },
    ]);
    // Asked for the ranges only to create it; the second server found it by label.
    expect(source.calls).toBe(1);
    expect(postsTo(fake, "/v1/firewalls").map((entry) => entry.status)).toEqual([201]);
    expect(postsTo(fake, /\/apply_to_resources$/)).toHaveLength(0);
    for (const server of [first, second])
      expect(await firewallsOnServer(fake, server.id)).toEqual([
        { id: firewall?.id, status: "applied" },
      ]);
    // The firewall exists before the first server is asked for.
    const order = fake.state.requests.map((entry) => `${entry.method} ${entry.path}`);
    expect(order.indexOf("POST /v1/firewalls")).toBeLessThan(order.indexOf("POST /v1/servers"));
  });

  it("reaches our servers made before it, and not servers that are not ours", async () => {
    const fake = await startFake();
    const plain = createHetznerProvider({
      token: fake.token,
      apiUrl: fake.url,
      timing: fastTiming,
    });
    const older = await plain.createServer(serverInput("old"));
    const foreign = await plain.createServer(serverInput("theirs", { team: "other" }));
    await providerFor(fake, countingSource()).createServer(serverInput("new"));
    const [firewall] = [...fake.state.firewalls.values()];
    expect(await firewallsOnServer(fake, older.id)).toEqual([
      { id: firewall?.id, status: "applied" },
    ]);
    expect(await firewallsOnServer(fake, foreign.id)).toEqual([]);
  });

  it("ends with one firewall when two workers create it at the same moment", async () => {
    const fake = await startFake();
    // Both have looked and found none before either sends its create.
    let arrived = 0;
    let release: () => void = () => {};
    const bothLooked = new Promise<void>((resolve) => (release = resolve));
    const source = async () => {
      arrived += 1;
      if (arrived === 2) release();
      await bothLooked;
      return cloudflareIps;
    };
    const [one, two] = await Promise.all([
      providerFor(fake, source).createServer(serverInput("a")),
      providerFor(fake, source).createServer(serverInput("b")),
    ]);
    expect(fake.state.firewalls.size).toBe(1);
    const statuses = postsTo(fake, "/v1/firewalls").map((entry) => entry.status);
    expect(statuses.sort()).toEqual([201, 409]);
    const [firewall] = [...fake.state.firewalls.values()];
    for (const server of [one, two])
      expect(await firewallsOnServer(fake, server.id)).toEqual([
        { id: firewall?.id, status: "applied" },
      ]);
  });

  it("survives a lost create response without a second firewall", async () => {
    const fake = await startFake();
    fake.faults.add({ kind: "lost-response", method: "POST", path: "/v1/firewalls" });
    await providerFor(fake, countingSource()).createServer(serverInput("3"));
    expect(fake.state.firewalls.size).toBe(1);
    expect(postsTo(fake, "/v1/firewalls").map((entry) => entry.status)).toEqual(["lost"]);
  });

  it("makes no server when the ranges cannot be read and no firewall exists yet", async () => {
    const fake = await startFake();
    const failing = async (): Promise<string[]> => {
      throw new AppError("SERVICE_UNAVAILABLE", "Could not read Cloudflare's IP ranges");
    };
    await expect(providerFor(fake, failing).createServer(serverInput("4"))).rejects.toThrow(
      "Could not read Cloudflare's IP ranges",
    );
    expect(fake.state.firewalls.size).toBe(0);
    expect(postsTo(fake, "/v1/servers")).toHaveLength(0);
  });

  it("does not need the ranges once the project has our firewall", async () => {
    const fake = await startFake();
    await providerFor(fake, countingSource()).createServer(serverInput("5"));
    const failing = async (): Promise<string[]> => {
      throw new Error("Cloudflare is down");
    };
    const server = await providerFor(fake, failing).createServer(serverInput("6"));
    expect(server.name).toBe("ws-6");
  });

  it("puts the label selector back when someone removed it in the Console", async () => {
    const fake = await startFake();
    await providerFor(fake, countingSource()).createServer(serverInput("7"));
    const [firewall] = [...fake.state.firewalls.values()];
    firewall!.appliedTo = [];
    const server = await providerFor(fake, countingSource()).createServer(serverInput("8"));
    expect(postsTo(fake, `/v1/firewalls/${firewall?.id}/actions/apply_to_resources`)).toHaveLength(
      1,
    );
    expect(firewall?.appliedTo).toEqual([{ type: "label_selector", selector }]);
    expect(await firewallsOnServer(fake, server.id)).toHaveLength(1);
  });

  it("refuses a same-named firewall that is not ours, and a server without our labels", async () => {
    const fake = await startFake();
    await fetch(`${fake.url}/firewalls`, {
      method: "POST",
      headers: { authorization: `Bearer ${fake.token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: firewallNameOf(installId), labels: { owner: "someone" } }),
    });
    const conflict = providerFor(fake, countingSource()).createServer(serverInput("9"));
    await expect(conflict).rejects.toBeInstanceOf(AppError);
    await expect(conflict).rejects.toThrow(/already exists in this Hetzner project/);
    const unlabelled = providerFor(fake, countingSource()).createServer(
      serverInput("10", { "managed-by": "cloud-ai-workspaces" }),
    );
    await expect(unlabelled).rejects.toThrow(/would not carry the labels/);
    expect(postsTo(fake, "/v1/servers")).toHaveLength(0);
  });
});

describe("Hetzner firewall: rules kept up to date", () => {
  it("sets the rules only when Cloudflare's ranges changed, and says when there is no firewall", async () => {
    const fake = await startFake();
    const client = createHetznerFirewallClient({
      token: fake.token,
      apiUrl: fake.url,
      installId,
      timing: fastTiming,
    });
    expect(await client.syncRules(cloudflareIps)).toBe("absent");
    const server = await providerFor(fake, countingSource()).createServer(serverInput("11"));
    // The same ranges in another order are the same rules.
    expect(await client.syncRules([...cloudflareIps].reverse())).toBe("unchanged");
    expect(postsTo(fake, /\/actions\/set_rules$/)).toHaveLength(0);

    const changed = ["198.51.100.0/24", ...cloudflareIps.slice(1)];
    expect(await client.syncRules(changed)).toBe("updated");
    const [firewall] = [...fake.state.firewalls.values()];
    expect(firewall?.rules.map((rule) => rule.source_ips)).toEqual([changed]);
    expect(postsTo(fake, /\/actions\/set_rules$/)).toHaveLength(1);
    // set_rules re-applied it to the server, as Hetzner reports with apply_firewall.
    const applied = [...fake.state.actions.values()].filter(
      (action) => action.command === "apply_firewall",
    );
    expect(applied.map((action) => action.resources)).toEqual([
      [
        { id: Number(server.id), type: "server" },
        { id: firewall?.id, type: "firewall" },
      ],
    ]);
  });

  it("splits more than 100 ranges over rules, as Hetzner allows 100 CIDRs per rule", async () => {
    const fake = await startFake();
    const many = Array.from({ length: 150 }, (_, index) => `10.${index}.0.0/16`);
    await providerFor(fake, countingSource(many)).createServer(serverInput("12"));
    const [firewall] = [...fake.state.firewalls.values()];
    expect(firewall?.rules.map((rule) => [rule.port, rule.source_ips.length])).toEqual([
      ["443", 100],
      ["443", 50],
    ]);
  });
});
