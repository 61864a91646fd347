import { afterEach, describe, expect, it } from "vitest";
import { startFakeHetzner, type FakeHetzner } from "../../e2e/fakes/hetzner.ts";
import { AppError } from "../errors.ts";
import type { HetznerTiming } from "./hetzner-api.ts";
import { rateLimitWaitMs } from "./hetzner-errors.ts";
import { createHetznerProvider } from "./hetzner.ts";
import { managedByLabel, type CreateServerInput, type Provider } from "./provider.ts";

type Setup = { fake: FakeHetzner; provider: Provider; waits: number[] };

let running: FakeHetzner | undefined;

afterEach(async () => {
  await running?.close();
  running = undefined;
});

async function setUp(timing: Partial<HetznerTiming> = {}, token?: string): Promise<Setup> {
  const fake = await startFakeHetzner({ actionPolls: 2 });
  running = fake;
  const waits: number[] = [];
  const provider = createHetznerProvider({
    token: token ?? fake.token,
    apiUrl: fake.url,
    // Records how long the provider asked to wait instead of waiting: no wall clock here.
    timing: { sleep: async (ms) => void waits.push(ms), ...timing },
  });
  return { fake, provider, waits };
}

function serverInput(id: string, extra: Partial<CreateServerInput> = {}): CreateServerInput {
  return {
    name: `ws-${id}`,
    serverType: "cx23",
    location: "fsn1",
    userData: "#cloud-config\n",
    labels: { ...managedByLabel, workspace: id },
    volumeIds: [],
    ...extra,
  };
}

const requestsTo = (fake: FakeHetzner, method: string, path: string | RegExp) =>
  fake.state.requests.filter(
    (entry) =>
      entry.method === method &&
      (typeof path === "string" ? entry.path === path : path.test(entry.path)),
  );

async function errorOf(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof Error)) throw new Error("expected the promise to reject with an Error");
  return error;
}

describe("Hetzner provider: token and catalogue", () => {
  it("accepts the fake's token and refuses another one with a way out", async () => {
    const { fake, provider } = await setUp();
    await provider.validateToken();
    const wrong = createHetznerProvider({ token: "not-the-right-token-123", apiUrl: fake.url });
    const error = await errorOf(wrong.validateToken());
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe("BAD_REQUEST");
    expect(error.message).toContain("Hetzner refused this API token");
    expect(error.message).toContain("Read & Write token");
    expect(error.message).not.toContain("not-the-right-token-123");
  });

  it("lists current server types and locations", async () => {
    const { provider } = await setUp();
    const catalogue = await provider.getCatalogue();
    expect(catalogue.serverTypes).toContainEqual(
      expect.objectContaining({ name: "cx23", cores: 2, memoryGb: 4, diskGb: 40 }),
    );
    const offered = catalogue.offers.map((offer) => offer.serverType);
    expect(offered).toContain("cx23");
    expect(offered).not.toContain("cx22");
    expect(catalogue.locations).toContainEqual({
      name: "fsn1",
      city: "Falkenstein",
      country: "DE",
    });
  });
});

describe("Hetzner provider: servers", () => {
  it("creates a server and waits until its create action is done", async () => {
    const { fake, provider } = await setUp();
    const volume = await provider.createVolume({
      name: "ws-1-home",
      sizeGb: 10,
      location: "fsn1",
      labels: { ...managedByLabel, workspace: "1" },
    });
    const server = await provider.createServer(
      serverInput("1", { userData: "#cloud-config\nhostname: ws-1\n", volumeIds: [volume.id] }),
    );
    expect(server).toMatchObject({ name: "ws-1", status: "running", labels: { workspace: "1" } });
    expect(server.ipv4).toMatch(/^203\.0\.113\.\d+$/);
    const stored = fake.state.servers.get(Number(server.id));
    expect(stored).toMatchObject({
      image: "docker-ce",
      automount: false,
      userData: "#cloud-config\nhostname: ws-1\n",
      volumeIds: [Number(volume.id)],
    });
    const create = [...fake.state.actions.values()].find((a) => a.command === "create_server");
    // Two polls answered "running", the third "success".
    expect(requestsTo(fake, "GET", `/v1/actions/${create?.id}`)).toHaveLength(3);
    expect(await provider.getVolume(volume.id)).toMatchObject({ serverId: server.id });
  });

  it("gets servers, answers null for unknown ones, and lists by label across pages", async () => {
    const { provider } = await setUp({ actionPollMs: 0 });
    for (let index = 0; index < 52; index += 1)
      await provider.createServer(serverInput(`${index}`));
    await provider.createServer(serverInput("x", { labels: { other: "yes" } }));
    const mine = await provider.listServers(managedByLabel);
    expect(mine).toHaveLength(52);
    expect(new Set(mine.map((server) => server.name)).size).toBe(52);
    const one = await provider.listServers({ ...managedByLabel, workspace: "7" });
    expect(one.map((server) => server.name)).toEqual(["ws-7"]);
    expect(await provider.getServer(one[0]?.id ?? "")).toMatchObject({ name: "ws-7" });
    expect(await provider.getServer("999999")).toBeNull();
  });

  it("deletes a server, detaches its volumes, and treats a second delete as done", async () => {
    const { fake, provider } = await setUp();
    const volume = await provider.createVolume({
      name: "ws-2-home",
      sizeGb: 10,
      location: "fsn1",
      labels: managedByLabel,
    });
    const server = await provider.createServer(serverInput("2", { volumeIds: [volume.id] }));
    await provider.deleteServer(server.id);
    expect(fake.state.servers.size).toBe(0);
    expect(await provider.getVolume(volume.id)).toMatchObject({ serverId: null });
    await provider.deleteServer(server.id);
    await provider.deleteServer("424242");
  });

  it("deletes a server whose create action failed and makes it again, never reusing it", async () => {
    const { fake, provider } = await setUp();
    fake.failNextAction("create_server", { code: "server_error", message: "host is on fire" });
    const server = await provider.createServer(serverInput("3"));
    const posts = requestsTo(fake, "POST", "/v1/servers");
    expect(posts.map((entry) => entry.status)).toEqual([201, 201]);
    const firstId = (posts[0]?.response as { server: { id: number } }).server.id;
    expect(server.id).not.toBe(String(firstId));
    expect(requestsTo(fake, "DELETE", `/v1/servers/${firstId}`)).toHaveLength(1);
    expect([...fake.state.servers.keys()]).toEqual([Number(server.id)]);
  });

  it("gives up after three failed create actions, with the reason and nothing left behind", async () => {
    const { fake, provider } = await setUp();
    for (let index = 0; index < 3; index += 1)
      fake.failNextAction("create_server", { code: "server_error", message: "host is on fire" });
    const error = await errorOf(provider.createServer(serverInput("3")));
    expect(error.message).toBe(
      "Hetzner could not create server ws-3 3 times (create_server: server_error: host is on fire); the failed servers were deleted. Try again later, or pick another location or server type.",
    );
    expect(requestsTo(fake, "POST", "/v1/servers")).toHaveLength(3);
    expect(fake.state.servers.size).toBe(0);
  });

  it("refuses user data over 32 KiB with a clear error, as Hetzner does", async () => {
    const { fake, provider } = await setUp();
    const userData = `#cloud-config\n${"x".repeat(32 * 1024)}`;
    const error = await errorOf(provider.createServer(serverInput("4", { userData })));
    expect(error).toBeInstanceOf(AppError);
    expect(error.message).toMatch(/user data is \d+ bytes.*at most 32768 bytes \(32 KiB\)/);
    expect(requestsTo(fake, "POST", "/v1/servers")).toHaveLength(0);
    // The fake holds the same line as the API, so the check above mirrors the real limit.
    const rawCreate = (name: string, user_data: string) =>
      fetch(`${fake.url}/servers`, {
        method: "POST",
        headers: { authorization: `Bearer ${fake.token}`, "content-type": "application/json" },
        body: JSON.stringify({
          name,
          server_type: "cx23",
          location: "fsn1",
          image: "docker-ce",
          user_data,
        }),
      });
    const tooBig = await rawCreate("ws-4", userData);
    expect(tooBig.status).toBe(422);
    expect(await tooBig.json()).toMatchObject({ error: { code: "invalid_input" } });
    expect((await rawCreate("ws-5", "x".repeat(32 * 1024))).status).toBe(201);
  });

  it("refuses to adopt a same-named server that is not this workspace's", async () => {
    const { fake, provider } = await setUp();
    await provider.createServer(serverInput("6", { labels: { someone: "else" } }));
    const error = await errorOf(provider.createServer(serverInput("6")));
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe("CONFLICT");
    expect(error.message).toContain("ws-6 already exists");
    expect(error.message).not.toContain(fake.token);
  });
});

describe("Hetzner provider: volumes", () => {
  it("creates, gets, lists by label, detaches and deletes volumes idempotently", async () => {
    const { fake, provider } = await setUp();
    const labels = { ...managedByLabel, workspace: "8" };
    const volume = await provider.createVolume({
      name: "ws-8-home",
      sizeGb: 20,
      location: "fsn1",
      labels,
    });
    expect(volume).toMatchObject({ name: "ws-8-home", sizeGb: 20, serverId: null, labels });
    expect(fake.state.volumes.get(Number(volume.id))).toMatchObject({ status: "available" });
    await provider.createVolume({ name: "other", sizeGb: 10, location: "fsn1", labels: {} });
    expect((await provider.listVolumes(labels)).map((found) => found.id)).toEqual([volume.id]);

    const server = await provider.createServer(serverInput("8", { volumeIds: [volume.id] }));
    expect(fake.state.volumes.get(Number(volume.id))?.serverId).toBe(Number(server.id));
    await provider.detachVolume(volume.id);
    expect(await provider.getVolume(volume.id)).toMatchObject({ serverId: null });
    await provider.detachVolume(volume.id);
    expect(requestsTo(fake, "POST", /\/detach$/)).toHaveLength(1);

    await provider.deleteVolume(volume.id);
    expect(await provider.getVolume(volume.id)).toBeNull();
    await provider.deleteVolume(volume.id);
  });

  it("detaches an attached volume before deleting it", async () => {
    const { fake, provider } = await setUp();
    const volume = await provider.createVolume({
      name: "ws-9-home",
      sizeGb: 10,
      location: "fsn1",
      labels: {},
    });
    await provider.createServer(serverInput("9", { volumeIds: [volume.id] }));
    await provider.deleteVolume(volume.id);
    expect(fake.state.volumes.size).toBe(0);
    expect(requestsTo(fake, "DELETE", `/v1/volumes/${volume.id}`).map((r) => r.status)).toEqual([
      204,
    ]);
  });
});

describe("Hetzner provider: rate limits and failures", () => {
  it("waits as long as Retry-After says after a 429, then succeeds", async () => {
    const { fake, provider, waits } = await setUp();
    fake.faults.add({
      kind: "rate-limit",
      retryAfterSeconds: 2,
      method: "POST",
      path: "/v1/servers",
    });
    await provider.createServer(serverInput("10"));
    expect(requestsTo(fake, "POST", "/v1/servers").map((entry) => entry.status)).toEqual([
      429, 201,
    ]);
    expect(waits[0]).toBe(2000);
    expect(fake.state.servers.size).toBe(1);
  });

  it("waits for one refill of Hetzner's budget, not until RateLimit-Reset (when it is full)", () => {
    const now = Date.UTC(2025, 0, 1);
    const empty = (limit: number, resetIn: number) =>
      new Headers({
        "ratelimit-limit": String(limit),
        "ratelimit-remaining": "0",
        "ratelimit-reset": String(now / 1000 + resetIn),
      });
    // 3600 an hour refills one a second: a full budget is an hour away, one request 1 s.
    expect(rateLimitWaitMs(empty(3600, 3600), 1, now)).toBe(1000);
    expect(rateLimitWaitMs(empty(3600, 3600), 3, now)).toBe(3000);
    expect(rateLimitWaitMs(empty(7200, 3600), 1, now)).toBe(500);
    expect(rateLimitWaitMs(empty(3600, 0.2), 1, now)).toBe(200);
    expect(rateLimitWaitMs(new Headers({ "retry-after": "5" }), 1, now)).toBe(5000);
    expect(rateLimitWaitMs(new Headers(), 1, now)).toBe(1000);
  });

  it("gives up on endless 429s with a TOO_MANY_REQUESTS error", async () => {
    const { fake, provider } = await setUp({ rateLimitAttempts: 3 });
    fake.faults.add({ kind: "rate-limit", retryAfterSeconds: 1, times: Infinity });
    const error = await errorOf(provider.getCatalogue());
    expect((error as AppError).code).toBe("TOO_MANY_REQUESTS");
    expect(requestsTo(fake, "GET", "/v1/locations")).toHaveLength(3);
  });

  it("retries a 500 a bounded number of times, then fails readably without the token", async () => {
    const { fake, provider, waits } = await setUp();
    fake.faults.add({
      kind: "server-error",
      times: Infinity,
      method: "GET",
      path: /^\/v1\/servers\/\d+$/,
    });
    const error = await errorOf(provider.getServer("1234"));
    expect(error.message).toMatch(
      /^Hetzner API answered 500 .* to GET \/servers\/1234 after 4 attempts$/,
    );
    expect(error.message).not.toContain(fake.token);
    expect(requestsTo(fake, "GET", "/v1/servers/1234")).toHaveLength(4);
    expect(waits).toHaveLength(3);
  });

  it("recovers from a lost create response without making a second server", async () => {
    const { fake, provider } = await setUp();
    fake.faults.add({ kind: "lost-response", method: "POST", path: "/v1/servers" });
    const server = await provider.createServer(serverInput("11"));
    expect(server).toMatchObject({ name: "ws-11", status: "running" });
    expect(fake.state.servers.size).toBe(1);
    expect(requestsTo(fake, "POST", "/v1/servers").map((entry) => entry.status)).toEqual(["lost"]);
    expect(requestsTo(fake, "GET", `/v1/servers/${server.id}/actions`).length).toBeGreaterThan(0);
  });

  it("re-sends a create that failed with 503 before anything was made", async () => {
    const { fake, provider } = await setUp();
    fake.faults.add({ kind: "server-error", status: 503, method: "POST", path: "/v1/volumes" });
    await provider.createVolume({ name: "ws-12-home", sizeGb: 10, location: "fsn1", labels: {} });
    expect(requestsTo(fake, "POST", "/v1/volumes").map((entry) => entry.status)).toEqual([
      503, 201,
    ]);
    expect(fake.state.volumes.size).toBe(1);
  });

  it("survives a lost delete response and a request that times out", async () => {
    const { fake, provider } = await setUp({ requestTimeoutMs: 200 });
    const server = await provider.createServer(serverInput("13"));
    fake.faults.add({ kind: "lost-response", method: "DELETE" });
    await provider.deleteServer(server.id);
    expect(fake.state.servers.size).toBe(0);
    fake.faults.add({ kind: "slow", delayMs: 2000, path: "/v1/locations" });
    expect((await provider.getCatalogue()).locations).not.toHaveLength(0);
    expect(requestsTo(fake, "GET", "/v1/locations")).toHaveLength(2);
  });
});
