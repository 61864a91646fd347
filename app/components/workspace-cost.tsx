import { useQuery } from "@tanstack/react-query";
import { formatHourly, formatMoney } from "../lib/money.ts";
import { useTRPC } from "../lib/trpc.ts";

// What a workspace costs, as catalogue.costs estimates it from the servers and volume the
// worker ordered (server/services/cost-estimate.ts): per hour now and so far.

type Cost = {
  workspaceId: string;
  currency: string | null;
  total: number;
  perHourNow: number;
  serverHours: number;
  complete: boolean;
};

/** Every cost of the user's workspaces, asked again every 30 s while a page shows them. */
export function useWorkspaceCosts(): Map<string, Cost> {
  const trpc = useTRPC();
  const costs = useQuery({ ...trpc.catalogue.costs.queryOptions(), refetchInterval: 30_000 });
  return new Map((costs.data ?? []).map((cost) => [cost.workspaceId, cost]));
}

export function describeCost(cost: Cost | undefined, provider: string): string {
  if (provider === "local") return "no charge (runs on this machine)";
  if (!cost) return "nothing yet";
  if (!cost.currency) return "price unknown";
  const soFar = `${formatMoney(cost.total, cost.currency)} so far`;
  const note = cost.complete ? "" : " (at least: a price was unknown)";
  return `${formatHourly(cost.perHourNow, cost.currency)} · ${soFar}${note}`;
}

/** "€0.0061/h · €0.42 so far", or why there is no figure. */
export function WorkspaceCost({ cost, provider }: { cost: Cost | undefined; provider: string }) {
  return (
    <span className="hint" data-testid="workspace-cost">
      {describeCost(cost, provider)}
    </span>
  );
}

/** The detail page's lines: the rate now, the total, the server hours behind it. */
export function WorkspaceCostFacts({ id, provider }: { id: string; provider: string }) {
  const cost = useWorkspaceCosts().get(id);
  return (
    <>
      <dt>Cost</dt>
      <dd data-testid="workspace-cost">
        {describeCost(cost, provider)}
        {cost?.currency ? (
          <span className="hint">
            {" "}
            — {cost.serverHours.toFixed(1)} server hours, each server at the price of the day it was
            ordered, plus the volume; VAT included, an estimate of Hetzner&apos;s bill
          </span>
        ) : null}
      </dd>
    </>
  );
}

/** The list's footer line: this month's total, or why there is none (one-machine mode). */
export function MonthCost({ allLocal }: { allLocal: boolean }) {
  const trpc = useTRPC();
  const month = useQuery({ ...trpc.catalogue.monthCost.queryOptions(), refetchInterval: 60_000 });
  if (!month.data) return null;
  const { currency, total, complete, since } = month.data;
  const name = since.toLocaleDateString(undefined, { month: "long", timeZone: "UTC" });
  const text =
    allLocal && !currency
      ? "nothing: workspaces run on this machine (one-machine mode), no cloud charges"
      : currency
        ? `${formatMoney(total, currency)}${complete ? "" : " at least (a price was unknown)"}`
        : "nothing yet";
  return (
    <p className="hint" data-testid="month-cost">
      This month ({name}): {text}
    </p>
  );
}
