import { createHmac, randomBytes, randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { terminalAudience, terminalCookieName } from "../../protocol/agent-protocol.ts";
import { createTerminalAuth, TerminalAuthError, type TerminalAuth } from "./terminal-auth.ts";
import { createTerminalGrants } from "./terminal-grants.ts";

// The agent's side of terminal sign-in against a real JWKS server on loopback, with keys
// made the way the control plane makes them (RS256, published with kid, alg and use).

const workspaceId = randomUUID();
const issuer = "https://control.example.test";
const cookieSecret = randomBytes(32);
const minute = 60_000;

type KeyPair = { publicKey: CryptoKey; privateKey: CryptoKey };
let signer: KeyPair;
let stranger: KeyPair;
let publishedKeys: JWK[] = [];
let jwksFetches = 0;
let jwksServer: http.Server;
let jwksUrl: string;
let clock = Date.now();
let auth: TerminalAuth;
let agentServer: http.Server;
let agentUrl: string;

const publicJwk = async (key: KeyPair, kid: string): Promise<JWK> => ({
  ...(await exportJWK(key.publicKey)),
  kid,
  alg: "RS256",
  use: "sig",
});

const createAuth = (overrides: Partial<Parameters<typeof createTerminalAuth>[0]> = {}) =>
  createTerminalAuth({
    workspaceId,
    issuer,
    jwksUrl,
    cookieSecret,
    now: () => clock,
    servePage: (res) => void res.end("the terminal page"),
    ...overrides,
  });

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  signer = await generateKeyPair("RS256");
  stranger = await generateKeyPair("RS256");
  publishedKeys = [await publicJwk(signer, "key-1")];
  jwksServer = http.createServer((_req, res) => {
    jwksFetches++;
    res.setHeader("content-type", "application/jwk-set+json");
    res.end(JSON.stringify({ keys: publishedKeys }));
  });
  jwksUrl = `${await listen(jwksServer)}/.well-known/jwks.json`;
  auth = createAuth();
  agentServer = http.createServer((req, res) => void auth.handleEntry(req, res));
  agentUrl = await listen(agentServer);
});
afterAll(async () => {
  await new Promise((resolve) => agentServer.close(resolve));
  await new Promise((resolve) => jwksServer.close(resolve));
});
beforeEach(() => {
  clock = Date.now();
});

const seconds = () => Math.floor(clock / 1000);
const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

function claims(overrides: Record<string, unknown> = {}) {
  const iat = seconds();
  return {
    iss: issuer,
    aud: terminalAudience,
    sub: "user-1",
    jti: randomUUID(),
    workspace: workspaceId,
    iat,
    nbf: iat,
    exp: iat + 300,
    ...overrides,
  };
}

function sign(payload = claims(), header: { kid?: string } = { kid: "key-1" }, key = signer) {
  return new SignJWT(payload)
    .setProtectedHeader({ alg: "RS256", typ: "JWT", ...header })
    .sign(key.privateKey);
}

async function enter(token: string) {
  const response = await fetch(`${agentUrl}/?token=${encodeURIComponent(token)}`, {
    redirect: "manual",
  });
  return {
    status: response.status,
    location: response.headers.get("location"),
    cookie: response.headers.get("set-cookie"),
    body: await response.text(),
  };
}

async function openPage(cookie?: string) {
  const response = await fetch(`${agentUrl}/`, { headers: cookie ? { cookie } : {} });
  return { status: response.status, body: await response.text() };
}

const cookiePair = (setCookie: string) => setCookie.split(";")[0]!;

describe("terminal sign-in", () => {
  it("trades a valid token for a cookie and a same-site reload that drops the token", async () => {
    const entry = await enter(await sign());
    expect(entry.status).toBe(200);
    expect(entry.body).toContain('<meta http-equiv="refresh" content="0;url=/">');
    expect(entry.cookie).toMatch(
      new RegExp(
        `^${terminalCookieName}=v2\\.[\\w-]+\\.[0-9a-f-]{36}\\.\\d+\\.[\\w-]+; Max-Age=28800; Path=/; HttpOnly; Secure; SameSite=Strict$`,
      ),
    );
    const page = await openPage(cookiePair(entry.cookie!));
    expect(page).toEqual({ status: 200, body: "the terminal page" });
    expect(auth.readCookie(cookiePair(entry.cookie!))).toEqual({
      userId: "user-1",
      grantId: expect.any(String),
    });
  });

  it("asks a browser without a cookie to come from the control plane", async () => {
    const page = await openPage();
    expect(page.status).toBe(401);
    expect(page.body).toContain("Open this workspace&#39;s terminal from the control plane");
    expect(page.body).toContain(`href="${issuer}"`);
  });

  const header = (value: Record<string, unknown>) => base64url(value);
  const refusals: [string, () => Promise<string>, RegExp][] = [
    [
      "alg none",
      async () => `${header({ alg: "none", typ: "JWT", kid: "key-1" })}.${base64url(claims())}.`,
      /not signed with RS256/,
    ],
    [
      "HS256 signed with the public key",
      async () => {
        const input = `${header({ alg: "HS256", typ: "JWT", kid: "key-1" })}.${base64url(claims())}`;
        const pem = await exportSPKI(signer.publicKey);
        return `${input}.${createHmac("sha256", pem).update(input).digest("base64url")}`;
      },
      /not signed with RS256/,
    ],
    [
      "an expired token",
      () => sign(claims({ iat: seconds() - 600, nbf: seconds() - 600, exp: seconds() - 300 })),
      /has expired/,
    ],
    ["a wrong audience", () => sign(claims({ aud: "something-else" })), /aud/],
    ["a wrong issuer", () => sign(claims({ iss: "https://evil.example.test" })), /iss/],
    [
      "another workspace's token",
      () => sign(claims({ workspace: randomUUID() })),
      /another workspace/,
    ],
    ["an unknown kid", () => sign(claims(), { kid: "key-404" }, stranger), /does not publish/],
    ["no kid", () => sign(claims(), {}), /kid/],
    [
      "a life over an hour",
      () => sign(claims({ exp: seconds() + 2 * 60 * 60 })),
      /longer than 3600 seconds/,
    ],
    [
      "an altered payload",
      async () => {
        const [head, , signature] = (await sign()).split(".");
        return `${head}.${base64url(claims({ sub: "admin" }))}.${signature}`;
      },
      /signature does not match/,
    ],
  ];

  it.each(refusals)("refuses %s with 401 and no cookie", async (_name, makeToken, reason) => {
    const token = await makeToken();
    const entry = await enter(token);
    expect(entry.status).toBe(401);
    expect(entry.cookie).toBeNull();
    expect(entry.location).toBeNull();
    expect(entry.body).toContain("Open the terminal again from the control plane.");
    expect(entry.body).not.toContain(token.split(".")[1]);
    const error = await auth.verifyToken(token).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TerminalAuthError);
    expect((error as TerminalAuthError).status).toBe(401);
    expect((error as Error).message).toMatch(reason);
    expect((error as Error).message).not.toContain(token);
  });

  it("refetches the key set for an unknown kid, at most once a minute", async () => {
    const fresh = createAuth();
    const before = jwksFetches;
    const unknown = await sign(claims(), { kid: "key-2" }, stranger);
    await expect(fresh.verifyToken(unknown)).rejects.toThrow(/does not publish/);
    await expect(fresh.verifyToken(unknown)).rejects.toThrow(/does not publish/);
    expect(jwksFetches - before).toBe(1);

    publishedKeys = [...publishedKeys, await publicJwk(stranger, "key-2")];
    clock += 30_000;
    await expect(fresh.verifyToken(unknown)).rejects.toThrow(/does not publish/);
    expect(jwksFetches - before).toBe(1);
    clock += 31_000;
    expect(await fresh.verifyToken(await sign(claims(), { kid: "key-2" }, stranger))).toMatchObject(
      {
        userId: "user-1",
      },
    );
    expect(jwksFetches - before).toBe(2);
    // Known keys are served from the cache.
    expect(await fresh.verifyToken(await sign())).toMatchObject({ userId: "user-1" });
    expect(jwksFetches - before).toBe(2);
    publishedKeys = publishedKeys.filter((key) => key.kid !== "key-2");
  });

  it("answers 503 when the key set cannot be had at all", async () => {
    const closed = http.createServer();
    const url = await listen(closed);
    await new Promise((resolve) => closed.close(resolve));
    const offline = createAuth({ jwksUrl: `${url}/.well-known/jwks.json` });
    const error = await offline.verifyToken(await sign()).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TerminalAuthError);
    expect(error).toMatchObject({ status: 503, message: expect.stringContaining(url) });
  });
});

/** A cookie pair for `user-1`, through a real sign-in at `server` (default: the shared agent). */
async function signIn(url = agentUrl, token?: string) {
  const response = await fetch(`${url}/?token=${encodeURIComponent(token ?? (await sign()))}`);
  expect(response.status).toBe(200);
  return cookiePair(response.headers.get("set-cookie")!);
}

describe("terminal cookie", () => {
  it("refuses a tampered cookie", async () => {
    const pair = await signIn();
    expect(auth.readCookie(pair)).toMatchObject({ userId: "user-1" });
    const [name, value] = pair.split("=") as [string, string];
    const [version, user, grant, expires, mac] = value.split(".") as string[] as [
      string,
      string,
      string,
      string,
      string,
    ];
    const otherUser = Buffer.from("user-2").toString("base64url");
    const flipped = `${mac.slice(0, -1)}${mac.endsWith("A") ? "B" : "A"}`;
    const otherGrant = randomUUID();
    const tampered = [
      `${name}=${version}.${otherUser}.${grant}.${expires}.${mac}`,
      `${name}=${version}.${user}.${otherGrant}.${expires}.${mac}`,
      `${name}=${version}.${user}.${grant}.${Number(expires) + 3600}.${mac}`,
      `${name}=${version}.${user}.${grant}.${expires}.${flipped}`,
      `${name}=${version}.${user}.${grant}.${expires}.${mac}=`,
      `${name}=${version}.${user}.${grant}.${expires}`,
      `${name}=v1.${user}.${expires}.${mac}`,
    ];
    for (const cookie of tampered) {
      expect(auth.readCookie(cookie)).toBeNull();
      expect((await openPage(cookie)).status).toBe(401);
    }
  });

  it("refuses a cookie made for another workspace", async () => {
    const grants = createTerminalGrants({ now: () => clock });
    const other = createAuth({ workspaceId: randomUUID(), grants });
    const grantId = randomUUID();
    await grants.redeem({
      id: grantId,
      issuedAt: clock,
      linkExpiresAt: clock + minute,
      cookieExpiresAt: clock + 60 * minute,
    });
    const cookie = cookiePair(
      other.issueCookie({ userId: "user-1", grantId }, clock + 60 * minute),
    );
    expect(other.readCookie(cookie)).toEqual({ userId: "user-1", grantId });
    expect(auth.readCookie(cookie)).toBeNull();
    expect((await openPage(cookie)).status).toBe(401);
  });

  it("refuses a cookie past its eight hours", async () => {
    const cookie = await signIn();
    clock += 8 * 60 * minute - 1_000;
    expect(auth.readCookie(`other=1; ${cookie}`)).toMatchObject({ userId: "user-1" });
    clock += 2_000;
    expect(auth.readCookie(cookie)).toBeNull();
    expect((await openPage(cookie)).status).toBe(401);
  });

  it("needs a cookie secret of at least 32 bytes", () => {
    expect(() => createAuth({ cookieSecret: randomBytes(16) })).toThrow(/32 random bytes/);
  });
});

describe("a terminal link", () => {
  it("opens one session: the same link again is refused, a new link works", async () => {
    const token = await sign();
    const first = await enter(token);
    expect(first.status).toBe(200);
    expect(first.cookie).not.toBeNull();
    const again = await enter(token);
    expect(again.status).toBe(401);
    expect(again.cookie).toBeNull();
    expect(again.body).toContain(
      "This link was already used; open the terminal again from the control plane.",
    );
    expect(again.body).not.toContain(token.split(".")[1]);
    // Even with the first session's cookie, the used link gives no second cookie.
    const withCookie = await fetch(`${agentUrl}/?token=${encodeURIComponent(token)}`, {
      headers: { cookie: cookiePair(first.cookie!) },
    });
    expect(withCookie.status).toBe(401);
    expect(withCookie.headers.get("set-cookie")).toBeNull();
    const other = await enter(await sign());
    expect(other.status).toBe(200);
    expect(other.cookie).not.toBeNull();
  });

  it("is not used up by a HEAD request (a link previewer or prefetcher)", async () => {
    const token = await sign();
    const head = await fetch(`${agentUrl}/?token=${encodeURIComponent(token)}`, { method: "HEAD" });
    expect(head.status).toBe(405);
    expect(head.headers.get("set-cookie")).toBeNull();
    const opened = await enter(token);
    expect(opened.status).toBe(200);
    expect(opened.cookie).not.toBeNull();
  });

  it("gives one cookie to many simultaneous uses of one link", async () => {
    const token = await sign();
    const entries = await Promise.all(Array.from({ length: 8 }, () => enter(token)));
    expect(entries.filter((entry) => entry.status === 200)).toHaveLength(1);
    expect(entries.filter((entry) => entry.cookie !== null)).toHaveLength(1);
  });

  it("is refused without a jti (no grant to remember it by)", async () => {
    const { jti: _jti, ...withoutJti } = claims();
    const entry = await enter(await sign(withoutJti as ReturnType<typeof claims>));
    expect(entry.status).toBe(401);
    expect(entry.cookie).toBeNull();
    expect(entry.body).toContain("jti");
  });

  it("ends its cookie when the grant is ended (the control plane revoked it)", async () => {
    const grants = createTerminalGrants({ now: () => clock });
    const local = createAuth({ grants });
    const server = http.createServer((req, res) => void local.handleEntry(req, res));
    const url = await listen(server);
    try {
      const cookie = await signIn(url);
      const other = await signIn(url);
      const { grantId } = local.readCookie(cookie)!;
      expect(grants.held()).toContain(grantId);
      await grants.end([grantId]);
      expect(local.readCookie(cookie)).toBeNull();
      const page = await fetch(`${url}/`, { headers: { cookie } });
      expect(page.status).toBe(401);
      expect(grants.held()).not.toContain(grantId);
      expect((await fetch(`${url}/`, { headers: { cookie: other } })).status).toBe(200);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("refuses new sign-ins with 503 rather than forget a link still valid", async () => {
    const grants = createTerminalGrants({ now: () => clock, maxGrants: 2 });
    const local = createAuth({ grants });
    const server = http.createServer((req, res) => void local.handleEntry(req, res));
    const url = await listen(server);
    try {
      const oldest = await signIn(url);
      await signIn(url);
      const refused = await fetch(`${url}/?token=${encodeURIComponent(await sign())}`);
      expect(refused.status).toBe(503);
      expect(await refused.text()).toContain("Too many terminal sign-ins");
      // Once the links have expired, the oldest cookie gives way to a new sign-in.
      clock += 6 * minute;
      await signIn(url);
      expect(local.readCookie(oldest)).toBeNull();
      expect(grants.held()).toHaveLength(2);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
