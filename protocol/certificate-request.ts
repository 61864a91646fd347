import { Buffer } from "node:buffer";
import {
  contextConstructed,
  contextPrimitive,
  DerError,
  derBitString,
  derElement,
  derObjectIdentifier,
  derOctetString,
  derSequence,
  derSet,
  derSmallInteger,
  derTag,
  derUtf8String,
  expectTag,
  readBitStringBytes,
  readChildren,
  readDer,
  readObjectIdentifier,
  readString,
  type DerNode,
} from "./der.ts";

// PKCS #10 certificate requests (RFC 2986) for TLS to the agent: the agent writes one for its
// host name, the control plane reads it back before asking Cloudflare's Origin CA. Only what
// that takes: a subject common name, DNS names in a subjectAltName extension request, an
// ECDSA P-256 key signed with SHA-256. Signing and checking signatures is the caller's (node's
// crypto); this module only encodes and decodes.

export const oids = {
  commonName: "2.5.4.3",
  organization: "2.5.4.10",
  organizationalUnit: "2.5.4.11",
  extensionRequest: "1.2.840.113549.1.9.14",
  subjectAltName: "2.5.29.17",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
} as const;

/** PEM armour (RFC 7468) around DER bytes, 64 characters a line. */
export function toPem(label: string, der: Uint8Array): string {
  const base64 = Buffer.from(der).toString("base64");
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** The DER bytes of the first `label` block in `pem`; throws DerError when there is none. */
export function fromPem(label: string, pem: string): Uint8Array {
  const begin = `-----BEGIN ${label}-----`;
  const start = pem.indexOf(begin);
  const end = pem.indexOf(`-----END ${label}-----`, start);
  if (start < 0 || end < 0) throw new DerError(`no ${label} block`);
  const body = pem.slice(start + begin.length, end).replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw new DerError(`the ${label} block is not base64`);
  return new Uint8Array(Buffer.from(body, "base64"));
}

/** A distinguished name of one common name, e.g. `CN=ws-….example.com`. */
export const derCommonNameName = (commonName: string) =>
  derSequence(derSet(derSequence(derObjectIdentifier(oids.commonName), derUtf8String(commonName))));

/** The subjectAltName extension's value: GeneralNames of dNSNames (`[2] IMPLICIT IA5String`). */
export const derDnsNames = (dnsNames: readonly string[]) =>
  derSequence(
    ...dnsNames.map((name) => derElement(contextPrimitive(2), new TextEncoder().encode(name))),
  );

export type CertificateRequestInput = {
  commonName: string;
  dnsNames: readonly string[];
  /** The public key as a DER SubjectPublicKeyInfo (node: `key.export({ type: "spki", format: "der" })`). */
  subjectPublicKeyInfo: Uint8Array;
};

/** CertificationRequestInfo: the part the requester signs. */
export function encodeRequestInfo(input: CertificateRequestInput): Uint8Array {
  const subjectAltName = derSequence(
    derObjectIdentifier(oids.subjectAltName),
    derOctetString(derDnsNames(input.dnsNames)),
  );
  const extensionRequest = derSequence(
    derObjectIdentifier(oids.extensionRequest),
    derSet(derSequence(subjectAltName)),
  );
  return derSequence(
    derSmallInteger(0),
    derCommonNameName(input.commonName),
    input.subjectPublicKeyInfo,
    // attributes [0] IMPLICIT SET OF Attribute
    derElement(contextConstructed(0), extensionRequest),
  );
}

/** The whole request, from its signed info and an ECDSA-with-SHA-256 signature (DER) over it. */
export function encodeCertificateRequest(info: Uint8Array, signature: Uint8Array): Uint8Array {
  return derSequence(
    info,
    derSequence(derObjectIdentifier(oids.ecdsaWithSha256)),
    derBitString(signature),
  );
}

export type ParsedCertificateRequest = {
  /** The bytes the signature covers. */
  signedInfo: Uint8Array;
  signatureAlgorithm: string;
  signature: Uint8Array;
  subjectPublicKeyInfo: Uint8Array;
  /** Every common name in the subject. */
  commonNames: string[];
  /** The dNSNames of a requested subjectAltName extension; empty when none was requested. */
  dnsNames: string[];
  /** How many other kinds of alternative name (IP addresses, URIs, …) were requested. */
  otherAltNames: number;
};

/** Reads a DER certificate request; throws DerError when it is not one. */
export function parseCertificateRequest(der: Uint8Array): ParsedCertificateRequest {
  const [info, algorithm, signature, ...extra] = readChildren(
    expectTag(readDer(der), derTag.sequence, "a certificate request"),
  );
  if (extra.length > 0) throw new DerError("unexpected fields after the signature");
  const infoNode = expectTag(info, derTag.sequence, "the request info");
  const [version, subject, publicKey, attributes] = readChildren(infoNode);
  const versionBytes = expectTag(version, derTag.integer, "the request version").content;
  if (versionBytes.length !== 1 || versionBytes[0] !== 0)
    throw new DerError("not a version 1 request");
  const [algorithmOid] = readChildren(
    expectTag(algorithm, derTag.sequence, "the signature algorithm"),
  );
  return {
    signedInfo: infoNode.encoded,
    signatureAlgorithm: readObjectIdentifier(algorithmOid),
    signature: readBitStringBytes(signature),
    subjectPublicKeyInfo: expectTag(publicKey, derTag.sequence, "a public key").encoded,
    commonNames: readCommonNames(expectTag(subject, derTag.sequence, "the subject")),
    ...readRequestedAltNames(attributes),
  };
}

function readCommonNames(subject: DerNode): string[] {
  return readChildren(subject).flatMap((relativeName) =>
    readChildren(expectTag(relativeName, derTag.set, "a relative name")).flatMap((pair) => {
      const [type, value] = readChildren(expectTag(pair, derTag.sequence, "a name attribute"));
      return readObjectIdentifier(type) === oids.commonName ? [readString(value)] : [];
    }),
  );
}

function readRequestedAltNames(attributes: DerNode | undefined) {
  const altNames = extensionsRequestedIn(attributes).flatMap((extension) => {
    const fields = readChildren(expectTag(extension, derTag.sequence, "an extension"));
    if (readObjectIdentifier(fields[0]) !== oids.subjectAltName) return [];
    const value = expectTag(fields[fields.length - 1], derTag.octetString, "an extension value");
    return readChildren(expectTag(readDer(value.content), derTag.sequence, "general names"));
  });
  const dnsNames = altNames.filter((name) => name.tag === contextPrimitive(2));
  return {
    dnsNames: dnsNames.map((name) =>
      new TextDecoder("utf-8", { fatal: true }).decode(name.content),
    ),
    otherAltNames: altNames.length - dnsNames.length,
  };
}

/** The extensions of every extensionRequest attribute (PKCS #9). */
function extensionsRequestedIn(attributes: DerNode | undefined): DerNode[] {
  if (!attributes) return [];
  expectTag(attributes, contextConstructed(0), "the request attributes");
  return readChildren(attributes).flatMap((attribute) => {
    const [type, values] = readChildren(expectTag(attribute, derTag.sequence, "an attribute"));
    if (readObjectIdentifier(type) !== oids.extensionRequest) return [];
    return readChildren(expectTag(values, derTag.set, "attribute values")).flatMap((extensions) =>
      readChildren(expectTag(extensions, derTag.sequence, "extensions")),
    );
  });
}
