import { generateKeyPairSync, sign, X509Certificate } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeCloudflare, type FakeCloudflare } from "../../e2e/fakes/cloudflare.ts";
import {
  encodeCertificateRequest,
  encodeRequestInfo,
  toPem,
} from "../../protocol/certificate-request.ts";
import { AppError } from "../errors.ts";
import { createCloudflareZone } from "./cloudflare-zone.ts";

// Origin CA certificates through the official SDK against the fake Cloudflare, which reads
// certificate requests with openssl and refuses what it cannot read, as the real API does.

let fake: FakeCloudflare | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function setUp() {
  fake = await startFakeCloudflare({ zoneName: "example.test" });
  const zone = createCloudflareZone({
    apiToken: fake.token,
    zoneId: fake.zoneId,
    apiUrl: fake.url,
    maxRetries: 0,
  });
  return { fake, zone };
}

function requestFor(hostname: string): string {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const info = encodeRequestInfo({
    commonName: hostname,
    dnsNames: [hostname],
    subjectPublicKeyInfo: publicKey.export({ type: "spki", format: "der" }),
  });
  const signature = sign("sha256", info, { key: privateKey, dsaEncoding: "der" });
  return toPem("CERTIFICATE REQUEST", encodeCertificateRequest(info, signature));
}

describe("Origin CA certificates", () => {
  it("are issued for the host name asked for, by the CA tests trust", async () => {
    const { fake: cloudflare, zone } = await setUp();
    const hostname = "ws-1.example.test";
    const { serial, certificate } = await zone.createOriginCertificate({
      csr: requestFor(hostname),
      hostname,
      days: 7,
    });
    const issued = new X509Certificate(certificate);
    expect(issued.verify(new X509Certificate(cloudflare.originCaCertificatePem).publicKey)).toBe(
      true,
    );
    expect(issued.checkHost(hostname)).toBe(hostname);
    expect(BigInt(`0x${issued.serialNumber}`)).toBe(BigInt(serial));
    const days = (Date.parse(issued.validTo) - Date.parse(issued.validFrom)) / 86_400_000;
    expect(Math.round(days)).toBe(7);
    expect(cloudflare.tls.issued[0]).toMatchObject({
      requestType: "origin-ecc",
      requestedValidity: 7,
    });
  });

  it("are refused for a request Cloudflare cannot read, or for names outside the zone", async () => {
    const { fake: cloudflare, zone } = await setUp();
    const refusals = [
      {
        csr: "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
        hostname: "ws-2.example.test",
        expected: /400.*Failed to parse CSR/,
      },
      {
        csr: requestFor("ws-3.example.org"),
        hostname: "ws-3.example.org",
        expected: /400.*not in a zone on this account/,
      },
    ];
    for (const { csr, hostname, expected } of refusals) {
      const error: unknown = await zone
        .createOriginCertificate({ csr, hostname, days: 7 })
        .catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).message).toMatch(expected);
      expect((error as AppError).message).toContain("Could not issue an Origin CA certificate");
    }
    expect(cloudflare.tls.issued).toHaveLength(0);
  });

  it("name the permission when the token may not issue them", async () => {
    const { fake: cloudflare } = await setUp();
    const zone = createCloudflareZone({
      apiToken: "not-the-token",
      zoneId: cloudflare.zoneId,
      apiUrl: cloudflare.url,
    });
    const error: unknown = await zone
      .createOriginCertificate({
        csr: requestFor("ws-4.example.test"),
        hostname: "ws-4.example.test",
        days: 7,
      })
      .catch((thrown: unknown) => thrown);
    expect((error as AppError).code).toBe("FORBIDDEN");
    expect((error as AppError).message).toContain("Zone → SSL and Certificates → Edit");
  });
});
