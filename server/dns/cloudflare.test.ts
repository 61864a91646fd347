import { afterEach, describe, expect, it } from "vitest";
import { startFakeCloudflare, type FakeCloudflare } from "../../e2e/fakes/cloudflare.ts";
import { AppError } from "../errors.ts";
import { createCloudflareDns, type CloudflareDnsOptions } from "./cloudflare.ts";

// The DNS provider against the fake Cloudflare: records kept right, and the failures the
// real API has (more in cloudflare-failures.test.ts).

let running: FakeCloudflare | undefined;

afterEach(async () => {
  await running?.close();
  running = undefined;
});

async function setUp(options: Partial<CloudflareDnsOptions> = {}) {
  const fake = await startFakeCloudflare({ zoneName: "example.test" });
  running = fake;
  const dns = createCloudflareDns({
    apiToken: fake.token,
    zoneId: fake.zoneId,
    baseDomain: "example.test",
    apiUrl: fake.url,
    ...options,
  });
  return { fake, dns, recordsPath: `/client/v4/zones/${fake.zoneId}/dns_records` };
}

const recordsNamed = (fake: FakeCloudflare, name: string) =>
  [...fake.records.values()].filter((record) => record.name === name);

const statusesOf = (fake: FakeCloudflare, method: string, path: string) =>
  fake.requests
    .filter((entry) => entry.method === method && entry.path === path)
    .map((entry) => entry.status);

/** Adds a record straight through the fake's API, as someone else (or an old bug) might. */
async function seedRecord(fake: FakeCloudflare, name: string, content: string): Promise<string> {
  const answer = await fetch(`${fake.url}/zones/${fake.zoneId}/dns_records`, {
    method: "POST",
    headers: { authorization: `Bearer ${fake.token}`, "content-type": "application/json" },
    body: JSON.stringify({ type: "A", name, content, ttl: 1, proxied: false }),
  });
  const body = (await answer.json()) as { success: boolean; result: { id: string } };
  if (!body.success) throw new Error(`seeding ${name} failed`);
  return body.result.id;
}

describe("Cloudflare DNS", () => {
  it("creates a proxied A record, then updates that same record", async () => {
    const { fake, dns, recordsPath } = await setUp();
    expect(await dns.upsertRecord({ name: "ws-1", ipv4: "203.0.113.5" })).toEqual({
      hostname: "ws-1.example.test",
    });
    const [created, ...others] = recordsNamed(fake, "ws-1.example.test");
    expect(others).toHaveLength(0);
    expect(created).toMatchObject({ type: "A", content: "203.0.113.5", proxied: true });

    await dns.upsertRecord({ name: "ws-1", ipv4: "203.0.113.6" });
    expect(recordsNamed(fake, "ws-1.example.test")).toEqual([
      expect.objectContaining({ id: created?.id, content: "203.0.113.6", proxied: true }),
    ]);
    await dns.upsertRecord({ name: "ws-1", ipv4: "203.0.113.6" });
    expect(statusesOf(fake, "PUT", `${recordsPath}/${created?.id}`)).toEqual([200]);
  });

  it("deletes the record, and a second delete is fine", async () => {
    const { fake, dns } = await setUp();
    await dns.upsertRecord({ name: "ws-2", ipv4: "203.0.113.7" });
    await dns.upsertRecord({ name: "ws-3", ipv4: "203.0.113.8" });
    await dns.deleteRecord("ws-2");
    expect(recordsNamed(fake, "ws-2.example.test")).toHaveLength(0);
    expect(recordsNamed(fake, "ws-3.example.test")).toHaveLength(1);
    await dns.deleteRecord("ws-2");
    await dns.deleteRecord("ws-never-made");
    expect(fake.records.size).toBe(1);
  });

  it("reads every page when there are more records than fit on one", async () => {
    const { fake, dns } = await setUp({ pageSize: 5 });
    for (let index = 1; index <= 12; index += 1)
      await seedRecord(fake, `other-${index}`, "192.0.2.1");
    const ids = [];
    for (let index = 1; index <= 7; index += 1)
      ids.push(await seedRecord(fake, "ws-4", `198.51.100.${index}`));
    // The right address sits on the second page; the upsert keeps it and drops the strays.
    await dns.upsertRecord({ name: "ws-4", ipv4: "198.51.100.7" });
    expect(recordsNamed(fake, "ws-4.example.test")).toEqual([
      expect.objectContaining({ id: ids[6], content: "198.51.100.7", proxied: true }),
    ]);
    for (let index = 1; index <= 6; index += 1)
      await seedRecord(fake, "ws-4", `198.51.100.${index}`);
    await dns.deleteRecord("ws-4");
    expect(recordsNamed(fake, "ws-4.example.test")).toHaveLength(0);
    expect(fake.records.size).toBe(12);
  });

  it("waits out a 503, then succeeds", async () => {
    const { fake, dns, recordsPath } = await setUp();
    fake.faults.add({ kind: "server-error", status: 503, method: "GET" });
    await dns.upsertRecord({ name: "ws-5", ipv4: "203.0.113.9" });
    expect(statusesOf(fake, "GET", recordsPath)).toEqual([503, 200]);
    expect(statusesOf(fake, "POST", recordsPath)).toEqual([200]);
    expect(recordsNamed(fake, "ws-5.example.test")).toHaveLength(1);
  });

  it("does not make a second record when a create's answer is lost", async () => {
    const { fake, dns, recordsPath } = await setUp();
    fake.faults.add({ kind: "lost-response", method: "POST" });
    await dns.upsertRecord({ name: "ws-6", ipv4: "203.0.113.10" });
    expect(statusesOf(fake, "POST", recordsPath)).toEqual(["lost", 400]);
    expect(recordsNamed(fake, "ws-6.example.test")).toHaveLength(1);
  });

  it("explains a refused token without repeating it", async () => {
    const { fake } = await setUp();
    const dns = createCloudflareDns({
      apiToken: "wrong-token-abc123",
      zoneId: fake.zoneId,
      baseDomain: "example.test",
      apiUrl: fake.url,
    });
    const error: unknown = await dns.deleteRecord("ws-7").catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).message).toContain("Cloudflare refused the API token");
    expect((error as AppError).message).not.toContain("wrong-token-abc123");
  });

  it("gives up on endless 5xx with a readable error", async () => {
    const { fake, dns, recordsPath } = await setUp({ maxRetries: 1 });
    fake.faults.add({ kind: "server-error", times: Infinity });
    const error: unknown = await dns.deleteRecord("ws-8").catch((thrown: unknown) => thrown);
    expect((error as Error).message).toMatch(/^Cloudflare DNS request failed: 500/);
    expect((error as Error).message).not.toContain(fake.token);
    expect(statusesOf(fake, "GET", recordsPath)).toEqual([500, 500]);
  });
});
