import { createHash, randomBytes, randomUUID } from "node:crypto";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiTokens, sessions, terminalGrants, workspaces } from "../../db/schema.ts";
import type { AuthenticatedUser } from "../auth/request-auth.ts";
import type { AppLoadContextValue } from "../http/load-context.ts";
import { createTestLoadContext } from "../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { createTestUser } from "../testing/test-users.ts";
import { createApiToken, revokeApiToken } from "./api-tokens.ts";
import { purgeDeletedWorkspaces } from "./maintenance.ts";
import { createTerminalUrl, findEndedTerminalGrants } from "./terminal-access.ts";
import { deleteAccount } from "./users.ts";

// Which terminal grants still hold, as the heartbeat asks it, over a real database: each way
// a sign-in can end (SPEC §4) must end the grants of the links it asked for.

let database: TestDatabase;
let context: AppLoadContextValue;
let alice: AuthenticatedUser;
let bob: AuthenticatedUser;
let aliceWorkspace: { id: string; userId: string };
let bobWorkspace: { id: string; userId: string };

beforeAll(async () => {
  database = await createTestDatabase();
  context = await createTestLoadContext(database);
  alice = await createTestUser(context, "alice");
  bob = await createTestUser(context, "bob");
  aliceWorkspace = await insertRunningWorkspace(alice, "alice-ws");
  bobWorkspace = await insertRunningWorkspace(bob, "bob-ws");
});
afterAll(() => database.drop());

async function insertRunningWorkspace(user: AuthenticatedUser, name: string) {
  const [row] = await database.db
    .insert(workspaces)
    .values({
      userId: user.id,
      name,
      repository: "stand-in/sample",
      branch: "main",
      provider: "local",
      serverType: "local",
      location: "local",
      idleTimeoutMinutes: 30,
      state: "running",
      agentUrl: "http://127.0.0.1:1",
    })
    .returning();
  return { id: row!.id, userId: user.id };
}

const owner = (user: AuthenticatedUser) => ({ userId: user.id, auditSubject: user.auditSubject });

async function insertSession(user: AuthenticatedUser) {
  const id = createHash("sha256").update(randomBytes(32)).digest("hex");
  await database.db
    .insert(sessions)
    .values({ id, userId: user.id, expiresAt: new Date(Date.now() + 3_600_000) });
  return id;
}

/** A real link, as terminal.token makes it; answers its grant id (the jti). */
async function openTerminal(
  user: AuthenticatedUser,
  workspaceId: string,
  caller: { sessionId: string } | { apiTokenId: string },
) {
  const { url } = await createTerminalUrl(database.db, context.keyring, owner(user), workspaceId, {
    issuer: "https://control.example.test",
    ttlSeconds: 300,
    caller: { sessionId: null, apiTokenId: null, ...caller },
  });
  const payload = new URL(url).searchParams.get("token")!.split(".")[1]!;
  return (JSON.parse(Buffer.from(payload, "base64url").toString()) as { jti: string }).jti;
}

const ended = (workspace: { id: string; userId: string }, ids: string[]) =>
  findEndedTerminalGrants(database.db, workspace, ids);

describe("terminal grants", () => {
  it("hold while the session that asked is signed in, and end with it", async () => {
    const sessionId = await insertSession(alice);
    const otherSession = await insertSession(alice);
    const grant = await openTerminal(alice, aliceWorkspace.id, { sessionId });
    const other = await openTerminal(alice, aliceWorkspace.id, { sessionId: otherSession });
    expect(await ended(aliceWorkspace, [grant, other])).toEqual([]);
    await database.db.delete(sessions).where(eq(sessions.id, sessionId));
    expect(await ended(aliceWorkspace, [grant, other])).toEqual([grant]);
  });

  it("end when their session has expired, even before its row is cleaned up", async () => {
    const sessionId = await insertSession(alice);
    const grant = await openTerminal(alice, aliceWorkspace.id, { sessionId });
    await database.db
      .update(sessions)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(sessions.id, sessionId));
    expect(await ended(aliceWorkspace, [grant])).toEqual([grant]);
  });

  it("end when the API token that asked is revoked, expires or is deleted", async () => {
    const tokens = await Promise.all(
      ["revoked", "expired", "deleted", "kept"].map((name) =>
        createApiToken(database.db, owner(alice), { name }, { limit: 10 }),
      ),
    );
    const [revoked, expired, deleted, kept] = await Promise.all(
      tokens.map((token) => openTerminal(alice, aliceWorkspace.id, { apiTokenId: token.id })),
    );
    const all = [revoked!, expired!, deleted!, kept!];
    expect(await ended(aliceWorkspace, all)).toEqual([]);
    await revokeApiToken(database.db, owner(alice), tokens[0]!.id);
    await database.db
      .update(apiTokens)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(apiTokens.id, tokens[1]!.id));
    await database.db.delete(apiTokens).where(eq(apiTokens.id, tokens[2]!.id));
    expect((await ended(aliceWorkspace, all)).sort()).toEqual([revoked, expired, deleted].sort());
  });

  it("end when they expire, and the purge job drops them then", async () => {
    const sessionId = await insertSession(alice);
    const grant = await openTerminal(alice, aliceWorkspace.id, { sessionId });
    const live = await openTerminal(alice, aliceWorkspace.id, { sessionId });
    await database.db
      .update(terminalGrants)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(terminalGrants.id, grant));
    expect(await ended(aliceWorkspace, [grant, live])).toEqual([grant]);
    await purgeDeletedWorkspaces(database.db, 30);
    const left = await database.db.select({ id: terminalGrants.id }).from(terminalGrants);
    expect(left.map((row) => row.id)).not.toContain(grant);
    expect(left.map((row) => row.id)).toContain(live);
  });

  it("count only for their own workspace and its owner; unknown ids are ended", async () => {
    const grant = await openTerminal(bob, bobWorkspace.id, { sessionId: await insertSession(bob) });
    const unknown = randomUUID();
    // Alice's agent reporting Bob's grant (or one it made up) gets it back as ended.
    expect(await ended(aliceWorkspace, [grant, unknown])).toEqual([grant, unknown]);
    expect(await ended({ id: bobWorkspace.id, userId: alice.id }, [grant])).toEqual([grant]);
    expect(await ended(bobWorkspace, [grant, grant])).toEqual([]);
    // Nor does a grant of one of the owner's workspaces count for another of theirs.
    const second = await insertRunningWorkspace(bob, "bob-second");
    expect(await ended(second, [grant])).toEqual([grant]);
  });

  it("end with the account (deleted once its workspaces are)", async () => {
    const carol = await createTestUser(context, "carol");
    const workspace = await insertRunningWorkspace(carol, "carol-ws");
    const grant = await openTerminal(carol, workspace.id, {
      sessionId: await insertSession(carol),
    });
    await expect(deleteAccount(database.db, carol.id, "carol")).rejects.toMatchObject({
      code: "CONFLICT",
    });
    expect(await ended(workspace, [grant])).toEqual([]);
    await database.db
      .update(workspaces)
      .set({ state: "deleted", deletedAt: new Date() })
      .where(eq(workspaces.id, workspace.id));
    await deleteAccount(database.db, carol.id, "carol");
    expect(await ended(workspace, [grant])).toEqual([grant]);
    expect(
      await database.db.select().from(terminalGrants).where(eq(terminalGrants.id, grant)),
    ).toEqual([]);
  });
});
