import { createHash, randomBytes } from "node:crypto";
import { and, eq } from "drizzle-orm";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditLog, sessions, terminalGrants, workspaces } from "../../../db/schema.ts";
import { terminalAudience, terminalCookieMaxAgeSeconds } from "../../../protocol/agent-protocol.ts";
import type { AuthenticatedUser } from "../../auth/request-auth.ts";
import type { AppLoadContextValue } from "../../http/load-context.ts";
import { readJwks } from "../../services/signing-keys.ts";
import { transitionWorkspace } from "../../services/workspaces.ts";
import { createTestLoadContext } from "../../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../../testing/test-database.ts";
import { callerFor, createTestUser } from "../../testing/test-users.ts";
import { createCallerFactory } from "../init.ts";
import { appRouter } from "../root.ts";

let database: TestDatabase;
let context: AppLoadContextValue;
let alice: AuthenticatedUser;
let bob: AuthenticatedUser;
let workspaceId: string;

const publicUrl = "https://control.example.test";
const agentUrl = "http://127.0.0.1:48123";

beforeAll(async () => {
  database = await createTestDatabase();
  context = await createTestLoadContext(database, {}, { PUBLIC_URL: publicUrl });
  alice = await createTestUser(context, "alice");
  bob = await createTestUser(context, "bob");
  // Inserted as the create job would leave it (create itself is tested with workspaces).
  const [created] = await database.db
    .insert(workspaces)
    .values({
      userId: alice.id,
      name: "term",
      repository: "stand-in/sample",
      branch: "main",
      provider: "local",
      serverType: "local",
      location: "local",
      idleTimeoutMinutes: 30,
      state: "provisioning",
    })
    .returning();
  workspaceId = created!.id;
});
afterAll(() => database.drop());

/** The API as `user` signed in by a real (stored) browser session. */
async function signedInCaller(user: AuthenticatedUser) {
  const sessionId = createHash("sha256").update(randomBytes(32)).digest("hex");
  await database.db
    .insert(sessions)
    .values({ id: sessionId, userId: user.id, expiresAt: new Date(Date.now() + 3_600_000) });
  const caller = createCallerFactory(appRouter)({
    ...context,
    request: new Request("http://localhost/api/trpc"),
    auth: { user, via: "session", sessionId, cookies: [] },
  });
  return { caller, sessionId };
}

/** The API as `user` calling with one of their API tokens. */
async function tokenCaller(user: AuthenticatedUser) {
  const { caller } = await signedInCaller(user);
  const { id: tokenId } = await caller.tokens.create({ name: "terminal test" });
  return {
    caller: createCallerFactory(appRouter)({
      ...context,
      request: new Request("http://localhost/api/trpc"),
      auth: { user, via: "token", sessionId: null, tokenId, cookies: [] },
    }),
    tokenId,
  };
}

async function makeRunning(id: string) {
  await transitionWorkspace(database.db, id, "booting", "test", "system");
  await transitionWorkspace(database.db, id, "running", "test", "system");
  await database.db.update(workspaces).set({ agentUrl }).where(eq(workspaces.id, id));
}

describe("terminal.token", () => {
  it("refuses a workspace that is not running, saying what to wait for", async () => {
    const { caller } = await signedInCaller(alice);
    await expect(caller.terminal.token({ workspaceId })).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining('"term" is provisioning'),
    });
  });

  it("gives the owner a link to the agent whose token carries the right claims", async () => {
    await makeRunning(workspaceId);
    const { caller, sessionId } = await signedInCaller(alice);
    const { url, expiresAt } = await caller.terminal.token({ workspaceId });
    const link = new URL(url);
    expect(`${link.origin}${link.pathname}`).toBe(`${agentUrl}/`);
    expect([...link.searchParams.keys()]).toEqual(["token"]);
    const token = link.searchParams.get("token")!;

    const jwks = createLocalJWKSet(await readJwks(database.db));
    const { payload } = await jwtVerify(token, jwks, {
      algorithms: ["RS256"],
      issuer: publicUrl,
      audience: terminalAudience,
    });
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: "RS256", kid: expect.any(String) });
    expect(payload).toMatchObject({ sub: alice.id, workspace: workspaceId, aud: terminalAudience });
    expect(payload.nbf).toBe(payload.iat);
    expect(payload.exp! - payload.iat!).toBe(300);
    expect(expiresAt.getTime()).toBe(payload.exp! * 1000);

    // The link's grant: its id is the jti, tied to the session that asked, for the cookie's life.
    const grants = await database.db
      .select()
      .from(terminalGrants)
      .where(eq(terminalGrants.id, payload.jti!));
    expect(grants).toEqual([
      expect.objectContaining({
        workspaceId,
        userId: alice.id,
        sessionId,
        apiTokenId: null,
        expiresAt: new Date((payload.exp! + terminalCookieMaxAgeSeconds) * 1000),
      }),
    ]);

    const audits = await database.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.action, "terminal.open"), eq(auditLog.targetId, workspaceId)));
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({ actorSubject: alice.auditSubject, targetType: "workspace" });
  });

  it("ties the grant of an API token's link to that token, and each link has its own", async () => {
    const { caller, tokenId } = await tokenCaller(alice);
    const links = await Promise.all([
      caller.terminal.token({ workspaceId }),
      caller.terminal.token({ workspaceId }),
    ]);
    const jtis = links.map(({ url }) => {
      const token = new URL(url).searchParams.get("token")!;
      return (
        JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as {
          jti: string;
        }
      ).jti;
    });
    expect(new Set(jtis).size).toBe(2);
    const rows = await database.db
      .select()
      .from(terminalGrants)
      .where(eq(terminalGrants.apiTokenId, tokenId));
    expect(rows.map((row) => row.id).sort()).toEqual([...jtis].sort());
    expect(rows.every((row) => row.sessionId === null)).toBe(true);
  });

  it("refuses a caller whose session or token it cannot tell (no grant to end later)", async () => {
    const before = await database.db.select().from(terminalGrants);
    await expect(callerFor(context, alice).terminal.token({ workspaceId })).rejects.toMatchObject({
      code: "UNAUTHORIZED",
      message: expect.stringContaining("Sign in again"),
    });
    expect(await database.db.select().from(terminalGrants)).toHaveLength(before.length);
  });

  it("answers NOT_FOUND for another user's workspace, and records nothing", async () => {
    const { caller } = await signedInCaller(bob);
    await expect(caller.terminal.token({ workspaceId })).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    const audits = await database.db
      .select()
      .from(auditLog)
      .where(eq(auditLog.actorSubject, bob.auditSubject));
    expect(audits.filter((row) => row.action === "terminal.open")).toEqual([]);
  });

  it("needs a signed-in caller and a workspace id", async () => {
    await expect(callerFor(context, null).terminal.token({ workspaceId })).rejects.toMatchObject({
      code: "UNAUTHORIZED",
    });
    const { caller } = await signedInCaller(alice);
    await expect(caller.terminal.token({ workspaceId: "not-a-uuid" })).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringContaining("workspace id"),
    });
  });
});
