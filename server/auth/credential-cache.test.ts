import { describe, expect, it } from "vitest";
import { createCredentialCache, type TokenCredential } from "./credential-cache.ts";

// The cache's own rules (ADR 0028), on a clock of our own; the trigger and LISTEN path is
// server/services/api-token-cache.test.ts.

function credential(
  tokenId: string,
  userId: string,
  expiresAt: Date | null = null,
): TokenCredential {
  const user = { id: userId, login: "ada", name: null, email: null, avatarUrl: null };
  return {
    tokenId,
    expiresAt,
    lastUsedAt: null,
    user: { ...user, role: "member", auditSubject: "s" },
  };
}

function setUp(options: { listening?: boolean; maxEntries?: number } = {}) {
  const clock = { now: 1_000_000, listening: options.listening ?? true };
  const cache = createCredentialCache({
    isListening: () => clock.listening,
    ttlMs: 10_000,
    maxEntries: options.maxEntries,
    now: () => clock.now,
  });
  return { clock, cache };
}

describe("the credential cache", () => {
  it("answers a remembered token until its time is up", () => {
    const { clock, cache } = setUp();
    cache.remember("hash-a", credential("t1", "u1"), cache.epoch());
    expect(cache.read("hash-a")?.tokenId).toBe("t1");
    clock.now += 9_999;
    expect(cache.read("hash-a")?.tokenId).toBe("t1");
    clock.now += 1;
    expect(cache.read("hash-a")).toBeUndefined();
  });

  it("never answers a token past its own expiry", () => {
    const { clock, cache } = setUp();
    cache.remember("hash-a", credential("t1", "u1", new Date(clock.now + 500)), cache.epoch());
    expect(cache.read("hash-a")).toBeDefined();
    clock.now += 500;
    expect(cache.read("hash-a")).toBeUndefined();
  });

  it("neither keeps nor answers anything while invalidations are not heard", () => {
    const { clock, cache } = setUp({ listening: false });
    cache.remember("hash-a", credential("t1", "u1"), cache.epoch());
    clock.listening = true;
    expect(cache.read("hash-a")).toBeUndefined();
    cache.remember("hash-a", credential("t1", "u1"), cache.epoch());
    clock.listening = false;
    expect(cache.read("hash-a")).toBeUndefined();
  });

  it("forgets a token, every token of a user, or everything, as told", () => {
    const { cache } = setUp();
    const remember = (hash: string, tokenId: string, userId: string) =>
      cache.remember(hash, credential(tokenId, userId), cache.epoch());
    remember("a", "t1", "u1");
    remember("b", "t2", "u1");
    remember("c", "t3", "u2");
    cache.apply({ type: "token", id: "t1" });
    expect([cache.read("a"), cache.read("b")?.tokenId]).toEqual([undefined, "t2"]);
    cache.apply({ type: "user", id: "u1" });
    expect([cache.read("b"), cache.read("c")?.tokenId]).toEqual([undefined, "t3"]);
    cache.apply({ type: "forget-all" });
    expect(cache.read("c")).toBeUndefined();
  });

  it("refuses an answer read before an invalidation it did not see", () => {
    const { cache } = setUp();
    const before = cache.epoch();
    // A revoke heard while the database read was under way: that read may predate it.
    cache.apply({ type: "token", id: "t1" });
    cache.remember("a", credential("t1", "u1"), before);
    expect(cache.read("a")).toBeUndefined();
  });

  it("holds at most maxEntries, dropping the oldest", () => {
    const { cache } = setUp({ maxEntries: 2 });
    for (const name of ["a", "b", "c"]) cache.remember(name, credential(name, "u"), cache.epoch());
    expect(["a", "b", "c"].map((name) => cache.read(name)?.tokenId)).toEqual([undefined, "b", "c"]);
  });
});
