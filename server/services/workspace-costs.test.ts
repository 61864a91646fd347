import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { workspaceCostPeriods, workspaces } from "../../db/schema.ts";
import { startFakeHetzner, type FakeHetzner } from "../../e2e/fakes/hetzner.ts";
import type { AuthenticatedUser } from "../auth/request-auth.ts";
import type { AppLoadContextValue } from "../http/load-context.ts";
import { createHetznerProvider } from "../providers/hetzner.ts";
import { managedByLabel, type Provider } from "../providers/provider.ts";
import { createTestLoadContext } from "../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { createTestUser } from "../testing/test-users.ts";
import { findOffer, forgetCatalogues, listCatalogue } from "./catalogue.ts";
import { setCredential } from "./credentials.ts";
import { listWorkspaceCosts, recordCostsOf } from "./workspace-costs.ts";

// The worker's provider, wrapped: each server and volume it orders becomes a cost period
// with the catalogue's price of the moment, ended when it is deleted or found gone.

const token = "C".repeat(48);
let database: TestDatabase;
let context: AppLoadContextValue;
let fake: FakeHetzner;
let alice: AuthenticatedUser;

beforeAll(async () => {
  database = await createTestDatabase();
  context = await createTestLoadContext(database);
  fake = await startFakeHetzner({ token });
  alice = await createTestUser(context, "alice");
  await setCredential(context.db, context.keyring, ownerOf(), {
    provider: "hetzner",
    token,
    validate: async () => {},
  });
  forgetCatalogues();
});
afterAll(async () => {
  await fake?.close();
  await database?.drop();
});

const ownerOf = () => ({ userId: alice.id, auditSubject: alice.auditSubject });

async function newWorkspace(name: string, serverType = "cpx22", location = "ash") {
  const [row] = await context.db
    .insert(workspaces)
    .values({
      ...{ userId: alice.id, name, repository: "stand-in/sample", branch: "main" },
      ...{ provider: "hetzner" as const, serverType, location, idleTimeoutMinutes: 30 },
    })
    .returning();
  return row!;
}

const hetzner = (): Provider =>
  createHetznerProvider({
    token,
    apiUrl: fake.url,
    timing: { sleep: async () => {}, actionPollMs: 0 },
  });
const periodsOf = (workspaceId: string) =>
  context.db
    .select()
    .from(workspaceCostPeriods)
    .where(eq(workspaceCostPeriods.workspaceId, workspaceId))
    .orderBy(workspaceCostPeriods.id);
const serverInput = (workspaceId: string, volumeIds: string[]) => ({
  name: `ws-${workspaceId}`,
  serverType: "cpx22",
  location: "ash",
  userData: "#cloud-config\n",
  labels: { ...managedByLabel, workspace: workspaceId },
  volumeIds,
});

describe("workspace cost periods", () => {
  it("records each server and volume with the price of its location when ordered", async () => {
    const workspace = await newWorkspace("priced");
    const provider = recordCostsOf(context.db, workspace, hetzner());
    const volume = await provider.createVolume({
      name: `ws-${workspace.id}`,
      sizeGb: 10,
      location: "ash",
      labels: { ...managedByLabel, workspace: workspace.id },
    });
    const server = await provider.createServer(serverInput(workspace.id, [volume.id]));
    const catalogue = await listCatalogue(context.db, context.keyring, ownerOf(), {
      provider: "hetzner",
      hetznerApiUrl: fake.url,
    });
    const price = findOffer(catalogue, "cpx22", "ash").price!;
    const [volumePeriod, serverPeriod] = await periodsOf(workspace.id);
    expect(volumePeriod).toMatchObject({
      resource: "volume",
      resourceId: volume.id,
      sizeGb: 10,
      priceMonthly: catalogue.volumePricePerGbMonth,
      currency: "EUR",
      endedAt: null,
    });
    expect(serverPeriod).toMatchObject({
      resource: "server",
      resourceId: server.id,
      serverType: "cpx22",
      location: "ash",
      priceHourly: price.hourly,
      priceMonthly: price.monthly,
      currency: "EUR",
      endedAt: null,
    });

    await provider.deleteServer(server.id);
    const [, ended] = await periodsOf(workspace.id);
    expect(ended!.endedAt).toBeInstanceOf(Date);
    const [cost] = (await listWorkspaceCosts(context.db, ownerOf())).filter(
      (entry) => entry.workspaceId === workspace.id,
    );
    expect(cost).toMatchObject({ currency: "EUR", complete: true });
    // Stopped: only the volume costs now.
    expect(cost!.perHourNow).toBeCloseTo((10 * catalogue.volumePricePerGbMonth!) / 730, 10);
  });

  it("ends the period of a server deleted behind our back, and starts one for a server a retry finds", async () => {
    const workspace = await newWorkspace("found");
    const labels = { ...managedByLabel, workspace: workspace.id };
    // An attempt that died after Hetzner made the server: nothing was recorded.
    const made = await hetzner().createServer(serverInput(workspace.id, []));
    const provider = recordCostsOf(context.db, workspace, hetzner());
    expect(await provider.listServers(labels)).toHaveLength(1);
    expect(await periodsOf(workspace.id)).toMatchObject([
      { resourceId: made.id, endedAt: null, currency: "EUR" },
    ]);
    fake.state.servers.delete(Number(made.id));
    expect(await provider.listServers(labels)).toEqual([]);
    const [period] = await periodsOf(workspace.id);
    expect(period!.endedAt).toBeInstanceOf(Date);
  });

  it("records an unknown price rather than failing the job when the catalogue cannot be read", async () => {
    const workspace = await newWorkspace("unpriced");
    forgetCatalogues();
    const provider = recordCostsOf(context.db, workspace, {
      ...hetzner(),
      getCatalogue: () => Promise.reject(new Error("Hetzner answered 503")),
    });
    await provider.createServer(serverInput(workspace.id, []));
    expect(await periodsOf(workspace.id)).toMatchObject([
      { resource: "server", priceHourly: null, currency: null },
    ]);
    const [cost] = (await listWorkspaceCosts(context.db, ownerOf())).filter(
      (entry) => entry.workspaceId === workspace.id,
    );
    expect(cost!.complete).toBe(false);
  });
});
