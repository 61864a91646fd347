import { eq } from "drizzle-orm";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createDb } from "../../db/client.ts";
import { signingKeys } from "../../db/schema.ts";
import { terminalAudience, terminalTokenMaxSeconds } from "../../protocol/agent-protocol.ts";
import type { AppLoadContextValue } from "../http/load-context.ts";
import { createTestLoadContext } from "../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { startTestWebServer, type TestWebServer } from "../testing/test-web-server.ts";
import {
  ensureSigningKeys,
  readJwks,
  rotateSigningKeys,
  signTerminalToken,
} from "./signing-keys.ts";

let database: TestDatabase;
let context: AppLoadContextValue;
let web: TestWebServer;

beforeAll(async () => {
  database = await createTestDatabase();
  context = await createTestLoadContext(database);
  web = await startTestWebServer(context);
});
afterAll(async () => {
  await web.close();
  await database.drop();
});
beforeEach(async () => {
  await database.db.delete(signingKeys);
});

const day = 24 * 60 * 60_000;
const issuer = "https://control.example.test";
const workspaceId = "6f1c1e0e-8d2a-4c55-9a43-0b8e2f7a1d10";
const kidsOf = (jwks: { keys: { kid: string }[] }) => jwks.keys.map((key) => key.kid).sort();

const signAt = (now: Date) =>
  signTerminalToken(database.db, context.keyring, {
    userId: "user-1",
    workspaceId,
    issuer,
    expiresInSeconds: 300,
    now,
  });

describe("signing keys", () => {
  it("makes one current and one next key however many processes ensure them at once", async () => {
    const other = createDb(database.url, { max: 3 });
    try {
      const results = await Promise.all(
        [database.db, other.db, database.db, other.db, database.db, other.db].map((db) =>
          ensureSigningKeys(db, context.keyring),
        ),
      );
      const [first] = results;
      expect(first!.currentKid).not.toBe(first!.nextKid);
      for (const result of results) expect(result).toEqual(first);
      const rows = await database.db.select().from(signingKeys);
      expect(rows.map((row) => row.id).sort()).toEqual([first!.currentKid, first!.nextKid].sort());
      for (const row of rows) {
        expect(row.privateKeyEncrypted).toMatch(/^v1\./);
        expect(row.privateKeyEncrypted).not.toContain("PRIVATE KEY");
        expect(row.retiresAt).toBeNull();
      }
      expect(await ensureSigningKeys(database.db, context.keyring)).toEqual(first);
    } finally {
      await other.close();
    }
  });

  it("publishes the current and next public keys over HTTP, cacheable for five minutes", async () => {
    const { currentKid, nextKid } = await ensureSigningKeys(database.db, context.keyring);
    const response = await fetch(`${web.baseUrl}/.well-known/jwks.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("public, max-age=300");
    expect(response.headers.get("content-type")).toBe("application/jwk-set+json");
    const jwks = (await response.json()) as { keys: Record<string, unknown>[] };
    expect(kidsOf(jwks as { keys: { kid: string }[] })).toEqual([currentKid, nextKid].sort());
    for (const key of jwks.keys) {
      expect(key).toMatchObject({ kty: "RSA", alg: "RS256", use: "sig" });
      expect(Object.keys(key).sort()).toEqual(["alg", "e", "kid", "kty", "n", "use"]);
    }
    const refused = await fetch(`${web.baseUrl}/.well-known/jwks.json`, { method: "POST" });
    expect(refused.status).toBe(400);
  });

  it("signs terminal tokens that verify against the published key set", async () => {
    const { currentKid } = await ensureSigningKeys(database.db, context.keyring);
    const now = new Date();
    const { token, expiresAt, kid } = await signAt(now);
    expect(kid).toBe(currentKid);
    expect(decodeProtectedHeader(token)).toEqual({ alg: "RS256", kid: currentKid, typ: "JWT" });
    const jwks = createRemoteJWKSet(new URL(`${web.baseUrl}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(token, jwks, {
      algorithms: ["RS256"],
      issuer,
      audience: terminalAudience,
      currentDate: now,
    });
    const issuedAt = Math.floor(now.getTime() / 1000);
    expect(payload).toEqual({
      iss: issuer,
      aud: terminalAudience,
      sub: "user-1",
      // A fresh grant id when the caller names none (terminal-access.ts always does).
      jti: expect.stringMatching(
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      ),
      workspace: workspaceId,
      iat: issuedAt,
      nbf: issuedAt,
      exp: issuedAt + 300,
    });
    expect(expiresAt.getTime()).toBe((issuedAt + 300) * 1000);
  });

  it("makes the keys on the first token, and refuses lives longer than agents accept", async () => {
    const { kid } = await signAt(new Date());
    expect((await readJwks(database.db)).keys.map((key) => key.kid)).toContain(kid);
    const tooLong = signTerminalToken(database.db, context.keyring, {
      userId: "user-1",
      workspaceId,
      issuer,
      expiresInSeconds: terminalTokenMaxSeconds + 1,
    });
    await expect(tooLong).rejects.toThrow(/at most 3600 s/);
  });

  it("rotates: the next key signs, the old one stays published until its tokens expire", async () => {
    const start = new Date();
    const first = await ensureSigningKeys(database.db, context.keyring, { now: start });
    const early = await rotateSigningKeys(database.db, context.keyring, {
      now: new Date(start.getTime() + day),
    });
    expect(early).toMatchObject({ ...first, rotated: false, dropped: 0 });

    const rotation = new Date(start.getTime() + 30.1 * day);
    const oldToken = await signAt(new Date(rotation.getTime() - 2 * 60_000));
    expect(oldToken.kid).toBe(first.currentKid);
    const rotated = await rotateSigningKeys(database.db, context.keyring, { now: rotation });
    expect(rotated).toMatchObject({ currentKid: first.nextKid, rotated: true, dropped: 0 });
    expect([first.currentKid, first.nextKid]).not.toContain(rotated.nextKid);
    expect(kidsOf(await readJwks(database.db, rotation))).toEqual(
      [first.currentKid, first.nextKid, rotated.nextKid].sort(),
    );
    expect((await signAt(rotation)).kid).toBe(first.nextKid);
    // A token signed just before the rotation still checks out against the published set.
    const served = await readJwks(database.db, rotation);
    const { payload } = await jwtVerify(
      oldToken.token,
      async (header) => {
        return served.keys.find((key) => key.kid === header.kid)!;
      },
      { algorithms: ["RS256"], currentDate: rotation },
    );
    expect(payload.sub).toBe("user-1");

    const afterTokensExpired = new Date(rotation.getTime() + 2 * terminalTokenMaxSeconds * 1000);
    const cleanup = await rotateSigningKeys(database.db, context.keyring, {
      now: afterTokensExpired,
    });
    expect(cleanup).toMatchObject({ ...rotated, rotated: false, dropped: 1 });
    expect(kidsOf(await readJwks(database.db, afterTokensExpired))).toEqual(
      [first.nextKid, rotated.nextKid].sort(),
    );
  });

  it("lets a next key whose time came take over even when no rotation ran", async () => {
    const start = new Date();
    const first = await ensureSigningKeys(database.db, context.keyring, { now: start });
    const overdue = new Date(start.getTime() + 31.1 * day);
    expect((await signAt(overdue)).kid).toBe(first.nextKid);
    const rotated = await rotateSigningKeys(database.db, context.keyring, { now: overdue });
    expect(rotated).toMatchObject({ currentKid: first.nextKid, rotated: false });
    const [old] = await database.db
      .select()
      .from(signingKeys)
      .where(eq(signingKeys.id, first.currentKid));
    expect(old!.retiresAt!.getTime()).toBeGreaterThan(
      overdue.getTime() + terminalTokenMaxSeconds * 1000,
    );
  });

  it("refuses a private key moved to another key's row", async () => {
    const { currentKid, nextKid } = await ensureSigningKeys(database.db, context.keyring);
    const [next] = await database.db.select().from(signingKeys).where(eq(signingKeys.id, nextKid));
    await database.db
      .update(signingKeys)
      .set({ privateKeyEncrypted: next!.privateKeyEncrypted })
      .where(eq(signingKeys.id, currentKid));
    await expect(signAt(new Date())).rejects.toThrow(/integrity check/);
  });
});
