import { and, eq } from "drizzle-orm";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditLog, workspaces } from "../../../db/schema.ts";
import { terminalAudience } from "../../../protocol/agent-protocol.ts";
import type { AuthenticatedUser } from "../../auth/request-auth.ts";
import type { AppLoadContextValue } from "../../http/load-context.ts";
import { readJwks } from "../../services/signing-keys.ts";
import { transitionWorkspace } from "../../services/workspaces.ts";
import { createTestLoadContext } from "../../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../../testing/test-database.ts";
import { callerFor, createTestUser } from "../../testing/test-users.ts";

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
  const created = await callerFor(context, alice).workspaces.create({
    name: "term",
    repository: "stand-in/sample",
    branch: "main",
  });
  workspaceId = created.id;
});
afterAll(() => database.drop());

async function makeRunning(id: string) {
  await transitionWorkspace(database.db, id, "booting", "test", "system");
  await transitionWorkspace(database.db, id, "running", "test", "system");
  await database.db.update(workspaces).set({ agentUrl }).where(eq(workspaces.id, id));
}

describe("terminal.token", () => {
  it("refuses a workspace that is not running, saying what to wait for", async () => {
    await expect(callerFor(context, alice).terminal.token({ workspaceId })).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringContaining('"term" is provisioning'),
    });
  });

  it("gives the owner a link to the agent whose token carries the right claims", async () => {
    await makeRunning(workspaceId);
    const { url, expiresAt } = await callerFor(context, alice).terminal.token({ workspaceId });
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

    const audits = await database.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.action, "terminal.open"), eq(auditLog.targetId, workspaceId)));
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({ actorSubject: alice.auditSubject, targetType: "workspace" });
  });

  it("answers NOT_FOUND for another user's workspace, and records nothing", async () => {
    await expect(callerFor(context, bob).terminal.token({ workspaceId })).rejects.toMatchObject({
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
    await expect(
      callerFor(context, alice).terminal.token({ workspaceId: "not-a-uuid" }),
    ).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringContaining("workspace id"),
    });
  });
});
