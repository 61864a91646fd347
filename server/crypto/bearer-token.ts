import { hash, randomBytes } from "node:crypto";

// Bearer tokens of every kind (API, bootstrap, agent): 256 random bits behind a prefix that
// names the kind, stored only as their SHA-256. A plain hash is enough: the token is random,
// so there is nothing to guess from it.

export function generateBearerToken(prefix: string): string {
  return `${prefix}${randomBytes(32).toString("base64url")}`;
}

// crypto.hash, the one-shot form: a quarter of createHash's time, and every API call hashes
// its token (ADR 0029).
export function hashBearerToken(token: string): string {
  return hash("sha256", token, "hex");
}
