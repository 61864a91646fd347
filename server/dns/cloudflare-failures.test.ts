import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeCloudflare, type FakeCloudflare } from "../../e2e/fakes/cloudflare.ts";
import { CloudflarePermanentError, CloudflareRetryLaterError } from "./cloudflare-calls.ts";
import { createCloudflareDns, type CloudflareDnsOptions } from "./cloudflare.ts";

// The failures Cloudflare documents, as the job running a DNS step sees them: the global rate
// limit's five-minute block fails the step as retryable with when to try again (never a
// minutes-long sleep), a short one is waited out and logged with Cloudflare's code; a name
// held by a record of another type (81053) is taken over only when it is ours; a token
// without the permission fails at once naming it; any other 4xx is not asked again; the
// caller's signal aborts a request in flight and a wait.

let running: FakeCloudflare | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

async function setUp(options: Partial<CloudflareDnsOptions> = {}) {
  const fake = await startFakeCloudflare({ zoneName: "example.test" });
  running = fake;
  const lines: string[] = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => void lines.push(line) });
  const dns = createCloudflareDns({
    apiToken: fake.token,
    zoneId: fake.zoneId,
    baseDomain: "example.test",
    apiUrl: fake.url,
    logger,
    ...options,
  });
  const logs = () => lines.join("");
  return { fake, dns, logs, recordsPath: `/client/v4/zones/${fake.zoneId}/dns_records` };
}

const statuses = (fake: FakeCloudflare) => fake.requests.map((entry) => entry.status);
const recordsNamed = (fake: FakeCloudflare, name: string) =>
  [...fake.records.values()].filter((record) => record.name === name);

async function addRecord(fake: FakeCloudflare, record: Record<string, unknown>) {
  const answer = await fetch(`${fake.url}/zones/${fake.zoneId}/dns_records`, {
    method: "POST",
    headers: { authorization: `Bearer ${fake.token}`, "content-type": "application/json" },
    body: JSON.stringify({ ttl: 1, proxied: false, ...record }),
  });
  if (!((await answer.json()) as { success: boolean }).success) throw new Error("seeding failed");
}

const failureOf = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error,
  );

describe("Cloudflare's rate limit", () => {
  it("fails the step as retryable after the 5-minute block, asking once and sleeping never", async () => {
    const { fake, dns, logs } = await setUp();
    fake.access.blockRateLimit({ retryAfter: false });
    const error = await failureOf(dns.upsertRecord({ name: "ws-1", ipv4: "203.0.113.1" }));
    expect(error).toBeInstanceOf(CloudflareRetryLaterError);
    expect(error).toMatchObject({ retryable: true, retryAfterMs: 300_000, cloudflareCodes: [971] });
    expect((error as Error).message).toMatch(/blocks this token for 300 s.*tried again after that/);
    expect(statuses(fake)).toEqual([429]);
    expect(logs()).toBe("");
  });

  it("takes Cloudflare's retry-after for the time to try again", async () => {
    const { fake, dns } = await setUp();
    fake.access.blockRateLimit({ seconds: 120 });
    const error = await failureOf(dns.deleteRecord("ws-2"));
    expect((error as CloudflareRetryLaterError).retryAfterMs).toBe(120_000);
  });

  it("waits out a short retry-after, logging Cloudflare's code and not the token", async () => {
    const { fake, dns, logs } = await setUp();
    fake.access.blockRateLimit({ seconds: 1 });
    await dns.upsertRecord({ name: "ws-3", ipv4: "203.0.113.3" });
    expect(statuses(fake)).toEqual([429, 200, 200]);
    const line = JSON.parse(logs().trim()) as Record<string, unknown>;
    expect(line).toMatchObject({ status: 429, codes: [971], attempt: 1, waitMs: 1000 });
    expect(logs()).not.toContain(fake.token);
  });
});

describe("a record of another type holding the name (81053)", () => {
  it("is replaced by our A record when we made it", async () => {
    const { fake, dns } = await setUp();
    await addRecord(fake, {
      type: "CNAME",
      name: "ws-4",
      content: "old.example.test",
      comment: "cloud-ai-workspaces",
    });
    await dns.upsertRecord({ name: "ws-4", ipv4: "203.0.113.4" });
    expect(recordsNamed(fake, "ws-4.example.test")).toEqual([
      expect.objectContaining({ type: "A", content: "203.0.113.4", proxied: true }),
    ]);
  });

  it("is left alone when someone else made it, with what to do", async () => {
    const { fake, dns } = await setUp();
    await addRecord(fake, { type: "CNAME", name: "ws-5", content: "shop.example.net" });
    const error = await failureOf(dns.upsertRecord({ name: "ws-5", ipv4: "203.0.113.5" }));
    expect(error).toBeInstanceOf(CloudflarePermanentError);
    expect(error).toMatchObject({ retryable: false, cloudflareCodes: [81053] });
    expect((error as Error).message).toContain(
      "ws-5.example.test already has a CNAME record that Cloud AI Workspaces did not make",
    );
    expect(recordsNamed(fake, "ws-5.example.test")).toEqual([
      expect.objectContaining({ type: "CNAME", content: "shop.example.net" }),
    ]);
  });
});

describe("a token without the permission", () => {
  it("fails at once naming Zone → DNS → Edit for the zone, for a read-only token", async () => {
    const { fake } = await setUp();
    const dns = createCloudflareDns({
      apiToken: fake.access.addToken({ dnsRead: true }),
      zoneId: fake.zoneId,
      baseDomain: "example.test",
      apiUrl: fake.url,
    });
    const error = await failureOf(dns.upsertRecord({ name: "ws-6", ipv4: "203.0.113.6" }));
    expect(error).toBeInstanceOf(CloudflarePermanentError);
    expect(error).toMatchObject({ retryable: false, cloudflareCodes: [10000] });
    expect((error as Error).message).toContain(
      `lacks the Zone → DNS → Edit permission for zone ${fake.zoneId} (example.test)`,
    );
    expect(statuses(fake)).toEqual([200, 403]);
  });

  it("says the token does not cover the zone (9109)", async () => {
    const { fake } = await setUp();
    const dns = createCloudflareDns({
      apiToken: fake.access.addToken({ dnsEdit: true, zone: false }),
      zoneId: fake.zoneId,
      baseDomain: "example.test",
      apiUrl: fake.url,
    });
    const error = await failureOf(dns.deleteRecord("ws-7"));
    expect((error as Error).message).toContain(`does not cover zone ${fake.zoneId}`);
    expect(statuses(fake)).toEqual([403]);
  });
});

describe("other refusals and aborts", () => {
  it("does not ask again after a 4xx", async () => {
    const { fake, dns } = await setUp();
    const error = await failureOf(dns.upsertRecord({ name: "ws-8", ipv4: "not-an-address" }));
    expect(error).toMatchObject({ retryable: false, cloudflareCodes: [9005] });
    expect(statuses(fake)).toEqual([200, 400]);
  });

  it("aborts a request in flight when the signal fires", async () => {
    const controller = new AbortController();
    const { fake, dns } = await setUp({ signal: controller.signal });
    fake.faults.add({ kind: "slow", delayMs: 5_000 });
    const pending = failureOf(dns.deleteRecord("ws-9"));
    setTimeout(() => controller.abort(new Error("the job was drained")), 50);
    expect(await pending).toMatchObject({ message: "the job was drained" });
  });

  it("aborts a wait when the signal fires", async () => {
    const controller = new AbortController();
    const { fake, dns } = await setUp({ signal: controller.signal });
    fake.access.blockRateLimit({ seconds: 8 });
    const pending = failureOf(dns.deleteRecord("ws-10"));
    setTimeout(() => controller.abort(new Error("the job was re-taken")), 100);
    expect(await pending).toMatchObject({ message: "the job was re-taken" });
    expect(statuses(fake)).toEqual([429]);
  });
});
