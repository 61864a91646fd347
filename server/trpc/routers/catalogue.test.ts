import { count, eq } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { workspaceCostPeriods, workspaces } from "../../../db/schema.ts";
import { startFakeHetzner, type FakeHetzner } from "../../../e2e/fakes/hetzner.ts";
import type { AuthenticatedUser } from "../../auth/request-auth.ts";
import type { AppLoadContextValue } from "../../http/load-context.ts";
import { forgetCatalogues } from "../../services/catalogue.ts";
import { createTestLoadContext } from "../../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../../testing/test-database.ts";
import { callerFor, createTestUser } from "../../testing/test-users.ts";

// catalogue.list and catalogue.costs as a signed-in user calls them, and workspaces.create
// refusing what the catalogue does not offer, against the fake Hetzner.

const token = "D".repeat(56);
let database: TestDatabase;
let hetznerContext: AppLoadContextValue;
let localContext: AppLoadContextValue;
let fake: FakeHetzner;
let alice: AuthenticatedUser;

beforeAll(async () => {
  database = await createTestDatabase();
  fake = await startFakeHetzner({ token });
  hetznerContext = await createTestLoadContext(
    database,
    {},
    {
      WORKSPACE_PROVIDER: "hetzner",
      HETZNER_API_URL: fake.url,
    },
  );
  localContext = await createTestLoadContext(database);
  alice = await createTestUser(hetznerContext, "alice");
  await callerFor(hetznerContext, alice).credentials.hetzner.set({ token });
});
afterAll(async () => {
  await fake?.close();
  await database?.drop();
});
beforeEach(() => forgetCatalogues());

const input = (name: string, serverType: string, location: string) => ({
  name,
  repository: "stand-in/sample",
  branch: "main",
  serverType,
  location,
});

describe("catalogue.list", () => {
  it("answers the user's Hetzner catalogue: only orderable offers, each with its price", async () => {
    const catalogue = await callerFor(hetznerContext, alice).catalogue.list();
    expect(catalogue.currency).toBe("EUR");
    const cx23 = catalogue.offers.filter((offer) => offer.serverType === "cx23");
    expect(cx23.map((offer) => offer.location)).toEqual(["fsn1", "nbg1", "hel1"]);
    expect(cx23.every((offer) => (offer.price?.hourly ?? 0) > 0)).toBe(true);
    expect(catalogue.offers.some((offer) => offer.serverType === "cx22")).toBe(false);
  });

  it("answers the local catalogue with no price on the local provider", async () => {
    const catalogue = await callerFor(localContext, alice).catalogue.list();
    expect(catalogue.offers).toEqual([{ serverType: "local", location: "local", price: null }]);
    expect(catalogue.currency).toBeNull();
  });

  it("refuses anyone signed out", async () => {
    await expect(callerFor(hetznerContext, null).catalogue.list()).rejects.toMatchObject({
      code: "UNAUTHORIZED",
    });
  });
});

describe("workspaces.create against the catalogue", () => {
  it("refuses a type where Hetzner does not offer it, naming where it is, and writes nothing", async () => {
    const api = callerFor(hetznerContext, alice);
    const refused = api.workspaces.create(input("arm-in-ashburn", "cax11", "ash"));
    await expect(refused).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringContaining(
        "cax11 is not available in ash; it is offered in fsn1, nbg1, hel1.",
      ),
    });
    const [{ value } = { value: -1 }] = await database.db
      .select({ value: count() })
      .from(workspaces)
      .where(eq(workspaces.name, "arm-in-ashburn"));
    expect(value).toBe(0);
  });

  it("creates an offered combination, the defaults included", async () => {
    const api = callerFor(hetznerContext, alice);
    const created = await api.workspaces.create(input("arm-in-helsinki", "cax11", "hel1"));
    expect(created).toMatchObject({ serverType: "cax11", location: "hel1", provider: "hetzner" });
    const defaults = await api.workspaces.create({
      name: "defaults",
      repository: "stand-in/sample",
      branch: "main",
    });
    expect(defaults).toMatchObject({ serverType: "cx23", location: "fsn1" });
  });
});

describe("catalogue.costs", () => {
  it("answers each workspace's cost so far and per hour from its recorded periods", async () => {
    const api = callerFor(hetznerContext, alice);
    const [workspace] = await api.workspaces.list();
    const hour = 3_600_000;
    await database.db.insert(workspaceCostPeriods).values([
      {
        ...{ workspaceId: workspace!.id, resource: "server" as const, resourceId: "1" },
        ...{ serverType: "cx23", location: "fsn1", priceHourly: 0.01, priceMonthly: 5 },
        ...{ currency: "EUR", startedAt: new Date(Date.now() - 2 * hour) },
        endedAt: new Date(Date.now() - hour),
      },
      {
        ...{ workspaceId: workspace!.id, resource: "server" as const, resourceId: "2" },
        ...{ serverType: "cx23", location: "fsn1", priceHourly: 0.02, priceMonthly: 5 },
        ...{ currency: "EUR", startedAt: new Date(Date.now() - hour) },
      },
    ]);
    const costs = await api.catalogue.costs();
    const cost = costs.find((entry) => entry.workspaceId === workspace!.id);
    expect(cost).toMatchObject({ currency: "EUR", perHourNow: 0.02, complete: true });
    expect(cost!.total).toBeGreaterThanOrEqual(0.03 - 1e-9);
    const bob = await createTestUser(hetznerContext, "bob");
    expect(await callerFor(hetznerContext, bob).catalogue.costs()).toEqual([]);
  });
});
