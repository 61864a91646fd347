// What a workspace has cost (issue #13), from the servers and volumes the worker recorded
// with the price of the day each was ordered. Pure: the caller passes `now`. An estimate of
// Hetzner's bill, not the bill: Hetzner bills a server by the hour up to its monthly price,
// and a volume by its size per month, VAT included as the Console shows them.

/** Hours in an average month: a volume's monthly price spread over its hours. */
export const hoursPerMonth = 730;

export type CostPeriod = {
  resource: "server" | "volume";
  /** A volume's size; null for a server. */
  sizeGb: number | null;
  /** A server's price per hour; null: unknown. */
  priceHourly: number | null;
  /** A server's monthly cap, or a volume's price per GB and month; null: unknown. */
  priceMonthly: number | null;
  /** null: the provider has no prices (local). */
  currency: string | null;
  startedAt: Date;
  /** null: still there. */
  endedAt: Date | null;
};

export type CostEstimate = {
  /** ISO 4217; null when nothing recorded has a price (local, or nothing yet). */
  currency: string | null;
  /** Servers and volumes so far. */
  total: number;
  /** What the workspace costs per hour now: its server while there, plus its volume. */
  perHourNow: number;
  /** Hours its servers have existed (and been billed) so far. */
  serverHours: number;
  /** False when a period's price is unknown, so `total` is too low. */
  complete: boolean;
};

const hoursBetween = (from: Date, to: Date) =>
  Math.max(0, (to.getTime() - from.getTime()) / 3_600_000);

/** A server's cost over `hours`: hourly, but no more than its monthly price per month. */
export function serverCost(hours: number, hourly: number, monthly: number | null): number {
  const months = Math.floor(hours / hoursPerMonth);
  const rest = (hours - months * hoursPerMonth) * hourly;
  const cap = monthly ?? Number.POSITIVE_INFINITY;
  return months * Math.min(cap, hoursPerMonth * hourly) + Math.min(rest, cap);
}

/** A volume's cost over `hours`: its size × the price per GB-month × the months. */
export function volumeCost(hours: number, sizeGb: number, perGbMonth: number): number {
  return (sizeGb * perGbMonth * hours) / hoursPerMonth;
}

function periodCost(period: CostPeriod, hours: number): number | null {
  if (period.resource === "server")
    return period.priceHourly === null
      ? null
      : serverCost(hours, period.priceHourly, period.priceMonthly);
  if (period.priceMonthly === null || period.sizeGb === null) return null;
  return volumeCost(hours, period.sizeGb, period.priceMonthly);
}

function hourlyRate(period: CostPeriod): number | null {
  if (period.resource === "server") return period.priceHourly;
  if (period.priceMonthly === null || period.sizeGb === null) return null;
  return (period.sizeGb * period.priceMonthly) / hoursPerMonth;
}

export function estimateCost(periods: readonly CostPeriod[], now: Date): CostEstimate {
  const estimate: CostEstimate = {
    currency: periods.find((period) => period.currency !== null)?.currency ?? null,
    total: 0,
    perHourNow: 0,
    serverHours: 0,
    complete: true,
  };
  for (const period of periods) {
    const hours = hoursBetween(period.startedAt, period.endedAt ?? now);
    if (period.resource === "server") estimate.serverHours += hours;
    const cost = periodCost(period, hours);
    if (cost === null) estimate.complete = false;
    estimate.total += cost ?? 0;
    if (period.endedAt === null) estimate.perHourNow += hourlyRate(period) ?? 0;
  }
  return estimate;
}
