// How prices read on the pages: the catalogue's currency, a per-hour price with enough
// digits to tell types apart (Hetzner's cheapest cost fractions of a cent an hour).

export function formatMoney(amount: number, currency: string, digits = 2): string {
  return new Intl.NumberFormat("en", {
    style: "currency",
    currency,
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(amount);
}

export const formatHourly = (amount: number, currency: string) =>
  `${formatMoney(amount, currency, amount < 0.1 ? 4 : 3)}/h`;

export const formatMonthly = (amount: number, currency: string) =>
  `${formatMoney(amount, currency)}/month`;
