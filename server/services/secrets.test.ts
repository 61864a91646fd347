import { and, desc, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditLog, secrets, workspaces, type WorkspaceState } from "../../db/schema.ts";
import type { AppLoadContextValue } from "../http/load-context.ts";
import { createTestLoadContext } from "../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { createTestUser } from "../testing/test-users.ts";
import type { Owner } from "./owner.ts";
import {
  assertSecretsExist,
  deleteSecret,
  listSecrets,
  maxSecretsPerUser,
  readWorkspaceSecrets,
  setSecret,
} from "./secrets.ts";

// The secrets service over a real database: values only ever come out decrypted for the agent
// of a live workspace that gets them, and the audit trail names secrets, never their values.

let database: TestDatabase;
let context: AppLoadContextValue;
let alice: Owner;
let bob: Owner;

beforeAll(async () => {
  database = await createTestDatabase();
  context = await createTestLoadContext(database);
  const ownerOf = async (login: string) => {
    const user = await createTestUser(context, login);
    return { userId: user.id, auditSubject: user.auditSubject };
  };
  alice = await ownerOf("alice");
  bob = await ownerOf("bob");
});
afterAll(() => database.drop());

const set = (owner: Owner, name: string, value: string) =>
  setSecret(context.db, context.keyring, owner, { name, value });

async function workspaceOf(
  owner: Owner,
  state: WorkspaceState,
  secretNames: string[] | null = null,
) {
  const [row] = await context.db
    .insert(workspaces)
    .values({
      userId: owner.userId,
      name: `ws-${Math.random().toString(36).slice(2, 8)}`,
      repository: "stand-in/sample",
      branch: "main",
      provider: "local",
      serverType: "local",
      location: "local",
      idleTimeoutMinutes: 30,
      state,
      secretNames,
    })
    .returning();
  return row!;
}

const lastAudit = async (action: string) => {
  const [row] = await context.db
    .select()
    .from(auditLog)
    .where(eq(auditLog.action, action))
    .orderBy(desc(auditLog.id))
    .limit(1);
  return row;
};

describe("secrets", () => {
  it("stores only an envelope bound to the row, lists names and dates, replaces in place", async () => {
    const first = await set(alice, "OPENAI_API_KEY", "sk-first-value");
    expect(Object.keys(first).sort()).toEqual(["createdAt", "name", "updatedAt"]);
    const [row] = await context.db
      .select()
      .from(secrets)
      .where(and(eq(secrets.userId, alice.userId), eq(secrets.name, "OPENAI_API_KEY")));
    expect(row!.valueEncrypted).not.toContain("sk-first-value");
    // Moved to another row, the envelope no longer opens: it is bound to its id.
    const moved = await workspaceOf(alice, "running", ["MOVED"]);
    await context.db.insert(secrets).values({
      userId: alice.userId,
      name: "MOVED",
      valueEncrypted: row!.valueEncrypted,
    });
    await expect(readWorkspaceSecrets(context.db, context.keyring, moved)).rejects.toThrow();
    await context.db
      .delete(secrets)
      .where(and(eq(secrets.userId, alice.userId), eq(secrets.name, "MOVED")));

    const replaced = await set(alice, "OPENAI_API_KEY", "sk-second-value");
    expect(replaced.createdAt).toEqual(first.createdAt);
    expect((await lastAudit("secret.set"))!).toMatchObject({
      actorSubject: alice.auditSubject,
      targetId: "OPENAI_API_KEY",
      details: { replaced: true },
    });
    const listed = await listSecrets(context.db, alice);
    expect(listed.map((secret) => secret.name)).toEqual(["OPENAI_API_KEY"]);
    expect(JSON.stringify(listed)).not.toContain("sk-");
    expect(await listSecrets(context.db, bob)).toEqual([]);
  });

  it("refuses bad names and values with the rule broken, never echoing the value", async () => {
    for (const name of ["lower", "1ST", "PATH", "CAW_SESSION", "A-B"])
      await expect(set(alice, name, "v")).rejects.toMatchObject({ code: "BAD_REQUEST" });
    const refused = await set(alice, "GOOD_NAME", "bad\0value-marker").catch((e: Error) => e);
    expect((refused as Error).message).toContain("NUL");
    expect((refused as Error).message).not.toContain("value-marker");
    await expect(set(alice, "EMPTY", "")).rejects.toThrow(/needs a value/);
  });

  it("deletes (audited) and says NOT_FOUND for a name the user does not have", async () => {
    await set(bob, "TO_DELETE", "x");
    await expect(deleteSecret(context.db, alice, "TO_DELETE")).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    expect(await deleteSecret(context.db, bob, "TO_DELETE")).toEqual({ name: "TO_DELETE" });
    expect(await lastAudit("secret.delete")).toMatchObject({
      actorSubject: bob.auditSubject,
      targetId: "TO_DELETE",
    });
    expect(await listSecrets(context.db, bob)).toEqual([]);
  });

  it(`keeps at most ${maxSecretsPerUser} per user, and still replaces at the limit`, async () => {
    const carol = await createTestUser(context, "carol");
    const owner = { userId: carol.id, auditSubject: carol.auditSubject };
    await Promise.all(
      Array.from({ length: maxSecretsPerUser }, (_, i) => set(owner, `KEY_${i}`, `v${i}`)),
    );
    await expect(set(owner, "ONE_TOO_MANY", "v")).rejects.toMatchObject({
      code: "PRECONDITION_FAILED",
      message: expect.stringContaining("Delete one"),
    });
    await expect(set(owner, "KEY_0", "new")).resolves.toMatchObject({ name: "KEY_0" });
  });

  it("refuses a selection naming the secrets the user does not have", async () => {
    await set(alice, "ANTHROPIC_API_KEY", "a");
    await set(bob, "BOBS_ONLY", "b");
    await expect(
      assertSecretsExist(context.db, alice, ["ANTHROPIC_API_KEY"]),
    ).resolves.toBeUndefined();
    await expect(
      assertSecretsExist(context.db, alice, ["ANTHROPIC_API_KEY", "BOBS_ONLY", "NOPE"]),
    ).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringContaining("no secret named BOBS_ONLY, NOPE"),
    });
  });
});

describe("readWorkspaceSecrets", () => {
  beforeAll(async () => {
    await set(alice, "ALPHA", "alpha-value");
    await set(alice, "BETA", "beta-value");
    await set(bob, "ALPHA", "bobs-alpha");
  });

  it("answers all of the owner's secrets when the workspace gets all, audited by name", async () => {
    const workspace = await workspaceOf(alice, "running");
    const answer = await readWorkspaceSecrets(context.db, context.keyring, workspace);
    expect(answer).toMatchObject({ ALPHA: "alpha-value", BETA: "beta-value" });
    expect(answer).not.toHaveProperty("BOBS_ONLY");
    const audit = await lastAudit("secret.read");
    expect(audit).toMatchObject({
      actorSubject: alice.auditSubject,
      targetType: "workspace",
      targetId: workspace.id,
      details: { names: Object.keys(answer).join(","), by: "agent" },
    });
    expect(JSON.stringify(audit)).not.toContain("alpha-value");
  });

  it("answers only the chosen subset; a chosen name deleted since is simply absent", async () => {
    await set(alice, "GONE_SOON", "g");
    const workspace = await workspaceOf(alice, "booting", ["BETA", "GONE_SOON"]);
    await deleteSecret(context.db, alice, "GONE_SOON");
    expect(await readWorkspaceSecrets(context.db, context.keyring, workspace)).toEqual({
      BETA: "beta-value",
    });
    const none = await workspaceOf(alice, "running", []);
    expect(await readWorkspaceSecrets(context.db, context.keyring, none)).toEqual({});
  });

  it.each<WorkspaceState>(["provisioning", "stopping", "stopped", "error", "deleting"])(
    "refuses a %s workspace with FORBIDDEN",
    async (state) => {
      const workspace = await workspaceOf(alice, state);
      await expect(
        readWorkspaceSecrets(context.db, context.keyring, workspace),
      ).rejects.toMatchObject({
        code: "FORBIDDEN",
        message: expect.stringContaining(`The workspace is ${state}`),
      });
    },
  );
});
