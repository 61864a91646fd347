import { generateKeyPairSync, sign, verify } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  encodeCertificateRequest,
  encodeRequestInfo,
  fromPem,
  oids,
  parseCertificateRequest,
  toPem,
} from "./certificate-request.ts";
import { DerError, derSequence, derSmallInteger, readDer } from "./der.ts";

// The agent writes certificate requests with this module and the control plane reads them
// back. Reading is checked against a request OpenSSL wrote (`openssl req -new -newkey ec
// -subj "/O=x/CN=ws-2.example.test" -addext "subjectAltName=DNS:ws-2.example.test,IP:1.2.3.4"`),
// and the fake Origin CA reads ours with `openssl req` (agent/tls/agent-tls.test.ts).

const opensslRequest = `-----BEGIN CERTIFICATE REQUEST-----
MIIBGTCBvwIBADAoMQowCAYDVQQKDAF4MRowGAYDVQQDDBF3cy0yLmV4YW1wbGUu
dGVzdDBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABAmtcS/9BMvojIm5Bvuoc1I2
IjomrS+T5TVKQRBlHphGBLpzqFgqy5tAWTW9+FbRyPOkxapMnbRdkPa/kLpfsq6g
NTAzBgkqhkiG9w0BCQ4xJjAkMCIGA1UdEQQbMBmCEXdzLTIuZXhhbXBsZS50ZXN0
hwQBAgMEMAoGCCqGSM49BAMCA0kAMEYCIQDDg4eoY7qdOuwdDE/hOxpUrdCDv41a
FRl1WZlfVYe3fwIhAJRRCq6AKN9uKlmx5COGN+tmML0DQEI9dCEaG4bN1Ea2
-----END CERTIFICATE REQUEST-----
`;

function makeRequest(commonName: string, dnsNames: string[]) {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const info = encodeRequestInfo({
    commonName,
    dnsNames,
    subjectPublicKeyInfo: publicKey.export({ type: "spki", format: "der" }),
  });
  const signature = sign("sha256", info, { key: privateKey, dsaEncoding: "der" });
  return {
    publicKey,
    pem: toPem("CERTIFICATE REQUEST", encodeCertificateRequest(info, signature)),
  };
}

describe("certificate requests", () => {
  it("reads back what it writes, with a signature node can check", () => {
    const { publicKey, pem } = makeRequest("ws-1.example.test", ["ws-1.example.test"]);
    expect(pem).toMatch(
      /^-----BEGIN CERTIFICATE REQUEST-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE REQUEST-----\n$/,
    );
    const parsed = parseCertificateRequest(fromPem("CERTIFICATE REQUEST", pem));
    expect(parsed).toMatchObject({
      commonNames: ["ws-1.example.test"],
      dnsNames: ["ws-1.example.test"],
      otherAltNames: 0,
      signatureAlgorithm: oids.ecdsaWithSha256,
    });
    const signed = verify(
      "sha256",
      parsed.signedInfo,
      { key: publicKey, dsaEncoding: "der" },
      parsed.signature,
    );
    expect(signed).toBe(true);
    expect(Buffer.from(parsed.subjectPublicKeyInfo)).toEqual(
      publicKey.export({ type: "spki", format: "der" }),
    );
  });

  it("reads a request OpenSSL wrote, counting names that are not DNS names", () => {
    const parsed = parseCertificateRequest(fromPem("CERTIFICATE REQUEST", opensslRequest));
    expect(parsed.commonNames).toEqual(["ws-2.example.test"]);
    expect(parsed.dnsNames).toEqual(["ws-2.example.test"]);
    expect(parsed.otherAltNames).toBe(1);
  });

  it("refuses what is not a request, truncated or padded, with a DerError", () => {
    const der = fromPem("CERTIFICATE REQUEST", opensslRequest);
    const broken = [
      der.subarray(0, der.length - 1),
      Uint8Array.from([...der, 0]),
      Uint8Array.of(0x30, 0x80, 0, 0),
      Uint8Array.of(0x30, 0x84, 0xff, 0xff, 0xff, 0xff),
      derSequence(derSmallInteger(1)),
      new Uint8Array(),
    ];
    for (const bytes of broken) expect(() => parseCertificateRequest(bytes)).toThrow(DerError);
    expect(() => fromPem("CERTIFICATE REQUEST", "-----BEGIN CERTIFICATE-----")).toThrow(DerError);
    expect(() =>
      fromPem(
        "CERTIFICATE REQUEST",
        "-----BEGIN CERTIFICATE REQUEST-----\n%%\n-----END CERTIFICATE REQUEST-----",
      ),
    ).toThrow(DerError);
  });

  it("writes lengths above 127 bytes in DER's long form", () => {
    const { pem } = makeRequest("a".repeat(60), ["b".repeat(200)]);
    const der = fromPem("CERTIFICATE REQUEST", pem);
    expect(der[1]).toBe(0x82);
    expect(readDer(der).encoded.length).toBe(der.length);
    expect(parseCertificateRequest(der).dnsNames).toEqual(["b".repeat(200)]);
  });
});
