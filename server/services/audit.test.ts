import { eq, inArray } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditLog } from "../../db/schema.ts";
import type { AuthenticatedUser } from "../auth/request-auth.ts";
import type { AppLoadContextValue } from "../http/load-context.ts";
import { createTestLoadContext } from "../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { callerFor, createTestUser } from "../testing/test-users.ts";
import { recordAuditEvent, verifyAuditChain } from "./audit.ts";

let database: TestDatabase;
let context: AppLoadContextValue;
let admin: AuthenticatedUser;
let alice: AuthenticatedUser;
let bob: AuthenticatedUser;

beforeAll(async () => {
  database = await createTestDatabase();
  context = await createTestLoadContext(database);
  admin = await createTestUser(context, "root"); // the first user of an install is an admin
  alice = await createTestUser(context, "alice");
  bob = await createTestUser(context, "bob");
  // Each leaves entries of their own: alice and bob make and revoke tokens.
  for (const user of [alice, bob]) {
    const api = callerFor(context, user);
    const { id } = await api.tokens.create({ name: `${user.login}'s` });
    await api.tokens.revoke({ id });
  }
});
afterAll(() => database.drop());

const subjectsOf = (entries: { id: number }[]) =>
  database.db
    .select({ subject: auditLog.actorSubject })
    .from(auditLog)
    .where(
      inArray(
        auditLog.id,
        entries.map((entry) => entry.id),
      ),
    );

describe("audit.list", () => {
  it("shows a member only their own entries, none of another member's", async () => {
    expect(admin.role).toBe("admin");
    expect(bob.role).toBe("member");
    const listed = await callerFor(context, bob).audit.list({ limit: 500 });
    expect(listed.length).toBeGreaterThanOrEqual(2);
    expect(listed.every((entry) => entry.mine)).toBe(true);
    const subjects = new Set((await subjectsOf(listed)).map((row) => row.subject));
    expect([...subjects]).toEqual([bob.auditSubject]);
    const aliceEntries = await database.db
      .select({ id: auditLog.id })
      .from(auditLog)
      .where(eq(auditLog.actorSubject, alice.auditSubject));
    expect(aliceEntries.length).toBeGreaterThanOrEqual(2);
    const listedIds = listed.map((entry) => entry.id);
    for (const { id } of aliceEntries) expect(listedIds).not.toContain(id);
  });

  it("shows an admin everyone's entries, marking which are theirs", async () => {
    const listed = await callerFor(context, admin).audit.list({ limit: 500 });
    const subjects = new Set((await subjectsOf(listed)).map((row) => row.subject));
    expect(subjects).toEqual(new Set([alice.auditSubject, bob.auditSubject]));
    expect(listed.some((entry) => entry.mine)).toBe(false);
  });
});

describe("audit.verify", () => {
  it("is for admins only", async () => {
    await expect(callerFor(context, bob).audit.verify()).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
  });

  it("detects a deleted row in the middle of the chain, naming the row after the gap", async () => {
    for (const action of ["test.one", "test.two", "test.three"])
      await recordAuditEvent(database.db, { actorSubject: admin.auditSubject, action });
    expect(await callerFor(context, admin).audit.verify()).toMatchObject({ valid: true });
    const rows = await database.db
      .select({ id: auditLog.id, action: auditLog.action })
      .from(auditLog)
      .where(inArray(auditLog.action, ["test.one", "test.two", "test.three"]))
      .orderBy(auditLog.id);
    await database.db.delete(auditLog).where(eq(auditLog.id, rows[1]!.id));
    expect(await verifyAuditChain(database.db)).toMatchObject({
      valid: false,
      brokenAtId: rows[2]!.id,
      problem: "an entry before this one was deleted or changed",
    });
    expect(await callerFor(context, admin).audit.verify()).toMatchObject({ valid: false });
  });
});
