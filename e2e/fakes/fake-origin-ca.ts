import { execFile } from "node:child_process";
import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  type KeyObject,
} from "node:crypto";
import { derDnsNames, toPem } from "../../protocol/certificate-request.ts";
import {
  contextConstructed,
  contextPrimitive,
  derBitString,
  derBoolean,
  derElement,
  derObjectIdentifier,
  derOctetString,
  derSequence,
  derSet,
  derSmallInteger,
  derTag,
  derTime,
  derUnsignedInteger,
  derUtf8String,
} from "../../protocol/der.ts";

// The fake Cloudflare's Origin CA: a test CA made when the fake starts (an ECDSA P-256 key and
// a self-signed certificate, which tests trust in place of Cloudflare's origin roots) that
// issues certificates shaped like Cloudflare's origin certificates. Certificate requests are
// read by `openssl req`, a parser that is not ours, so a malformed request from our agent is
// refused here as the real API would refuse it.

export type FakeOriginCa = {
  /** The CA certificate (PEM) to trust in tests. */
  certificatePem: string;
  issue: (input: { subjectPublicKeyInfo: Uint8Array; hostnames: string[]; lifetimeMs: number }) => {
    serial: string;
    certificatePem: string;
    notAfter: Date;
  };
};

const oid = {
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  country: "2.5.4.6",
  organization: "2.5.4.10",
  organizationalUnit: "2.5.4.11",
  commonName: "2.5.4.3",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extendedKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  subjectKeyIdentifier: "2.5.29.14",
  authorityKeyIdentifier: "2.5.29.35",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
};

const caName = [
  [oid.country, "US"],
  [oid.organization, "Fake CloudFlare, Inc. (tests)"],
  [oid.organizationalUnit, "Fake CloudFlare Origin SSL ECC Certificate Authority"],
] as const;

// What Cloudflare puts in an origin certificate's subject; the host names go in the SAN.
const leafName = [
  [oid.organization, "CloudFlare, Inc."],
  [oid.organizationalUnit, "CloudFlare Origin CA"],
  [oid.commonName, "CloudFlare Origin Certificate"],
] as const;

export function createFakeOriginCa(): FakeOriginCa {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const caSpki = publicKey.export({ type: "spki", format: "der" });
  const caKeyId = keyIdentifierOf(caSpki);
  const now = Date.now();
  const caCertificate = signCertificate(privateKey, {
    subject: caName,
    subjectPublicKeyInfo: caSpki,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 10 * 365 * 86_400_000),
    extensions: [
      extension(oid.basicConstraints, true, derSequence(derBoolean(true))),
      // keyCertSign and cRLSign (bits 5 and 6).
      extension(oid.keyUsage, true, derElement(derTag.bitString, Uint8Array.of(1, 0x06))),
      extension(oid.subjectKeyIdentifier, false, derOctetString(caKeyId)),
    ],
  });
  return {
    certificatePem: toPem("CERTIFICATE", caCertificate.der),
    issue: ({ subjectPublicKeyInfo, hostnames, lifetimeMs }) => {
      const issuedAt = Date.now();
      const notAfter = new Date(issuedAt + lifetimeMs);
      const leaf = signCertificate(privateKey, {
        subject: leafName,
        subjectPublicKeyInfo,
        // Backdated a little, as CAs do, so a clock a few seconds behind still accepts it.
        notBefore: new Date(issuedAt - 5_000),
        notAfter,
        extensions: [
          extension(oid.basicConstraints, true, derSequence()),
          // digitalSignature (bit 0).
          extension(oid.keyUsage, true, derElement(derTag.bitString, Uint8Array.of(7, 0x80))),
          extension(
            oid.extendedKeyUsage,
            false,
            derSequence(derObjectIdentifier(oid.serverAuth), derObjectIdentifier(oid.clientAuth)),
          ),
          extension(oid.subjectAltName, false, derDnsNames(hostnames)),
          extension(
            oid.subjectKeyIdentifier,
            false,
            derOctetString(keyIdentifierOf(subjectPublicKeyInfo)),
          ),
          extension(
            oid.authorityKeyIdentifier,
            false,
            derSequence(derElement(contextPrimitive(0), caKeyId)),
          ),
        ],
      });
      return { serial: leaf.serial, certificatePem: toPem("CERTIFICATE", leaf.der), notAfter };
    },
  };
}

type CertificateFields = {
  subject: readonly (readonly [string, string])[];
  subjectPublicKeyInfo: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  extensions: Uint8Array[];
};

function signCertificate(caKey: KeyObject, fields: CertificateFields) {
  const serialBytes = randomBytes(16);
  serialBytes[0]! &= 0x7f;
  const algorithm = derSequence(derObjectIdentifier(oid.ecdsaWithSha256));
  const tbs = derSequence(
    derElement(contextConstructed(0), derSmallInteger(2)),
    derUnsignedInteger(serialBytes),
    algorithm,
    encodeName(caName),
    derSequence(derTime(fields.notBefore), derTime(fields.notAfter)),
    encodeName(fields.subject),
    fields.subjectPublicKeyInfo,
    derElement(contextConstructed(3), derSequence(...fields.extensions)),
  );
  const signature = sign("sha256", tbs, { key: caKey, dsaEncoding: "der" });
  return {
    der: derSequence(tbs, algorithm, derBitString(signature)),
    serial: BigInt(`0x${serialBytes.toString("hex")}`).toString(10),
  };
}

const encodeName = (attributes: readonly (readonly [string, string])[]) =>
  derSequence(
    ...attributes.map(([type, value]) =>
      derSet(derSequence(derObjectIdentifier(type), derUtf8String(value))),
    ),
  );

const extension = (id: string, critical: boolean, value: Uint8Array) =>
  derSequence(
    derObjectIdentifier(id),
    ...(critical ? [derBoolean(true)] : []),
    derOctetString(value),
  );

// A SHA-1 of the whole SubjectPublicKeyInfo: one of the methods RFC 7093 allows.
const keyIdentifierOf = (spki: Uint8Array) => createHash("sha1").update(spki).digest();

/**
 * Reads a PEM certificate request with `openssl req` and checks its self-signature, as
 * Cloudflare's API does; the request's public key, or why it is refused.
 */
export function readRequestWithOpenssl(
  csr: string,
): Promise<{ publicKey: KeyObject } | { problem: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      "openssl",
      ["req", "-noout", "-verify", "-pubkey"],
      { timeout: 10_000 },
      (error, stdout, stderr) => {
        if ((error as NodeJS.ErrnoException | null)?.code === "ENOENT")
          return reject(
            new Error(
              "The fake Origin CA reads certificate requests with openssl: apt-get install openssl",
            ),
          );
        if (error || !/verify OK/.test(stderr))
          return resolve({ problem: stderr.split("\n").find(Boolean) ?? "unreadable request" });
        try {
          resolve({ publicKey: createPublicKey(stdout) });
        } catch {
          resolve({ problem: "the request holds no readable public key" });
        }
      },
    );
    child.stdin?.end(csr);
  });
}
