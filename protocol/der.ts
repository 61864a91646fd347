// A small DER (ITU-T X.690) writer and reader: just what a PKCS #10 certificate request and an
// X.509 certificate need (docs/adr/0010-tls-to-the-agent.md says why not a library). Pure: bytes
// in, bytes out. The reader checks every length against its input, so a malformed or truncated
// input throws DerError instead of reading past the end.

export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DerError";
  }
}

/** Universal tags, and the context-specific ones these structures use. */
export const derTag = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

/** `[n]` around other elements (EXPLICIT tagging, or IMPLICIT on a constructed type). */
export const contextConstructed = (tagNumber: number) => 0xa0 | tagNumber;
/** `[n] IMPLICIT` on a primitive type, e.g. a dNSName in GeneralNames is `[2]`. */
export const contextPrimitive = (tagNumber: number) => 0x80 | tagNumber;

// ── Writing ──────────────────────────────────────────────────────────────────────────────

function encodeLength(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** One element: tag, length, content. */
export function derElement(tag: number, ...content: Uint8Array[]): Uint8Array {
  const body = concat(content);
  return concat([Uint8Array.of(tag), encodeLength(body.length), body]);
}

export const derSequence = (...items: Uint8Array[]) => derElement(derTag.sequence, ...items);

/** A SET OF: DER wants its elements sorted by their encodings. */
export function derSet(...items: Uint8Array[]): Uint8Array {
  const sorted = [...items].sort(compareBytes);
  return derElement(derTag.set, ...sorted);
}

/** An unsigned integer from its big-endian bytes (a leading 0 is added when the top bit is set). */
export function derUnsignedInteger(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start += 1;
  const trimmed = bytes.subarray(start);
  const content = (trimmed[0] ?? 0) & 0x80 ? concat([Uint8Array.of(0), trimmed]) : trimmed;
  return derElement(derTag.integer, content.length > 0 ? content : Uint8Array.of(0));
}

export const derSmallInteger = (value: number) =>
  derUnsignedInteger(Uint8Array.of(value >> 24, value >> 16, value >> 8, value));

export function derObjectIdentifier(dotted: string): Uint8Array {
  const [first = 0, second = 0, ...rest] = dotted.split(".").map(Number);
  const bytes: number[] = [];
  for (const arc of [first * 40 + second, ...rest]) {
    const chunk = [arc % 128];
    for (let value = Math.floor(arc / 128); value > 0; value = Math.floor(value / 128))
      chunk.unshift(0x80 | (value % 128));
    bytes.push(...chunk);
  }
  return derElement(derTag.oid, Uint8Array.from(bytes));
}

const text = (value: string) => new TextEncoder().encode(value);

export const derUtf8String = (value: string) => derElement(derTag.utf8String, text(value));
export const derBoolean = (value: boolean) =>
  derElement(derTag.boolean, Uint8Array.of(value ? 0xff : 0));
export const derOctetString = (...content: Uint8Array[]) =>
  derElement(derTag.octetString, ...content);
/** A BIT STRING of whole bytes (no unused bits), e.g. a signature or a public key. */
export const derBitString = (bytes: Uint8Array) =>
  derElement(derTag.bitString, Uint8Array.of(0), bytes);

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, whole seconds, in UTC. */
export function derTime(date: Date): Uint8Array {
  const iso = date.toISOString();
  const digits = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return date.getUTCFullYear() < 2050
    ? derElement(derTag.utcTime, text(digits.slice(2)))
    : derElement(derTag.generalizedTime, text(digits));
}

function compareBytes(left: Uint8Array, right: Uint8Array): number {
  for (let index = 0; index < Math.min(left.length, right.length); index += 1)
    if (left[index] !== right[index]) return left[index]! - right[index]!;
  return left.length - right.length;
}

// ── Reading ──────────────────────────────────────────────────────────────────────────────

export type DerNode = {
  tag: number;
  /** The content bytes. */
  content: Uint8Array;
  /** The whole element (tag, length and content), e.g. the bytes a signature covers. */
  encoded: Uint8Array;
};

/** Reads the element at `offset`; `end` is where the next one starts. */
export function readDerElement(input: Uint8Array, offset = 0): DerNode & { end: number } {
  const tag = input[offset];
  if (tag === undefined) throw new DerError("the data ends where an element should start");
  if ((tag & 0x1f) === 0x1f) throw new DerError("multi-byte tags are not used here");
  const first = input[offset + 1];
  if (first === undefined) throw new DerError("the data ends inside an element's length");
  let length = first;
  let headerLength = 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    // 0x80 is BER's indefinite length, which DER forbids; 4 bytes of length is already 4 GiB.
    if (count === 0 || count > 4) throw new DerError("not a DER length");
    length = 0;
    for (let index = 0; index < count; index += 1) {
      const byte = input[offset + 2 + index];
      if (byte === undefined) throw new DerError("the data ends inside an element's length");
      length = length * 256 + byte;
    }
    headerLength += count;
  }
  const end = offset + headerLength + length;
  if (end > input.length) throw new DerError("an element is longer than the data holding it");
  return {
    tag,
    content: input.subarray(offset + headerLength, end),
    encoded: input.subarray(offset, end),
    end,
  };
}

/** The one element that makes up all of `input` (nothing may follow it). */
export function readDer(input: Uint8Array): DerNode {
  const { end, ...node } = readDerElement(input, 0);
  if (end !== input.length) throw new DerError("unexpected bytes after the element");
  return node;
}

/** The elements inside a constructed element (SEQUENCE, SET, `[n]`). */
export function readChildren(node: DerNode): DerNode[] {
  if (!(node.tag & 0x20)) throw new DerError(`element 0x${node.tag.toString(16)} is primitive`);
  const children: DerNode[] = [];
  for (let offset = 0; offset < node.content.length;) {
    const { end, ...child } = readDerElement(node.content, offset);
    children.push(child);
    offset = end;
  }
  return children;
}

/** The node, checked to carry `tag`. */
export function expectTag(node: DerNode | undefined, tag: number, what: string): DerNode {
  if (!node || node.tag !== tag) throw new DerError(`expected ${what}`);
  return node;
}

export function readObjectIdentifier(node: DerNode | undefined): string {
  const { content } = expectTag(node, derTag.oid, "an object identifier");
  const arcs: number[] = [];
  let value = 0;
  for (const byte of content) {
    value = value * 128 + (byte & 0x7f);
    if (byte & 0x80) continue;
    arcs.push(value);
    value = 0;
  }
  if (content.length === 0 || (content[content.length - 1]! & 0x80) !== 0)
    throw new DerError("a truncated object identifier");
  const head = arcs.shift()!;
  const first = Math.min(2, Math.floor(head / 40));
  return [first, head - first * 40, ...arcs].join(".");
}

/** The bytes of a BIT STRING that has no unused bits. */
export function readBitStringBytes(node: DerNode | undefined): Uint8Array {
  const { content } = expectTag(node, derTag.bitString, "a bit string");
  if (content[0] !== 0) throw new DerError("a bit string with unused bits");
  return content.subarray(1);
}

/** The text of a string element (UTF8String, PrintableString or IA5String). */
export function readString(node: DerNode | undefined): string {
  const stringTags: number[] = [derTag.utf8String, derTag.printableString, derTag.ia5String];
  if (!node || !stringTags.includes(node.tag)) throw new DerError("expected a string");
  return new TextDecoder("utf-8", { fatal: true }).decode(node.content);
}
