import { and, eq, inArray, isNull } from "drizzle-orm";
import type { Database } from "../../db/client.ts";
import { workspaceCostPeriods, workspaces, type CostResource } from "../../db/schema.ts";
import type { Catalogue, Labels, Provider } from "../providers/provider.ts";
import { readCachedCatalogue } from "./catalogue.ts";
import { estimateCost, type CostEstimate } from "./cost-estimate.ts";
import type { Owner } from "./owner.ts";

// The record behind "cost so far" (issue #13): the worker's provider, wrapped, writes one
// period per server and volume it orders (with that day's price from the catalogue) and
// ends it when the thing is deleted or found gone. Hetzner prices depend on the order date
// and every start orders a new server, so the price is taken at each creation.

type CostedWorkspace = {
  id: string;
  userId: string;
  provider: "local" | "hetzner";
  serverType: string;
  location: string;
};

type Opened = {
  resource: CostResource;
  resourceId: string;
  serverType: string | null;
  location: string;
  sizeGb: number | null;
};

/** `provider`, recording a cost period at every server and volume it creates or deletes. */
export function recordCostsOf(db: Database, workspace: CostedWorkspace, provider: Provider) {
  // Local workspaces cost nothing extra; a Hetzner catalogue comes from the shared cache.
  const catalogueOf = (): Promise<Catalogue> =>
    workspace.provider === "hetzner"
      ? readCachedCatalogue(db, workspace.userId, () => provider.getCatalogue())
      : provider.getCatalogue();
  const open = (opened: Opened) => openPeriod(db, workspace, opened, catalogueOf);
  const close = (resource: CostResource, id: string) =>
    endPeriods(db, workspace.id, resource, [id]);
  const ours = (labels: Labels) => labels.workspace === workspace.id;
  const wrapped: Provider = {
    ...provider,
    createServer: async (input) => {
      const server = await provider.createServer(input);
      await open({ resource: "server", resourceId: server.id, sizeGb: null, ...placeOf(input) });
      return server;
    },
    deleteServer: async (id) => {
      await provider.deleteServer(id);
      await close("server", id);
    },
    // What the worker finds is the truth: a server gone behind our back stops costing, and
    // one an interrupted attempt made (and a retry found) starts costing.
    listServers: async (labels) => {
      const found = await provider.listServers(labels);
      if (!ours(labels)) return found;
      await endMissingServers(
        db,
        workspace.id,
        found.map((server) => server.id),
      );
      for (const server of found)
        await open({
          resource: "server",
          resourceId: server.id,
          sizeGb: null,
          ...placeOf(workspace),
        });
      return found;
    },
    createVolume: async (input) => {
      const volume = await provider.createVolume(input);
      await open({
        resource: "volume",
        resourceId: volume.id,
        serverType: null,
        location: input.location,
        sizeGb: volume.sizeGb,
      });
      return volume;
    },
    deleteVolume: async (id) => {
      await provider.deleteVolume(id);
      await close("volume", id);
    },
  };
  return wrapped;
}

const placeOf = (input: { serverType: string; location: string }) => ({
  serverType: input.serverType,
  location: input.location,
});

async function openPeriod(
  db: Database,
  workspace: CostedWorkspace,
  opened: Opened,
  catalogueOf: () => Promise<Catalogue>,
): Promise<void> {
  const [existing] = await db
    .select({ id: workspaceCostPeriods.id })
    .from(workspaceCostPeriods)
    .where(periodOf(workspace.id, opened.resource, opened.resourceId));
  if (existing) return;
  const price = await priceOf(workspace, opened, catalogueOf);
  await db
    .insert(workspaceCostPeriods)
    .values({ workspaceId: workspace.id, ...opened, ...price })
    .onConflictDoNothing();
}

/** The price at order time; unknown (null) rather than a failed job when Hetzner is slow. */
async function priceOf(
  workspace: CostedWorkspace,
  opened: Opened,
  catalogueOf: () => Promise<Catalogue>,
) {
  if (workspace.provider === "local") return { priceHourly: 0, priceMonthly: 0, currency: null };
  const catalogue = await catalogueOf().catch(() => null);
  if (!catalogue) return { priceHourly: null, priceMonthly: null, currency: null };
  if (opened.resource === "volume")
    return {
      priceHourly: null,
      priceMonthly: catalogue.volumePricePerGbMonth,
      currency: catalogue.currency,
    };
  const offer = catalogue.offers.find(
    (candidate) =>
      candidate.serverType === opened.serverType && candidate.location === opened.location,
  );
  return {
    priceHourly: offer?.price?.hourly ?? null,
    priceMonthly: offer?.price?.monthly ?? null,
    currency: catalogue.currency,
  };
}

const periodOf = (workspaceId: string, resource: CostResource, resourceId: string) =>
  and(
    eq(workspaceCostPeriods.workspaceId, workspaceId),
    eq(workspaceCostPeriods.resource, resource),
    eq(workspaceCostPeriods.resourceId, resourceId),
  );

async function endPeriods(
  db: Database,
  workspaceId: string,
  resource: CostResource,
  ids: string[],
): Promise<void> {
  if (ids.length === 0) return;
  await db
    .update(workspaceCostPeriods)
    .set({ endedAt: new Date() })
    .where(
      and(
        eq(workspaceCostPeriods.workspaceId, workspaceId),
        eq(workspaceCostPeriods.resource, resource),
        inArray(workspaceCostPeriods.resourceId, ids),
        isNull(workspaceCostPeriods.endedAt),
      ),
    );
}

async function endMissingServers(db: Database, workspaceId: string, present: string[]) {
  const open = await db
    .select({ resourceId: workspaceCostPeriods.resourceId })
    .from(workspaceCostPeriods)
    .where(
      and(
        eq(workspaceCostPeriods.workspaceId, workspaceId),
        eq(workspaceCostPeriods.resource, "server"),
        isNull(workspaceCostPeriods.endedAt),
      ),
    );
  const gone = open.map((row) => row.resourceId).filter((id) => !present.includes(id));
  await endPeriods(db, workspaceId, "server", gone);
}

export type WorkspaceCost = CostEstimate & { workspaceId: string };

/** The estimate of every live workspace of the owner's that has cost anything yet. */

/** What a cost estimate reads of a period (cost-estimate.ts); the month's total reads the same. */
export const costPeriodColumns = {
  resource: workspaceCostPeriods.resource,
  sizeGb: workspaceCostPeriods.sizeGb,
  priceHourly: workspaceCostPeriods.priceHourly,
  priceMonthly: workspaceCostPeriods.priceMonthly,
  currency: workspaceCostPeriods.currency,
  startedAt: workspaceCostPeriods.startedAt,
  endedAt: workspaceCostPeriods.endedAt,
};

export async function listWorkspaceCosts(
  db: Database,
  owner: Owner,
  now: Date = new Date(),
): Promise<WorkspaceCost[]> {
  const rows = await db
    .select({ workspaceId: workspaceCostPeriods.workspaceId, ...costPeriodColumns })
    .from(workspaceCostPeriods)
    .innerJoin(workspaces, eq(workspaces.id, workspaceCostPeriods.workspaceId))
    .where(and(eq(workspaces.userId, owner.userId), isNull(workspaces.deletedAt)))
    .orderBy(workspaceCostPeriods.id);
  const byWorkspace = new Map<string, typeof rows>();
  for (const row of rows)
    byWorkspace.set(row.workspaceId, [...(byWorkspace.get(row.workspaceId) ?? []), row]);
  return [...byWorkspace].map(([workspaceId, periods]) => ({
    workspaceId,
    ...estimateCost(periods, now),
  }));
}
