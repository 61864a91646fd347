import { afterEach, describe, expect, it } from "vitest";
import { startFakeHetzner, type FakeHetzner } from "../../e2e/fakes/hetzner.ts";
import { HetznerAbortedError } from "./hetzner-api.ts";
import { createHetznerFirewallClient } from "./hetzner-firewall.ts";
import { createHetznerProvider } from "./hetzner.ts";
import { managedByLabel, type CreateServerInput } from "./provider.ts";

// The job's AbortSignal reaches every Hetzner call: a request in flight, a retry wait and an
// action poll all end at once with an error that says so, and nothing is sent after it.

let running: FakeHetzner | undefined;

afterEach(async () => {
  await running?.close();
  running = undefined;
});

async function start(options: { actionPolls?: number } = {}) {
  running = await startFakeHetzner(options);
  return running;
}

const input: CreateServerInput = {
  name: "ws-abort",
  serverType: "cx23",
  location: "fsn1",
  userData: "#cloud-config\n",
  labels: { ...managedByLabel, workspace: "abort" },
  volumeIds: [],
};

async function errorOf(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof Error)) throw new Error("expected the promise to reject with an Error");
  return error;
}

/** Resolves once the fake has seen `count` requests, polling its log without a wall clock. */
async function requestsSeen(fake: FakeHetzner, count: number): Promise<void> {
  while (fake.state.requests.length < count) await new Promise((resolve) => setImmediate(resolve));
}

describe("Hetzner client: the caller's signal", () => {
  it("cuts off a create that hangs, says it was aborted, and does not send it again", async () => {
    const fake = await start();
    fake.faults.add({ kind: "hang", method: "POST", path: "/v1/servers" });
    const controller = new AbortController();
    const provider = createHetznerProvider({
      token: fake.token,
      apiUrl: fake.url,
      signal: controller.signal,
      timing: { sleep: async () => undefined },
    });
    const pending = errorOf(provider.createServer(input));
    await requestsSeen(fake, 1);
    controller.abort(new Error("the worker is draining"));
    const error = await pending;
    expect(error).toBeInstanceOf(HetznerAbortedError);
    expect(error.message).toBe(
      "Hetzner API POST /servers was aborted (the worker is draining); it was not retried",
    );
    expect(fake.state.requests.map((entry) => `${entry.method} ${entry.path}`)).toEqual([
      "POST /v1/servers",
    ]);
    expect(fake.state.servers.size).toBe(0);
  });

  it("ends a retry wait at once and sends nothing after it", async () => {
    const fake = await start();
    fake.faults.add({ kind: "server-error", status: 503, path: "/v1/servers" });
    const controller = new AbortController();
    const provider = createHetznerProvider({
      token: fake.token,
      apiUrl: fake.url,
      signal: controller.signal,
      // A wait that only ends when the signal aborts: the abort must end it.
      timing: {
        sleep: (_ms, signal) =>
          new Promise((_resolve, reject) => {
            controller.abort(new Error("job taken by another worker"));
            reject(signal?.reason as Error);
          }),
      },
    });
    const error = await errorOf(provider.listServers({}));
    expect(error).toBeInstanceOf(HetznerAbortedError);
    expect(error.message).toContain("GET /servers was aborted (job taken by another worker)");
    expect(fake.state.requests).toHaveLength(1);
  });

  it("stops polling an action when aborted between polls", async () => {
    const fake = await start({ actionPolls: 50 });
    const controller = new AbortController();
    let polls = 0;
    const provider = createHetznerProvider({
      token: fake.token,
      apiUrl: fake.url,
      signal: controller.signal,
      timing: {
        sleep: async () => {
          polls += 1;
          if (polls === 3) controller.abort(new Error("drain"));
        },
      },
    });
    const error = await errorOf(provider.createServer(input));
    expect(error).toBeInstanceOf(HetznerAbortedError);
    expect(error.message).toMatch(/^Hetzner API wait for action create_server \(\d+\) was aborted/);
    const pollsSent = fake.state.requests.filter((entry) => entry.path.startsWith("/v1/actions/"));
    expect(pollsSent).toHaveLength(2);
  });

  it("refuses to start when the signal is already aborted, for the firewall client too", async () => {
    const fake = await start();
    const controller = new AbortController();
    controller.abort(new Error("already gone"));
    const firewall = createHetznerFirewallClient({
      token: fake.token,
      apiUrl: fake.url,
      installId: "abort-test",
      signal: controller.signal,
    });
    const error = await errorOf(firewall.syncRules(["203.0.113.0/24"]));
    expect(error).toBeInstanceOf(HetznerAbortedError);
    expect(fake.state.requests).toHaveLength(0);
  });
});
