import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startFakeHetzner, type FakeHetzner } from "../../e2e/fakes/hetzner.ts";
import type { AuthenticatedUser } from "../auth/request-auth.ts";
import { AppError } from "../errors.ts";
import type { AppLoadContextValue } from "../http/load-context.ts";
import { localCatalogue } from "../providers/local-catalogue.ts";
import type { Catalogue } from "../providers/provider.ts";
import { createTestLoadContext } from "../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { createTestUser } from "../testing/test-users.ts";
import {
  catalogueTtlMs,
  findOffer,
  forgetCatalogues,
  listCatalogue,
  readCachedCatalogue,
} from "./catalogue.ts";
import { setCredential } from "./credentials.ts";

// The catalogue service over a real database and the fake Hetzner: one load per token for
// a few minutes, a fresh one for a new token, and the check a create goes through.

const token = "A".repeat(40) + "catalogue";
let database: TestDatabase;
let context: AppLoadContextValue;
let fake: FakeHetzner;
let alice: AuthenticatedUser;
let bob: AuthenticatedUser;

const ownerOf = (user: AuthenticatedUser) => ({
  userId: user.id,
  auditSubject: user.auditSubject,
});
const saveToken = (user: AuthenticatedUser, value = token) =>
  setCredential(context.db, context.keyring, ownerOf(user), {
    provider: "hetzner",
    token: value,
    validate: async () => {},
  });
const settings = () => ({ provider: "hetzner" as const, hetznerApiUrl: fake.url });
const pricingRequests = () => fake.state.requests.filter((entry) => entry.path === "/v1/pricing");

beforeAll(async () => {
  database = await createTestDatabase();
  context = await createTestLoadContext(database);
  fake = await startFakeHetzner({ token });
  alice = await createTestUser(context, "alice");
  bob = await createTestUser(context, "bob");
  await saveToken(alice);
});
afterAll(async () => {
  await fake?.close();
  await database?.drop();
});
beforeEach(() => forgetCatalogues());

describe("catalogue cache", () => {
  it("asks Hetzner once per token within a few minutes", async () => {
    const before = pricingRequests().length;
    const first = await listCatalogue(context.db, context.keyring, ownerOf(alice), settings());
    const second = await listCatalogue(context.db, context.keyring, ownerOf(alice), settings());
    expect(second).toBe(first);
    expect(pricingRequests().length - before).toBe(1);
    expect(first.offers.some((offer) => offer.serverType === "cx23")).toBe(true);
  });

  it("loads again once the entry is older than its time to live", async () => {
    let loads = 0;
    const load = async (): Promise<Catalogue> => ({
      ...localCatalogue,
      offers: [],
      currency: `n${++loads}`,
    });
    const at = 1_000_000;
    await readCachedCatalogue(context.db, alice.id, load, at);
    await readCachedCatalogue(context.db, alice.id, load, at + catalogueTtlMs - 1);
    expect(loads).toBe(1);
    const later = await readCachedCatalogue(context.db, alice.id, load, at + catalogueTtlMs);
    expect(loads).toBe(2);
    expect(later.currency).toBe("n2");
  });

  it("starts afresh when the token is replaced, and never shares an entry between users", async () => {
    let loads = 0;
    const load = async (): Promise<Catalogue> => ({ ...localCatalogue, currency: `n${++loads}` });
    await readCachedCatalogue(context.db, alice.id, load);
    await saveToken(alice, "B".repeat(40));
    expect((await readCachedCatalogue(context.db, alice.id, load)).currency).toBe("n2");
    await saveToken(bob);
    expect((await readCachedCatalogue(context.db, bob.id, load)).currency).toBe("n3");
    await saveToken(alice);
  });

  it("keeps no failed load, and says what to do without a token", async () => {
    let loads = 0;
    const failing = async (): Promise<Catalogue> => {
      loads += 1;
      throw new Error("Hetzner did not answer");
    };
    await expect(readCachedCatalogue(context.db, alice.id, failing)).rejects.toThrow(
      "did not answer",
    );
    await expect(readCachedCatalogue(context.db, alice.id, failing)).rejects.toThrow(
      "did not answer",
    );
    expect(loads).toBe(2);
    const carol = await createTestUser(context, "carol");
    const refused = await listCatalogue(
      context.db,
      context.keyring,
      ownerOf(carol),
      settings(),
    ).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AppError);
    expect(refused).toMatchObject({ code: "PRECONDITION_FAILED" });
    expect((refused as Error).message).toContain("Settings");
  });

  it("answers the local catalogue without asking anybody", async () => {
    const before = fake.state.requests.length;
    const local = await listCatalogue(context.db, context.keyring, ownerOf(bob), {
      provider: "local",
      hetznerApiUrl: fake.url,
    });
    expect(local.offers).toEqual([{ serverType: "local", location: "local", price: null }]);
    expect(local.currency).toBeNull();
    expect(fake.state.requests.length).toBe(before);
  });
});

describe("offer check", () => {
  const catalogue = () => listCatalogue(context.db, context.keyring, ownerOf(alice), settings());
  const messageOf = async (type: string, location: string) => {
    try {
      findOffer(await catalogue(), type, location);
    } catch (error) {
      expect(error).toMatchObject({ code: "BAD_REQUEST" });
      return (error as Error).message;
    }
    throw new Error(`expected ${type} in ${location} to be refused`);
  };

  it("finds an offered combination with its price", async () => {
    expect(findOffer(await catalogue(), "cpx22", "sin").price?.hourly).toBeGreaterThan(0);
  });

  it("names where a type is offered when it is not offered in the chosen location", async () => {
    const message = await messageOf("cax11", "ash");
    expect(message).toContain("cax11 is not available in ash; it is offered in fsn1, nbg1, hel1.");
    expect(message).toContain("In ash you can order cpx12");
  });

  it("says a retired type can no longer be ordered, and an unknown one is not a type", async () => {
    expect(await messageOf("cx22", "fsn1")).toContain(
      "cx22 can no longer be ordered in any location (deprecated; no new servers after 2026-01-01)",
    );
    expect(await messageOf("cx99", "fsn1")).toMatch(
      /^cx99 is not a server type of your Hetzner project; choose one of cx23, /,
    );
    expect(await messageOf("cx23", "mars1")).toBe(
      "mars1 is not a Hetzner location; cx23 is offered in fsn1, nbg1, hel1.",
    );
  });
});
