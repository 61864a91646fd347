import { and, eq, gte, isNull, or } from "drizzle-orm";
import type { Database } from "../../db/client.ts";
import { workspaceCostPeriods, workspaces } from "../../db/schema.ts";
import { estimateCost, type CostPeriod } from "./cost-estimate.ts";
import type { Owner } from "./owner.ts";
import { costPeriodColumns } from "./workspace-costs.ts";

// The month's total on the workspace list (issue #14): what the owner's servers and volumes
// cost since the first of this month (UTC, as Hetzner bills), deleted workspaces included,
// since they were billed too until they went. Same estimate as each workspace's figure.

export type MonthCost = {
  /** The first instant of the month counted. */
  since: Date;
  currency: string | null;
  total: number;
  complete: boolean;
};

export const monthStartOf = (now: Date) =>
  new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));

/** Each period cut to the part of it inside [since, now]; periods outside drop out. */
export function clipToMonth(periods: readonly CostPeriod[], since: Date, now: Date): CostPeriod[] {
  return periods.flatMap((period) => {
    const start = period.startedAt > since ? period.startedAt : since;
    const end = period.endedAt && period.endedAt < now ? period.endedAt : now;
    return end > start ? [{ ...period, startedAt: start, endedAt: end }] : [];
  });
}

export async function summarizeMonthCost(
  db: Database,
  owner: Owner,
  now: Date = new Date(),
): Promise<MonthCost> {
  const since = monthStartOf(now);
  const periods = await db
    .select(costPeriodColumns)
    .from(workspaceCostPeriods)
    .innerJoin(workspaces, eq(workspaces.id, workspaceCostPeriods.workspaceId))
    .where(
      and(
        eq(workspaces.userId, owner.userId),
        or(isNull(workspaceCostPeriods.endedAt), gte(workspaceCostPeriods.endedAt, since)),
      ),
    );
  const { currency, total, complete } = estimateCost(clipToMonth(periods, since, now), now);
  return { since, currency, total, complete };
}
