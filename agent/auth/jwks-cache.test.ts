import http from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWK } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createJwksCache, JwksUnavailableError } from "./jwks-cache.ts";

// The key-set cache against a real HTTP server on loopback, with a clock the test moves.

const hour = 60 * 60_000;
let rsaKey: JWK;
let served: { status: number; keys: JWK[] };
let fetches = 0;
let server: http.Server;
let jwksUrl: string;
let clock = 0;

beforeAll(async () => {
  const { publicKey } = await generateKeyPair("RS256");
  rsaKey = { ...(await exportJWK(publicKey)), kid: "rsa-1", alg: "RS256", use: "sig" };
  server = http.createServer((_req, res) => {
    fetches++;
    res.statusCode = served.status;
    res.end(JSON.stringify({ keys: served.keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));
beforeEach(() => {
  served = { status: 200, keys: [rsaKey] };
  fetches = 0;
  clock = Date.UTC(2026, 10, 22, 10, 0, 0);
});

const createCache = () => createJwksCache({ jwksUrl, now: () => clock });

describe("JWKS cache", () => {
  it("keeps the key set for an hour, then fetches it again", async () => {
    const cache = createCache();
    const [first, second] = await Promise.all([cache.findKey("rsa-1"), cache.findKey("rsa-1")]);
    expect(first).toMatchObject({ kid: "rsa-1", kty: "RSA" });
    expect(second).toEqual(first);
    expect(fetches).toBe(1);
    clock += hour - 1;
    await cache.findKey("rsa-1");
    expect(fetches).toBe(1);
    clock += 1;
    await cache.findKey("rsa-1");
    expect(fetches).toBe(2);
  });

  it("keeps using the keys it has when a refresh fails", async () => {
    const cache = createCache();
    await cache.findKey("rsa-1");
    served.status = 503;
    clock += hour;
    expect(await cache.findKey("rsa-1")).toMatchObject({ kid: "rsa-1" });
    expect(fetches).toBe(2);
    // The failed refresh is not retried on every request.
    clock += 30_000;
    expect(await cache.findKey("rsa-1")).toMatchObject({ kid: "rsa-1" });
    expect(fetches).toBe(2);
  });

  it("says why when it never got a key set, without retrying more than once a minute", async () => {
    served.status = 500;
    const cache = createCache();
    await expect(cache.findKey("rsa-1")).rejects.toThrow(JwksUnavailableError);
    await expect(cache.findKey("rsa-1")).rejects.toThrow(/answered HTTP 500/);
    expect(fetches).toBe(1);
    served.status = 200;
    clock += 60_000;
    expect(await cache.findKey("rsa-1")).toMatchObject({ kid: "rsa-1" });
  });

  it("holds only RSA signing keys, whatever else the set lists", async () => {
    served.keys = [
      rsaKey,
      { kty: "oct", kid: "secret", k: "c2VjcmV0" },
      { ...rsaKey, kid: "rsa-enc", use: "enc" },
      { ...rsaKey, kid: "rsa-hs", alg: "HS256" },
    ];
    const cache = createCache();
    expect(await cache.findKey("rsa-1")).not.toBeNull();
    for (const kid of ["secret", "rsa-enc", "rsa-hs"]) expect(await cache.findKey(kid)).toBeNull();
  });

  it("refuses an answer that is not a key set", async () => {
    served.keys = "nope" as unknown as JWK[];
    await expect(createCache().findKey("rsa-1")).rejects.toThrow(/not a JSON Web Key Set/);
  });
});
