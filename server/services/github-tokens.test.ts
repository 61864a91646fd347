import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Keyring } from "../crypto/envelope.ts";
import type { GitHubSettings } from "../env.ts";
import {
  authorize,
  exchangeCode,
  startTestStandIn,
  type TestStandIn,
} from "../github-stand-in/test-helpers.ts";
import { createLogger } from "../logger.ts";
import { createTestLoadContext } from "../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { createTestUser } from "../testing/test-users.ts";
import { readGitHubToken, saveGitHubTokens } from "./github-tokens.ts";

// The refresh of a GitHub App user token holds the user's row lock and a pool connection
// while it talks to GitHub: it must give up on a GitHub that never answers (and let go of the
// lock), and say so in the log when GitHub rotated the single-use refresh token but the new
// tokens could not be saved.

let database: TestDatabase;
let stand: TestStandIn;
let keyring: Keyring;
let userId: string;
let silent: Server;
const hanging = new Set<ServerResponse>();
let logText = "";
const logger = createLogger({
  level: "info",
  service: "test",
  destination: { write: (line: string) => void (logText += line) },
});

beforeAll(async () => {
  database = await createTestDatabase();
  stand = await startTestStandIn({ app: {} });
  const context = await createTestLoadContext(database);
  keyring = context.keyring;
  userId = (await createTestUser(context, "renewer")).id;
  // A GitHub that takes the request and never answers.
  silent = createServer((_req, res) => void hanging.add(res));
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
});
afterAll(async () => {
  for (const res of hanging) res.destroy();
  await new Promise<void>((resolve) => silent?.close(() => resolve()));
  await stand?.stop();
  await database?.drop();
});

let signedIn: { access_token?: string; refresh_token?: string };
beforeEach(async () => {
  logText = "";
  // A fresh App sign-in whose user token is about to expire, so the next read refreshes it.
  signedIn = await exchangeCode(stand.standIn, {
    code: await authorize(stand.standIn, { login: "renewer" }),
  });
  await saveGitHubTokens(database.db, keyring, userId, {
    accessToken: signedIn.access_token!,
    expiresAt: new Date(Date.now() + 60_000),
    refreshToken: signedIn.refresh_token!,
    refreshTokenExpiresAt: new Date(Date.now() + 86400_000),
  });
});

const settingsFor = (url: string): GitHubSettings => ({
  webUrl: url,
  apiUrl: `${url}/api/v3`,
  clientId: stand.standIn.clientId,
  clientSecret: stand.standIn.clientSecret,
});

describe("refreshing a user token", () => {
  it("gives up on a GitHub that never answers, with a clear error, and releases the row lock", async () => {
    const { port } = silent.address() as AddressInfo;
    const error = await readGitHubToken(
      database.db,
      keyring,
      settingsFor(`http://127.0.0.1:${port}`),
      userId,
      { logger, refreshTimeoutMs: 300 },
    ).catch((caught: unknown) => caught);
    expect(error).toMatchObject({
      code: "SERVICE_UNAVAILABLE",
      message: expect.stringContaining("did not renew your token within 0.3 s"),
    });
    expect(hanging.size).toBeGreaterThan(0); // it really was waiting on GitHub
    // Nobody holds the row any more: a lock that must not wait gets it.
    await database.db.transaction(async (tx) => {
      await tx.execute(sql`select id from users where id = ${userId} for update nowait`);
    });
    expect(logText).toContain("did not answer a token renewal in time");
    expect(logText).not.toContain(signedIn.refresh_token!);
  });

  it("logs that the renewal is lost when GitHub rotated the tokens but saving them failed", async () => {
    // The attack on our bookkeeping: the database refuses the update after GitHub answered.
    await database.db.execute(sql`
      create or replace function refuse_token_update() returns trigger language plpgsql as
      $$ begin raise exception 'disk full (test)'; end $$`);
    await database.db.execute(sql`
      create trigger refuse_token_update before update on users
      for each row execute function refuse_token_update()`);
    try {
      const error = await readGitHubToken(
        database.db,
        keyring,
        settingsFor(stand.standIn.url),
        userId,
        { logger },
      ).catch((caught: unknown) => caught);
      expect(error).toMatchObject({
        code: "UNAUTHORIZED",
        message: expect.stringContaining("could not be saved"),
      });
      expect(logText).toContain("the renewal is lost");
      expect(logText).toContain(userId);
      expect(logText).not.toMatch(/gh[usr]_/);
      // GitHub did spend the old refresh token: only a new sign-in helps.
      const reuse = await exchangeCode(stand.standIn, {
        grant_type: "refresh_token",
        refresh_token: signedIn.refresh_token!,
      });
      expect(reuse).toMatchObject({ error: "bad_refresh_token" });
    } finally {
      await database.db.execute(sql`drop trigger refuse_token_update on users`);
    }
  });

  it("renews and saves when GitHub answers", async () => {
    const token = await readGitHubToken(
      database.db,
      keyring,
      settingsFor(stand.standIn.url),
      userId,
      { logger },
    );
    expect(token).toMatch(/^ghu_/);
    expect(token).not.toBe(signedIn.access_token);
    expect(logText).toBe("");
  });
});
