import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { workspaceCostPeriods, workspaces } from "../../db/schema.ts";
import type { AuthenticatedUser } from "../auth/request-auth.ts";
import type { AppLoadContextValue } from "../http/load-context.ts";
import { createTestLoadContext } from "../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { createTestUser } from "../testing/test-users.ts";
import { clipToMonth, monthStartOf, summarizeMonthCost } from "./month-costs.ts";

// The list's month total: this month's part of every server and volume of the owner's,
// deleted workspaces too, and nobody else's.

let database: TestDatabase;
let context: AppLoadContextValue;
let alice: AuthenticatedUser;
let bob: AuthenticatedUser;
const now = new Date("2026-12-03T12:00:00Z");
const at = (iso: string) => new Date(iso);

beforeAll(async () => {
  database = await createTestDatabase();
  context = await createTestLoadContext(database);
  [alice, bob] = await Promise.all([
    createTestUser(context, "month-alice"),
    createTestUser(context, "month-bob"),
  ]);
});
afterAll(async () => {
  await database?.drop();
});

async function serverPeriod(user: AuthenticatedUser, name: string, from: Date, to: Date | null) {
  const [workspace] = await database.db
    .insert(workspaces)
    .values({
      ...{ userId: user.id, name, repository: "stand-in/sample", branch: "main" },
      ...{ provider: "hetzner" as const, serverType: "cpx22", location: "fsn1" },
      idleTimeoutMinutes: 30,
      deletedAt: to,
    })
    .returning();
  await database.db.insert(workspaceCostPeriods).values({
    workspaceId: workspace!.id,
    ...{ resource: "server" as const, resourceId: name, serverType: "cpx22", location: "fsn1" },
    ...{ priceHourly: 1, priceMonthly: 1_000, currency: "EUR", startedAt: from, endedAt: to },
  });
}

describe("the month's cost", () => {
  it("starts on the first of the month, UTC", () => {
    expect(monthStartOf(now).toISOString()).toBe("2026-12-01T00:00:00.000Z");
  });

  it("counts only the part of each period inside the month", () => {
    const period = {
      resource: "server" as const,
      sizeGb: null,
      priceHourly: 1,
      priceMonthly: null,
      currency: "EUR",
    };
    const since = monthStartOf(now);
    const clipped = clipToMonth(
      [
        { ...period, startedAt: at("2026-11-30T22:00:00Z"), endedAt: at("2026-12-01T02:00:00Z") },
        { ...period, startedAt: at("2026-11-01T00:00:00Z"), endedAt: at("2026-11-02T00:00:00Z") },
        { ...period, startedAt: at("2026-12-03T10:00:00Z"), endedAt: null },
      ],
      since,
      now,
    );
    expect(clipped.map((one) => [one.startedAt.toISOString(), one.endedAt?.toISOString()])).toEqual(
      [
        ["2026-12-01T00:00:00.000Z", "2026-12-01T02:00:00.000Z"],
        ["2026-12-03T10:00:00.000Z", "2026-12-03T12:00:00.000Z"],
      ],
    );
  });

  it("adds the owner's workspaces, deleted ones included, and no one else's", async () => {
    await serverPeriod(alice, "running", at("2026-12-03T09:00:00Z"), null);
    await serverPeriod(alice, "gone", at("2026-11-30T23:00:00Z"), at("2026-12-01T01:00:00Z"));
    await serverPeriod(alice, "last-month", at("2026-11-01T00:00:00Z"), at("2026-11-05T00:00:00Z"));
    await serverPeriod(bob, "bobs", at("2026-12-01T00:00:00Z"), null);
    const owner = { userId: alice.id, auditSubject: alice.auditSubject };
    expect(await summarizeMonthCost(database.db, owner, now)).toEqual({
      since: at("2026-12-01T00:00:00Z"),
      currency: "EUR",
      // 3 hours running this morning + 1 hour of the deleted one after midnight.
      total: 4,
      complete: true,
    });
  });
});
