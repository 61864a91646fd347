import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeHetzner, type FakeHetzner } from "../../e2e/fakes/hetzner.ts";
import { createTestLoadContext } from "../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { callerFor, createTestUser } from "../testing/test-users.ts";
import { forgetCatalogues } from "../services/catalogue.ts";
import type { OutboundRequestObserver } from "./outbound-requests.ts";

// The web's own requests to Hetzner (saving a token checks it; the catalogue reads the
// project's offers) reach the observer the load context carries: its /metrics counts them.

let database: TestDatabase;
let hetzner: FakeHetzner;
beforeAll(async () => {
  database = await createTestDatabase();
  hetzner = await startFakeHetzner({ token: "h".repeat(64) });
});
afterAll(async () => {
  await hetzner.close();
  await database.drop();
});

describe("the web's requests to Hetzner", () => {
  it("are told to the load context's observer", async () => {
    const seen: string[] = [];
    const observe: OutboundRequestObserver = ({ provider, status }) =>
      void seen.push(`${provider} ${status ?? "none"}`);
    const context = await createTestLoadContext(
      database,
      {},
      { WORKSPACE_PROVIDER: "hetzner", HETZNER_API_URL: hetzner.url },
    );
    context.observeOutboundRequest = observe;
    const api = callerFor(context, await createTestUser(context, "observed"));
    await api.credentials.hetzner.set({ token: hetzner.token });
    const afterSave = seen.length;
    expect(afterSave).toBeGreaterThan(0);
    forgetCatalogues();
    await api.catalogue.list();
    expect(seen.length).toBeGreaterThan(afterSave);
    // The token check writes too (it must be a Read & Write token): 201s and 204s as well.
    expect(seen).toContain("hetzner 200");
    expect(seen.every((entry) => /^hetzner 2\d\d$/.test(entry))).toBe(true);
  });
});
