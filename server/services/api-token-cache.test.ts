import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, type DatabaseHandle } from "../../db/client.ts";
import { users } from "../../db/schema.ts";
import { createCredentialCache, type CredentialCache } from "../auth/credential-cache.ts";
import type { AuthenticatedUser } from "../auth/request-auth.ts";
import type { AppLoadContextValue } from "../http/load-context.ts";
import { createLogger } from "../logger.ts";
import { createTestLoadContext } from "../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { createTestUser } from "../testing/test-users.ts";
import { authenticateApiToken, createApiToken, revokeApiToken } from "./api-tokens.ts";
import { createLiveUpdates, type LiveUpdates } from "./live-updates.ts";

// ADR 0028 with a real PostgreSQL: a web process answers a token it saw from memory, and
// forgets it as soon as another process revokes it or changes its user (migration 0010's
// NOTIFY, heard on the live-updates connection), or when that connection is lost.

let database: TestDatabase;
let otherProcess: DatabaseHandle;
let context: AppLoadContextValue;
let hub: LiveUpdates;
let cache: CredentialCache;
let ada: AuthenticatedUser;

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

beforeAll(async () => {
  database = await createTestDatabase();
  otherProcess = createDb(database.url, { max: 2 });
  hub = createLiveUpdates({
    databaseUrl: database.url,
    logger: createLogger({ level: "silent", service: "test" }),
    retryDelaysMs: [50, 100, 200],
  });
  // A TTL far beyond the waits below: what ends a cached token here is the notification.
  cache = createCredentialCache({ isListening: hub.isListening, ttlMs: 600_000 });
  hub.onCredentialChange(cache.apply);
  context = await createTestLoadContext(database);
  ada = await createTestUser(context, "cache-ada");
  await until(() => hub.isListening());
});
afterAll(async () => {
  await hub?.close();
  await otherProcess?.close();
  await database?.drop();
});

const owner = () => ({ userId: ada.id, auditSubject: ada.auditSubject });
const newToken = async (name: string) =>
  createApiToken(database.db, owner(), { name }, { limit: 50 });

/** Deletes the token's row without telling anyone (triggers off), as a lost notification would. */
async function deleteSilently(tokenId: string) {
  await database.sql.begin(async (sql) => {
    await sql`set local session_replication_role = replica`;
    await sql`delete from api_tokens where id = ${tokenId}`;
  });
}

describe("API tokens held by a web process", () => {
  it("are answered from memory once seen, with their user", async () => {
    const { id, token } = await newToken("memory");
    const first = await authenticateApiToken(database.db, token, cache);
    expect(first).toMatchObject({ tokenId: id, user: { id: ada.id, login: "cache-ada" } });
    await deleteSilently(id);
    // Only memory can still answer it now; without the cache the database says no.
    expect((await authenticateApiToken(database.db, token, cache))?.tokenId).toBe(id);
    expect(await authenticateApiToken(database.db, token)).toBeNull();
  });

  it("end as soon as another process revokes them", async () => {
    const { id, token } = await newToken("revoked elsewhere");
    expect(await authenticateApiToken(database.db, token, cache)).not.toBeNull();
    await revokeApiToken(otherProcess.db, owner(), id);
    await until(async () => (await authenticateApiToken(database.db, token, cache)) === null);
  });

  it("show a change of their user made by another process", async () => {
    const { token } = await newToken("renamed user");
    expect((await authenticateApiToken(database.db, token, cache))?.user.login).toBe("cache-ada");
    await otherProcess.db.update(users).set({ login: "cache-ada-2" }).where(eq(users.id, ada.id));
    await until(
      async () =>
        (await authenticateApiToken(database.db, token, cache))?.user.login === "cache-ada-2",
    );
  });

  it("are all forgotten when the connection that hears changes is lost", async () => {
    const { id, token } = await newToken("lost connection");
    expect(await authenticateApiToken(database.db, token, cache)).not.toBeNull();
    await deleteSilently(id);
    const heard: string[] = [];
    const stop = hub.onCredentialChange((change) => heard.push(change.type));
    const [cut] = await database.sql<{ cut: boolean }[]>`
      select pg_terminate_backend(pid) as cut from pg_stat_activity
      where application_name = 'caw-web-live' and datname = current_database()`;
    expect(cut?.cut).toBe(true);
    // Down, then back: either way what it held may be stale, and is gone.
    await until(() => heard.includes("forget-all") && hub.isListening());
    stop();
    expect(await authenticateApiToken(database.db, token, cache)).toBeNull();
  });
});
