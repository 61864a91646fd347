import { isIP } from "node:net";
import { z } from "zod";

// The shapes of single settings, parsed from their environment strings; server/env.ts puts
// them together (and stays the one reader of process.env).

export const portSchema = z
  .string()
  .trim()
  .regex(/^\d+$/, { error: "expected a whole number between 0 and 65535" })
  .transform(Number)
  .refine((port) => port <= 65535, { error: "expected a whole number between 0 and 65535" });

export const httpUrlSchema = z
  .url({ protocol: /^https?$/, error: "expected an http:// or https:// URL" })
  .transform((value) => value.replace(/\/+$/, ""));

export const positiveIntegerSchema = z
  .string()
  .trim()
  .regex(/^[1-9]\d*$/, { error: "expected a whole number greater than 0" })
  .transform(Number);

export const postgresUrlSchema = z.url({
  protocol: /^postgres(ql)?$/,
  error: "expected a postgres:// or postgresql:// connection URL",
});

// ENCRYPTION_KEYS: "id:base64key,id:base64key", newest first; each key is 32 random bytes.
export const encryptionKeysSchema = z.string().transform((value, context) => {
  const keys = value
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const [id, secret] = entry.split(":");
      const bytes = secret ? Buffer.from(secret, "base64") : Buffer.alloc(0);
      return { id: id ?? "", secret: new Uint8Array(bytes) as Uint8Array<ArrayBuffer> };
    });
  const valid =
    keys.length > 0 &&
    keys.every((key) => /^[\w-]{1,32}$/.test(key.id) && key.secret.length === 32);
  if (!valid) {
    context.addIssue({
      code: "custom",
      message:
        "expected id:base64key pairs separated by commas, newest first, each key 32 random bytes " +
        "(make one with: node -e \"console.log('k1:'+require('crypto').randomBytes(32).toString('base64'))\")",
    });
    return z.NEVER;
  }
  return keys;
});

// TRUST_PROXY: off ("false" or "0"), a hop count ("1": one proxy in front of us), or the
// addresses of the proxies ("127.0.0.1,10.0.0.0/8"). Off, X-Forwarded-For is never read.
export type TrustProxy = { hops: number } | { proxies: { address: string; prefix: number }[] };

const trustProxyError =
  'expected false, a hop count such as 1, or comma-separated IP addresses or CIDRs of your proxies such as "127.0.0.1,10.0.0.0/8"';

export const trustProxySchema = z.string().transform((value, context): TrustProxy => {
  const text = value.trim().toLowerCase();
  if (text === "false" || text === "off") return { hops: 0 };
  if (/^\d{1,2}$/.test(text)) return { hops: Number(text) };
  const proxies = text.split(",").map((entry) => parseSubnet(entry.trim()));
  if (proxies.length > 0 && proxies.every((proxy) => proxy !== undefined)) return { proxies };
  context.addIssue({ code: "custom", message: trustProxyError });
  return z.NEVER;
});

function parseSubnet(entry: string): { address: string; prefix: number } | undefined {
  const [address = "", prefixText, extra] = entry.split("/");
  const family = isIP(address);
  const bits = family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  const wellFormed = prefixText === undefined || /^\d{1,3}$/.test(prefixText);
  const valid = family !== 0 && extra === undefined && wellFormed && prefix <= bits;
  return valid ? { address, prefix } : undefined;
}

export const loginListSchema = z.string().transform((value) =>
  value
    .split(",")
    .map((login) => login.trim().toLowerCase())
    .filter(Boolean),
);
