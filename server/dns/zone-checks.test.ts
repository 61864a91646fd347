import { afterEach, describe, expect, it } from "vitest";
import { startFakeCloudflare, type FakeCloudflare } from "../../e2e/fakes/cloudflare.ts";
import { createCloudflareZone } from "./cloudflare-zone.ts";
import { checkZoneAtStart, createZoneModeCheck, levelsBelowZone } from "./zone-checks.ts";

// The zone checks of ADR 0010 through the official SDK against the fake Cloudflare: where
// BASE_DOMAIN sits in the zone, whether an edge certificate covers the workspace names, and
// the zone's SSL/TLS mode.

let fake: FakeCloudflare | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function setUp(options: { token?: string; maxRetries?: number } = {}) {
  fake = await startFakeCloudflare({ zoneName: "example.test" });
  const zone = createCloudflareZone({
    apiToken: options.token ?? fake.token,
    zoneId: fake.zoneId,
    apiUrl: fake.url,
    maxRetries: options.maxRetries ?? 0,
  });
  return { fake, zone };
}

const sslReads = (cloudflare: FakeCloudflare) =>
  cloudflare.requests.filter((entry) => entry.path.endsWith("/settings/ssl")).length;

describe("BASE_DOMAIN in the zone", () => {
  it("counts the labels below the zone's apex", () => {
    expect(levelsBelowZone("example.test", "example.test")).toBe(0);
    expect(levelsBelowZone("Dev.Example.test.", "example.test")).toBe(1);
    expect(levelsBelowZone("a.b.example.test", "example.test")).toBe(2);
    expect(levelsBelowZone("example.org", "example.test")).toBeNull();
    expect(levelsBelowZone("badexample.test", "example.test")).toBeNull();
  });

  it("starts quietly with the apex in a Full (strict) zone", async () => {
    const { zone } = await setUp();
    expect(await checkZoneAtStart(zone, "example.test")).toEqual({ refusal: null, warnings: [] });
  });

  it("refuses a BASE_DOMAIN outside the zone or two levels below it, saying how to fix it", async () => {
    const { zone } = await setUp();
    const outside = await checkZoneAtStart(zone, "example.org");
    expect(outside.refusal).toContain(
      "BASE_DOMAIN example.org is not in the Cloudflare zone example.test",
    );
    const deep = await checkZoneAtStart(zone, "a.b.example.test");
    expect(deep.refusal).toContain("is 2 levels below the zone example.test");
    expect(deep.refusal).toContain(
      "Universal SSL certificate covers example.test and *.example.test only",
    );
    expect(deep.refusal).toContain("Set BASE_DOMAIN=example.test");
  });

  it("refuses one level below the zone unless an edge certificate covers *.BASE_DOMAIN", async () => {
    const { fake: cloudflare, zone } = await setUp();
    const uncovered = await checkZoneAtStart(zone, "dev.example.test");
    expect(uncovered.refusal).toContain("order an Advanced Certificate for *.dev.example.test");
    cloudflare.tls.certificatePacks.push({
      id: "pending-pack",
      hosts: ["example.test", "*.dev.example.test"],
      status: "pending_validation",
      type: "advanced",
    });
    const pending = await checkZoneAtStart(zone, "dev.example.test");
    expect(pending.refusal).toBeNull();
    expect(pending.warnings).toEqual([
      expect.stringContaining("*.dev.example.test is not active yet (pending_validation)"),
    ]);
    cloudflare.tls.certificatePacks[1]!.status = "active";
    expect(await checkZoneAtStart(zone, "dev.example.test")).toEqual({
      refusal: null,
      warnings: [],
    });
  });

  it("accepts one level below the zone with Total TLS on", async () => {
    const { fake: cloudflare, zone } = await setUp();
    cloudflare.tls.totalTls = true;
    expect((await checkZoneAtStart(zone, "dev.example.test")).refusal).toBeNull();
  });

  it("refuses a token Cloudflare refuses, naming the permission, never the token", async () => {
    const { zone } = await setUp({ token: "wrong-token-123456" });
    const { refusal } = await checkZoneAtStart(zone, "example.test");
    expect(refusal).toContain("Cloudflare refused the API token to read the zone (403)");
    expect(refusal).toContain("Zone → Zone → Read");
    expect(refusal).not.toContain("wrong-token-123456");
  });

  it("only warns when Cloudflare does not answer", async () => {
    const { fake: cloudflare, zone } = await setUp();
    cloudflare.faults.add({ kind: "server-error", status: 503, times: Infinity });
    const check = await checkZoneAtStart(zone, "a.b.example.test");
    expect(check.refusal).toBeNull();
    expect(check.warnings).toEqual([
      expect.stringContaining("Could not check the Cloudflare zone at start"),
    ]);
  });
});

describe("the zone's SSL/TLS mode", () => {
  it("warns at start about each mode but Full (strict), naming what breaks and the fix", async () => {
    const { fake: cloudflare, zone } = await setUp();
    const expected = {
      flexible: /is Flexible: .*answers 521.*cross the internet unencrypted/,
      off: /is Off: .*answers 521/,
      full: /is Full: .*does not check their certificates/,
    } as const;
    for (const [mode, pattern] of Object.entries(expected)) {
      cloudflare.tls.sslMode = mode as keyof typeof expected;
      const { refusal, warnings } = await checkZoneAtStart(zone, "example.test");
      expect(refusal).toBeNull();
      expect(warnings).toEqual([expect.stringMatching(pattern)]);
      expect(warnings[0]).toContain("SSL/TLS → Overview → Configure → Full (strict)");
    }
  });

  it("fails the readiness check until the mode is strict, asking Cloudflare once per cache period", async () => {
    const { fake: cloudflare, zone } = await setUp();
    cloudflare.tls.sslMode = "flexible";
    const cached = createZoneModeCheck(zone);
    expect(await cached()).toMatchObject({ status: "failing", sslMode: "flexible" });
    const reads = sslReads(cloudflare);
    await Promise.all([cached(), cached(), cached()]);
    expect(sslReads(cloudflare)).toBe(reads);

    const uncached = createZoneModeCheck(zone, 0);
    expect((await uncached()).detail).toContain("Full (strict)");
    cloudflare.tls.sslMode = "strict";
    expect(await uncached()).toEqual({ status: "ok", sslMode: "strict", detail: "" });
  });

  it("is unknown, not failing, while Cloudflare does not answer", async () => {
    const { fake: cloudflare, zone } = await setUp();
    cloudflare.faults.add({ kind: "server-error", times: Infinity });
    const status = await createZoneModeCheck(zone, 0)();
    expect(status).toMatchObject({ status: "unknown", sslMode: null });
    expect(status.detail).toContain("Could not read the zone's SSL/TLS mode");
  });
});
