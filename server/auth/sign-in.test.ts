import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditLog, users } from "../../db/schema.ts";
import { startTestWebServer } from "../testing/test-web-server.ts";
import { startGitHubStandIn, type GitHubStandIn } from "../github-stand-in/server.ts";
import { createLogger } from "../logger.ts";
import { decryptSecret, type Keyring } from "../crypto/envelope.ts";
import { verifyAuditChain } from "../services/audit.ts";
import { githubTokenContext } from "../services/users.ts";
import { createTestLoadContext } from "../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { standInTestPassword } from "../github-stand-in/test-helpers.ts";

// The sign-in flow end to end over real HTTP: our web server (real Remix build) and the
// GitHub stand-in, both on loopback, driven by fetch with a hand-kept cookie jar. Both log
// at trace level into `logLines`; every secret the run handles is kept in `secrets`, and the
// last test checks that no log line holds any of them.

const logLines: string[] = [];
const secrets = new Set<string>();
const capture = new Writable({
  write(chunk: Buffer, _encoding, done) {
    logLines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
    done();
  },
});
const capturingLogger = (service: string) =>
  createLogger({ level: "trace", service, destination: capture });

let database: TestDatabase;
let standIn: GitHubStandIn;
let base: string;
let closeServer: () => Promise<void>;
let dataDir: string;
let keyring: Keyring;

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = await mkdtemp(path.join(os.tmpdir(), "caw-signin-"));
  standIn = await startGitHubStandIn({
    dataDir,
    logger: capturingLogger("stand-in"),
  });
  secrets.add(standIn.clientSecret);
  const context = await contextFor();
  keyring = context.keyring;
  const web = await startTestWebServer(
    {
      ...context,
      github: {
        webUrl: standIn.url,
        apiUrl: standIn.apiUrl,
        clientId: standIn.clientId,
        clientSecret: standIn.clientSecret,
      },
    },
    capturingLogger("web"),
  );
  base = web.baseUrl;
  closeServer = web.close;
});
afterAll(async () => {
  await closeServer?.();
  await standIn?.close();
  await database?.drop();
  await rm(dataDir, { recursive: true, force: true });
});

async function contextFor() {
  const context = await createTestLoadContext(database, {});
  return { ...context, env: { ...context.env, PUBLIC_URL: "http://127.0.0.1" } };
}

const cookiesOf = (response: Response) => {
  const pairs = response.headers.getSetCookie().map((cookie) => cookie.split(";")[0]!);
  for (const pair of pairs) {
    const value = pair.slice(pair.indexOf("=") + 1);
    if (value.length >= 16) secrets.add(value);
  }
  return pairs.join("; ");
};

/** Starts a sign-in and has the stand-in authorize `login`; returns the callback URL and flow cookies. */
async function authorizeAt(login: string) {
  const start = await fetch(`${base}/auth/github`, { redirect: "manual" });
  expect(start.status).toBe(302);
  const authorizeUrl = new URL(start.headers.get("location")!);
  const form = new URLSearchParams(authorizeUrl.searchParams);
  form.set("login", login);
  form.set("password", standInTestPassword);
  const granted = await fetch(`${standIn.url}/login/oauth/authorize`, {
    method: "POST",
    body: form,
    redirect: "manual",
  });
  const callback = new URL(granted.headers.get("location")!);
  secrets.add(callback.searchParams.get("code")!);
  secrets.add(callback.searchParams.get("state")!);
  return {
    callbackPath: `${callback.pathname}${callback.search}`,
    flowCookies: cookiesOf(start),
    callback,
  };
}

/** Keeps the user's GitHub access token, decrypted, among the secrets no log may hold. */
async function rememberGitHubToken(login: string) {
  const [user] = await database.db.select().from(users).where(eq(users.login, login));
  secrets.add(
    await decryptSecret(keyring, user!.githubTokenEncrypted!, githubTokenContext(user!.id)),
  );
}

async function signIn(login: string): Promise<string> {
  const { callbackPath, flowCookies } = await authorizeAt(login);
  const done = await fetch(`${base}${callbackPath}`, {
    headers: { cookie: flowCookies },
    redirect: "manual",
  });
  expect(done.status).toBe(302);
  await rememberGitHubToken(login);
  return cookiesOf(done)
    .split("; ")
    .find((cookie) => cookie.startsWith("caw_session="))!;
}

describe("GitHub sign-in", () => {
  it("signs in, stores the GitHub token encrypted, and records the sign-in", async () => {
    const session = await signIn("first-user");
    const me = await fetch(`${base}/api/trpc/auth.me`, { headers: { cookie: session } });
    const body = (await me.json()) as {
      result: { data: { json: { user: { login: string; role: string } } } };
    };
    expect(body.result.data.json.user).toMatchObject({ login: "first-user", role: "admin" });
    const [row] = await database.db.select().from(users).where(eq(users.login, "first-user"));
    expect(row!.githubTokenEncrypted).toMatch(/^v1\./);
    expect(row!.githubTokenEncrypted).not.toContain("gho_");
    const actions = await database.db.select({ action: auditLog.action }).from(auditLog);
    expect(actions.map((entry) => entry.action)).toContain("auth.sign_in");
  });

  it("makes later users members", async () => {
    const session = await signIn("second-user");
    const me = await fetch(`${base}/api/trpc/auth.me`, { headers: { cookie: session } });
    expect(JSON.stringify(await me.json())).toContain('"role":"member"');
  });

  it("refuses a tampered or missing state with 400 and no session", async () => {
    const { callback, flowCookies } = await authorizeAt("tamper");
    callback.searchParams.set("state", "forged");
    const tampered = await fetch(`${base}${callback.pathname}${callback.search}`, {
      headers: { cookie: flowCookies },
      redirect: "manual",
    });
    expect(tampered.status).toBe(400);
    expect(await tampered.text()).toContain("the state does not match");
    expect(cookiesOf(tampered)).not.toMatch(/caw_session=\w/);
    const missing = await fetch(`${base}${callback.pathname}${callback.search}`, {
      redirect: "manual",
    });
    expect(missing.status).toBe(400);
  });

  it("refuses a bad or reused code with a clear error and no session", async () => {
    const { callbackPath, flowCookies, callback } = await authorizeAt("bad-code");
    const bad = new URL(callback);
    bad.searchParams.set("code", "not-a-code");
    const refused = await fetch(`${base}${bad.pathname}${bad.search}`, {
      headers: { cookie: flowCookies },
      redirect: "manual",
    });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain(
      "GitHub refused the sign-in code (bad_verification_code)",
    );
    expect(cookiesOf(refused)).not.toMatch(/caw_session=\w/);
    expect(callbackPath).toContain("code=");
  });

  it("refuses an expired session", async () => {
    const session = await signIn("expiring");
    await database.db.execute(sql`update sessions set expires_at = now() - interval '1 minute'`);
    const me = await fetch(`${base}/api/trpc/auth.me`, { headers: { cookie: session } });
    expect(me.status).toBe(401);
  });

  it("refuses a cross-site POST that carries the session cookie", async () => {
    const session = await signIn("csrf-target");
    const crossSite = await fetch(`${base}/api/trpc/tokens.create`, {
      method: "POST",
      headers: {
        cookie: session,
        origin: "https://evil.example",
        "content-type": "application/json",
      },
      body: JSON.stringify({ json: { name: "stolen" } }),
    });
    expect(crossSite.status).toBe(403);
    expect(crossSite.headers.get("content-type")).toContain("application/problem+json");
    const noOrigin = await fetch(`${base}/auth/logout`, {
      method: "POST",
      headers: { cookie: session },
      redirect: "manual",
    });
    expect(noOrigin.status).toBe(403);
  });

  it("deletes every row of a deleted account, leaving a verifiable audit trail", async () => {
    const session = await signIn("leaving");
    const [user] = await database.db.select().from(users).where(eq(users.login, "leaving"));
    const headers = {
      cookie: session,
      origin: "http://127.0.0.1",
      "content-type": "application/json",
    };
    const created = await fetch(`${base}/api/trpc/tokens.create`, {
      method: "POST",
      headers,
      body: JSON.stringify({ json: { name: "t" } }),
    });
    const { token } = ((await created.json()) as { result: { data: { json: { token: string } } } })
      .result.data.json;
    expect(token).toMatch(/^caw_/);
    secrets.add(token);
    const used = await fetch(`${base}/api/trpc/auth.me`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(used.status).toBe(200);
    const deleted = await fetch(`${base}/api/trpc/account.delete`, {
      method: "POST",
      headers,
      body: JSON.stringify({ json: { confirmLogin: "leaving" } }),
    });
    expect(deleted.status).toBe(200);
    // Distinctive values only: a short number like the GitHub id could match any hash or time.
    const traces = [user!.id, `"${user!.login}"`];
    expect(
      await database.db.select().from(users).where(eq(users.githubId, user!.githubId)),
    ).toEqual([]);
    const tables = await database.sql<{ table_name: string }[]>`
      select table_name from information_schema.tables where table_schema = 'public'`;
    for (const { table_name } of tables) {
      const rows = await database.sql`select * from ${database.sql(table_name)}`;
      const text = JSON.stringify(rows);
      for (const trace of traces)
        expect(text, `${table_name} still holds ${trace}`).not.toContain(trace);
    }
    expect((await verifyAuditChain(database.db)).valid).toBe(true);
  });

  it("detects an edited audit row", async () => {
    const [first] = await database.db.select().from(auditLog).limit(1);
    await database.db
      .update(auditLog)
      .set({ action: "auth.sign_out" })
      .where(eq(auditLog.id, first!.id));
    expect(await verifyAuditChain(database.db)).toMatchObject({
      valid: false,
      brokenAtId: first!.id,
    });
  });
});

describe("rate limit on /auth", () => {
  it("answers the 101st request in a minute with 429 and Retry-After", async () => {
    await database.db.execute(sql`delete from rate_limits`);
    for (let attempt = 0; attempt < 100; attempt++) {
      const response = await fetch(`${base}/auth/github`, { redirect: "manual" });
      expect(response.status).toBe(302);
    }
    const limited = await fetch(`${base}/auth/github`, { redirect: "manual" });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
  });
});

// Last, so it sees the lines of every test above.
describe("logs", () => {
  it("hold no secret that passed through the run", () => {
    expect(logLines.length).toBeGreaterThan(100);
    expect(logLines.some((line) => line.includes('"path":"/auth/github/callback"'))).toBe(true);
    expect(secrets.size).toBeGreaterThan(10);
    for (const secret of secrets)
      for (const line of logLines)
        expect(line.includes(secret), `a log line holds a secret: ${line}`).toBe(false);
  });
});
