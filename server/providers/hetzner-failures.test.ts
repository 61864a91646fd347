import { afterEach, describe, expect, it } from "vitest";
import { startFakeHetzner, type FakeHetzner } from "../../e2e/fakes/hetzner.ts";
import type { FaultRule } from "../../e2e/fakes/fake-http.ts";
import { AppError } from "../errors.ts";
import { createLogger } from "../logger.ts";
import { HetznerApiError } from "./hetzner-api.ts";
import { createHetznerProvider } from "./hetzner.ts";
import { managedByLabel, type CreateServerInput } from "./provider.ts";

// One test per failure the fake Hetzner injects (ADR 0019): the error message callers see,
// and whether the client asked again. Waits are recorded, never slept.

let running: FakeHetzner | undefined;

afterEach(async () => {
  await running?.close();
  running = undefined;
});

type LogLine = Record<string, unknown> & { msg: string; level: string };

async function setUp(options: { token?: "read-only"; attempts?: number } = {}) {
  const fake = await startFakeHetzner();
  running = fake;
  const waits: number[] = [];
  const logs: LogLine[] = [];
  const logger = createLogger({
    level: "warn",
    service: "test",
    destination: { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) },
  });
  const provider = createHetznerProvider({
    token: options.token === "read-only" ? fake.readOnlyToken : fake.token,
    apiUrl: fake.url,
    logger,
    timing: { sleep: async (ms) => void waits.push(ms), attempts: options.attempts ?? 4 },
  });
  return { fake, provider, waits, logs };
}

const input: CreateServerInput = {
  name: "ws-fail",
  serverType: "cx23",
  location: "fsn1",
  userData: "#cloud-config\n",
  labels: { ...managedByLabel, workspace: "fail" },
  volumeIds: [],
};

const sent = (fake: FakeHetzner, method: string, path: string) =>
  fake.state.requests.filter((entry) => entry.method === method && entry.path === path);

async function errorOf(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof Error)) throw new Error("expected the promise to reject with an Error");
  return error;
}

describe("Hetzner failures: rate limits", () => {
  it("waits one second after Hetzner's 429 (RateLimit-*, no Retry-After), not until the reset", async () => {
    const { fake, provider, waits, logs } = await setUp();
    fake.faults.add({ kind: "rate-limit", method: "POST", path: "/v1/servers", times: 2 });
    await provider.createServer(input);
    expect(sent(fake, "POST", "/v1/servers").map((entry) => entry.status)).toEqual([429, 429, 201]);
    // One refill per missing request, longer as 429s repeat (others share the budget).
    expect(waits.slice(0, 2)).toEqual([1000, 2000]);
    const retries = logs.filter((line) => line.msg === "Hetzner API request failed; retrying");
    expect(retries[0]).toMatchObject({
      level: "warn",
      method: "POST",
      path: "/servers",
      status: 429,
      code: "rate_limit_exceeded",
      attempt: 1,
      waitMs: 1000,
    });
    expect(JSON.stringify(logs)).not.toContain(fake.token);
  });

  it("caps the wait even when the budget is slow to refill", async () => {
    const { fake, provider, waits } = await setUp();
    fake.faults.add({ kind: "rate-limit", limit: 60, path: "/v1/servers" });
    await provider.listServers({});
    // 60 an hour refills one a minute; a single wait stays at 10 s and the job moves on.
    expect(waits[0]).toBe(10_000);
  });
});

type Refusal = { rule: FaultRule; status: number; code: string; says: string[] };

const refusals: Refusal[] = [
  {
    rule: {
      kind: "error",
      status: 403,
      code: "resource_limit_exceeded",
      message: "server limit exceeded",
      details: { limits: [{ name: "server_limit" }] },
    },
    status: 403,
    code: "resource_limit_exceeded",
    says: ["Limits reached: server_limit.", "ask Hetzner to raise the limit"],
  },
  {
    rule: {
      kind: "error",
      status: 412,
      code: "resource_unavailable",
      message: "server type cx23 is unavailable in fsn1",
    },
    status: 412,
    code: "resource_unavailable",
    says: ["pick another location or server type"],
  },
  {
    rule: {
      kind: "error",
      status: 400,
      code: "json_error",
      message: "invalid JSON input",
    },
    status: 400,
    code: "json_error",
    says: ["(400 json_error): invalid JSON input."],
  },
  {
    rule: { kind: "error", status: 403, code: "forbidden", message: "insufficient permissions" },
    status: 403,
    code: "forbidden",
    says: ["This token may not do this"],
  },
  {
    rule: { kind: "error", status: 404, code: "not_found", message: "image not found" },
    status: 404,
    code: "not_found",
    says: ["(404 not_found): image not found."],
  },
  {
    rule: { kind: "error", status: 409, code: "uniqueness_error", message: "name is used" },
    status: 409,
    code: "uniqueness_error",
    says: ["rename or delete it"],
  },
  {
    rule: { kind: "error", status: 422, code: "protected", message: "server is protected" },
    status: 422,
    code: "protected",
    says: ["remove the protection"],
  },
];

describe("Hetzner failures: permanent refusals are never asked again", () => {
  it.each(refusals)("$status $code fails at once with Hetzner's words", async (refusal) => {
    const { fake, provider, waits } = await setUp();
    fake.faults.add({ ...refusal.rule, method: "POST", path: "/v1/servers" });
    const error = await errorOf(provider.createServer(input));
    expect(error).toBeInstanceOf(HetznerApiError);
    expect((error as HetznerApiError).retryable).toBe(false);
    expect(error.message).toMatch(
      new RegExp(`^Hetzner refused POST /servers \\(${refusal.status} ${refusal.code}\\): `),
    );
    for (const words of refusal.says) expect(error.message).toContain(words);
    // The test that fails if a 4xx is retried: one request, no wait.
    expect(sent(fake, "POST", "/v1/servers")).toHaveLength(1);
    expect(waits).toEqual([]);
  });

  it("422 invalid_input names each field and what is wrong with it", async () => {
    const { fake, provider } = await setUp();
    // Real, not injected: the fake refuses a CX type outside the EU as Hetzner does.
    const error = await errorOf(provider.createServer({ ...input, location: "ash" }));
    expect(error.message).toBe(
      "Hetzner refused POST /servers (422 invalid_input): invalid input in field 'location'. Fields: location: unsupported location for server type. Correct the fields above and try again.",
    );
    expect((error as HetznerApiError).fields).toEqual([
      { name: "location", messages: ["unsupported location for server type"] },
    ]);
    expect(sent(fake, "POST", "/v1/servers")).toHaveLength(1);
  });

  it("403 token_readonly: a Read token fails the create at once and says what to do", async () => {
    const { fake, provider } = await setUp({ token: "read-only" });
    const error = await errorOf(provider.createServer(input));
    expect(error.message).toContain("(403 token_readonly)");
    expect(error.message).toContain("This token is Read only, and creating servers needs Read");
    // Our firewall is ensured first: that write is the one refused, and nothing else is sent.
    expect(fake.state.requests.filter((entry) => entry.method !== "GET")).toHaveLength(1);
    expect(error.message).not.toContain(fake.readOnlyToken);
  });
});

describe("Hetzner failures: brief ones are asked again, boundedly", () => {
  it("423 locked (an action is still running) is retried with backoff, then succeeds", async () => {
    const { fake, provider, waits, logs } = await setUp();
    const volume = await provider.createVolume({
      name: "vol-locked",
      sizeGb: 10,
      location: "fsn1",
      labels: { ...managedByLabel },
    });
    fake.faults.add({
      kind: "error",
      status: 423,
      code: "locked",
      message: "volume is locked",
      method: "DELETE",
      path: `/v1/volumes/${volume.id}`,
    });
    waits.length = 0;
    await provider.deleteVolume(volume.id);
    const deletes = sent(fake, "DELETE", `/v1/volumes/${volume.id}`);
    expect(deletes.map((entry) => entry.status)).toEqual([423, 204]);
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeLessThanOrEqual(500);
    expect(logs.at(-1)).toMatchObject({ status: 423, code: "locked", attempt: 1 });
  });

  it("409 conflict is retried; still refused after the last attempt, the job may run again", async () => {
    const { fake, provider, waits } = await setUp({ attempts: 3 });
    fake.faults.add({
      kind: "error",
      status: 409,
      code: "conflict",
      message: "the resource has changed during the request, please retry",
      method: "GET",
      path: "/v1/servers",
      times: Infinity,
    });
    const error = await errorOf(provider.listServers({}));
    expect(error).toBeInstanceOf(HetznerApiError);
    expect((error as HetznerApiError).retryable).toBe(true);
    expect(error.message).toContain("(409 conflict)");
    expect(sent(fake, "GET", "/v1/servers")).toHaveLength(3);
    expect(waits).toHaveLength(2);
  });
});

describe("Hetzner failures: the token check", () => {
  it("says a Read token is Read only, and leaves nothing behind for a Read & Write one", async () => {
    const { fake, provider } = await setUp({ token: "read-only" });
    const error = await errorOf(provider.validateToken());
    expect(error).toBeInstanceOf(AppError);
    expect(error.message).toBe(
      "This token is Read only: workspaces need Read & Write. Create a Read & Write token in the Hetzner Console (your project → Security → API tokens) and paste it here.",
    );
    const writable = createHetznerProvider({ token: fake.token, apiUrl: fake.url });
    await writable.validateToken();
    expect(sent(fake, "POST", "/v1/placement_groups").map((entry) => entry.status)).toEqual([
      403, 201,
    ]);
    expect(fake.placementGroups.size).toBe(0);
  });
});

describe("Hetzner failures: behind our back", () => {
  it("reports a server switched off in the Console as off, and a deleted one as gone", async () => {
    const { fake, provider } = await setUp();
    const server = await provider.createServer(input);
    fake.switchOffServer(server.id);
    expect(await provider.getServer(server.id)).toMatchObject({ status: "off" });
    fake.deleteServerBehindOurBack(server.id);
    expect(await provider.getServer(server.id)).toBeNull();
    expect(await provider.listServers(input.labels)).toEqual([]);
    // Deleting what is already gone is done, not an error.
    await provider.deleteServer(server.id);
  });
});
