import { afterEach, describe, expect, it } from "vitest";
import { publishedCloudflareRanges } from "../../e2e/fakes/cloudflare-ips.ts";
import { startFakeCloudflare, type FakeCloudflare } from "../../e2e/fakes/cloudflare.ts";
import { AppError } from "../errors.ts";
import { createCloudflareRangesReader, sourceIpsOf } from "./cloudflare-ranges.ts";

// Cloudflare's published ranges through the official SDK against the fake Cloudflare: read
// without credentials, checked before use, and the last good answer kept for bad days.

let fake: FakeCloudflare | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function setUp() {
  fake = await startFakeCloudflare();
  return { fake, reader: createCloudflareRangesReader({ apiUrl: fake.url, maxRetries: 0 }) };
}

const ipsDown = (cloudflare: FakeCloudflare) =>
  cloudflare.faults.add({
    kind: "server-error",
    status: 503,
    path: "/client/v4/ips",
    times: Infinity,
  });

describe("Cloudflare IP ranges", () => {
  it("reads IPv4 and IPv6 ranges and the etag, without sending a token", async () => {
    const { fake, reader } = await setUp();
    const ranges = await reader.readFresh();
    expect(ranges).toEqual({
      ipv4: publishedCloudflareRanges.ipv4,
      ipv6: publishedCloudflareRanges.ipv6,
      etag: fake.ips.etag,
    });
    expect(sourceIpsOf(ranges)).toEqual([
      ...publishedCloudflareRanges.ipv4,
      ...publishedCloudflareRanges.ipv6,
    ]);
    expect(fake.ips.requests).toEqual([{ authorized: false }]);
  });

  it("sees new ranges with a new etag", async () => {
    const { fake, reader } = await setUp();
    const before = await reader.readFresh();
    fake.ips.set({ ipv4: ["198.51.100.0/24"], ipv6: ["2001:db8::/32"] });
    const after = await reader.readFresh();
    expect(after).toMatchObject({ ipv4: ["198.51.100.0/24"], ipv6: ["2001:db8::/32"] });
    expect(after.etag).not.toBe(before.etag);
  });

  it("refuses an answer that would make an open or an empty firewall", async () => {
    const { fake, reader } = await setUp();
    for (const ranges of [
      { ipv4: ["0.0.0.0/0"], ipv6: ["2606:4700::/32"] },
      { ipv4: ["104.16.0.0/13"], ipv6: ["::/0"] },
      { ipv4: [], ipv6: ["2606:4700::/32"] },
      { ipv4: ["104.16.0.0/13"], ipv6: [] },
      { ipv4: ["2606:4700::/32"], ipv6: ["2606:4700::/32"] },
      { ipv4: ["104.16.0.0"], ipv6: ["2606:4700::/32"] },
    ]) {
      fake.ips.set(ranges);
      await expect(reader.readFresh(), JSON.stringify(ranges)).rejects.toThrow(
        /are not usable for a firewall/,
      );
    }
  });

  it("falls back to the last ranges it read when Cloudflare fails", async () => {
    const { fake, reader } = await setUp();
    const good = await reader.readFresh();
    ipsDown(fake);
    await expect(reader.readFresh()).rejects.toThrow(/Could not read Cloudflare's IP ranges/);
    expect(await reader.readOrLastKnown()).toEqual(good);
  });

  it("fails with a retryable, readable error when it never read any", async () => {
    const { fake, reader } = await setUp();
    ipsDown(fake);
    const error = await reader.readOrLastKnown().then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe("SERVICE_UNAVAILABLE");
    expect((error as AppError).message).toMatch(
      /^Could not read Cloudflare's IP ranges \(GET .*\/ips\): .*503.*the workspace's firewall cannot be created/,
    );
    // The job runner retries anything not marked as permanent.
    expect((error as { retryable?: boolean }).retryable).toBeUndefined();
  });
});
