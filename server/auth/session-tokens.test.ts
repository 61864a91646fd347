import { createHash, randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiTokens, sessions, users } from "../../db/schema.ts";
import { projectRoot } from "../testing/program.ts";
import {
  cookiePairs,
  dataOf,
  startSignInHarness,
  type SignInHarness,
} from "../testing/test-sign-in.ts";

// Session cookies carry a random token; the sessions table keeps only its SHA-256. Each test
// attacks over real HTTP against our web server and the GitHub stand-in.

let harness: SignInHarness;
beforeAll(async () => {
  harness = await startSignInHarness();
});
afterAll(() => harness?.close());

const tokenOf = (cookie: string) => cookie.slice(cookie.indexOf("=") + 1);
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const loginOf = (body: unknown) => dataOf<{ user: { login: string } }>(body).user.login;

async function sessionRowsOf(login: string) {
  const [user] = await harness.database.db.select().from(users).where(eq(users.login, login));
  return harness.database.db.select().from(sessions).where(eq(sessions.userId, user!.id));
}

describe("session tokens at rest", () => {
  it("stores only the SHA-256 of the cookie token, and the cookie still works", async () => {
    const cookie = await harness.signIn("hashed");
    const rows = await sessionRowsOf("hashed");
    expect(rows).toHaveLength(1);
    const all = await harness.database.db.select({ id: sessions.id }).from(sessions);
    expect(all.map((row) => row.id)).not.toContain(tokenOf(cookie));
    expect(rows[0]!.id).toBe(sha256(tokenOf(cookie)));
    const me = await harness.query("auth.me", { cookie });
    expect(me.status).toBe(200);
    expect(loginOf(me.body)).toBe("hashed");
  });

  it("makes a dump of the sessions table useless as cookies", async () => {
    await harness.signIn("dumped");
    const dump = await harness.database.db.select({ id: sessions.id }).from(sessions);
    expect(dump.length).toBeGreaterThan(1);
    for (const { id } of dump) {
      const me = await harness.query("auth.me", { cookie: `caw_session=${id}` });
      expect(me.status).toBe(401);
      // The stolen id is answered with a cleared cookie, never a refreshed one.
      expect(cookiePairs(me.response)).toEqual(["caw_session="]);
    }
  });

  it("re-sends the token, not the stored id, when a session is extended", async () => {
    const cookie = await harness.signIn("sliding");
    // Lucia extends a session used in the second half of its 30 days.
    await harness.database.db.execute(
      sql`update sessions set expires_at = now() + interval '1 day' where id = ${sha256(tokenOf(cookie))}`,
    );
    const me = await harness.query("auth.me", { cookie });
    expect(me.status).toBe(200);
    expect(cookiePairs(me.response)).toEqual([cookie]);
    const [row] = await sessionRowsOf("sliding");
    expect(row!.expiresAt.getTime()).toBeGreaterThan(Date.now() + 20 * 86_400_000);
  });

  it("lists sessions with the current one marked, and revokes one by its public id", async () => {
    const first = await harness.signIn("lister");
    const second = await harness.signIn("lister");
    const listed = dataOf<{ id: string; current: boolean }[]>(
      (await harness.query("auth.sessions.list", { cookie: first })).body,
    );
    expect(listed).toHaveLength(2);
    expect(listed.filter((session) => session.current)).toHaveLength(1);
    const stored = (await sessionRowsOf("lister")).map((row) => row.id);
    for (const { id } of listed) {
      expect(stored.some((storedId) => storedId.startsWith(id))).toBe(false);
      expect([tokenOf(first), tokenOf(second)].some((token) => token.startsWith(id))).toBe(false);
    }
    const other = listed.find((session) => !session.current)!;
    const revoked = await harness.mutate("auth.sessions.revoke", { cookie: first }, other);
    expect(revoked.status).toBe(200);
    expect((await harness.query("auth.me", { cookie: second })).status).toBe(401);
    expect((await harness.query("auth.me", { cookie: first })).status).toBe(200);
  });

  it("signs out: the cookie's session row is gone", async () => {
    const cookie = await harness.signIn("leaver");
    const out = await fetch(`${harness.baseUrl}/auth/logout`, {
      method: "POST",
      headers: { cookie, origin: "http://127.0.0.1" },
      redirect: "manual",
    });
    expect(out.status).toBe(302);
    expect(await sessionRowsOf("leaver")).toEqual([]);
    expect((await harness.query("auth.me", { cookie })).status).toBe(401);
  });

  it("signs out everywhere: every session of the user ends, other users' stay", async () => {
    const [first, second, bystander] = [
      await harness.signIn("everywhere"),
      await harness.signIn("everywhere"),
      await harness.signIn("bystander"),
    ];
    expect((await harness.mutate("auth.sessions.revokeAll", { cookie: first })).status).toBe(200);
    expect(await sessionRowsOf("everywhere")).toEqual([]);
    for (const cookie of [first, second])
      expect((await harness.query("auth.me", { cookie })).status).toBe(401);
    expect((await harness.query("auth.me", { cookie: bystander })).status).toBe(200);
  });
});

describe("migration 0004", () => {
  it("keeps a browser signed in: its old cookie (the raw id) matches the hashed row", async () => {
    const cookie = await harness.signIn("upgrader");
    const [user] = await harness.database.db
      .select()
      .from(users)
      .where(eq(users.login, "upgrader"));
    // A session as Lucia stored it before: the cookie value is the row id.
    const legacy = `legacy${randomBytes(16).toString("hex")}`;
    await harness.database.db.insert(sessions).values({
      id: legacy,
      userId: user!.id,
      expiresAt: new Date(Date.now() + 20 * 86_400_000),
      userAgent: null,
    });
    const migration = await readFile(
      path.join(projectRoot, "db/migrations/0004_isolation.sql"),
      "utf8",
    );
    const hashed = /UPDATE "sessions" SET "id" = (.+);/.exec(migration)?.[1];
    expect(hashed).toBeDefined();
    // The migration's own expression, on this one row (the others are hashed already).
    await harness.database.db.execute(
      sql.raw(`UPDATE "sessions" SET "id" = ${hashed} WHERE "id" = '${legacy}'`),
    );
    expect((await harness.query("auth.me", { cookie: `caw_session=${legacy}` })).status).toBe(200);
    expect((await harness.query("auth.me", { cookie })).status).toBe(200);
  });
});

describe("bearer tokens", () => {
  it("never fall back to the cookie: a bad bearer with a valid session is unauthenticated", async () => {
    const cookie = await harness.signIn("both");
    const created = await harness.mutate("tokens.create", { cookie }, { name: "soon revoked" });
    const { token, id } = dataOf<{ token: string; id: string }>(created.body);
    await harness.mutate("tokens.revoke", { cookie }, { id });
    for (const authorization of [
      "Bearer caw_not-a-token-we-issued",
      `Bearer ${token}`, // revoked
      "Bearer",
      `Basic ${Buffer.from("both:x").toString("base64")}`,
    ]) {
      const me = await harness.query("auth.me", { cookie, authorization });
      expect(me.status, authorization).toBe(401);
    }
    expect((await harness.query("auth.me", { cookie })).status).toBe(200);
  });

  it("expire: an expired token is refused with 401, a live one works", async () => {
    const cookie = await harness.signIn("expiry");
    const make = async (name: string) =>
      dataOf<{ token: string; id: string }>(
        (await harness.mutate("tokens.create", { cookie }, { name, expiresInDays: 1 })).body,
      );
    const [live, expired] = [await make("live"), await make("expired")];
    await harness.database.db
      .update(apiTokens)
      .set({ expiresAt: new Date(Date.now() - 60_000) })
      .where(eq(apiTokens.id, expired.id));
    const refused = await harness.query("auth.me", { authorization: `Bearer ${expired.token}` });
    expect(refused.status).toBe(401);
    expect(JSON.stringify(refused.body)).toContain("UNAUTHORIZED");
    const used = await harness.query("auth.me", { authorization: `Bearer ${live.token}` });
    expect(used.status).toBe(200);
    expect(dataOf<{ via: string }>(used.body).via).toBe("token");
  });
});
