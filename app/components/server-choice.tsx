import { useQuery } from "@tanstack/react-query";
import { useEffect } from "react";
import { formatHourly, formatMonthly } from "../lib/money.ts";
import { useTRPC } from "../lib/trpc.ts";
import { useWorkspaceProvider } from "../lib/workspace-provider.ts";
import { ErrorAlert } from "./error-alert.tsx";

// The server type and location of a new workspace, from the user's own catalogue
// (catalogue.list): only types Hetzner takes orders for, and for the chosen type only the
// locations it is offered in, each with its price there. In the one-machine mode there is
// nothing to choose: the form says what the machine is instead of codes.

type Choice = { serverType: string; location: string };

const preferred: Choice = { serverType: "cx23", location: "fsn1" };

export function ServerChoice(props: {
  value: Choice;
  onChange: (value: Choice) => void;
  /** Whether the catalogue is there, so the form may be sent. */
  onReady: (ready: boolean) => void;
}) {
  const trpc = useTRPC();
  const catalogue = useQuery(trpc.catalogue.list.queryOptions());
  const data = catalogue.data;
  const { value, onChange, onReady } = props;
  const offers = data?.offers ?? [];
  const offered = (choice: Choice) =>
    offers.some((o) => o.serverType === choice.serverType && o.location === choice.location);
  // The first time the catalogue arrives (or when the choice is not on offer), settle on
  // cx23 in fsn1 if offered, else the first offer.
  useEffect(() => {
    if (!data) return onReady(false);
    const current = { serverType: value.serverType, location: value.location };
    if (!offered(current)) {
      const first = offered(preferred) ? preferred : offers[0];
      if (first) onChange({ serverType: first.serverType, location: first.location });
    }
    onReady(offers.length > 0);
  }, [data, value.serverType, value.location]);

  const provider = useWorkspaceProvider();
  if (catalogue.isPending || !provider) return <p aria-busy="true">Loading what you can order…</p>;
  if (catalogue.isError) return <ErrorAlert error={catalogue.error} />;
  if (provider === "local") return <ThisMachine type={data!.serverTypes[0]} />;
  const currency = data!.currency;
  const types = data!.serverTypes.filter((type) =>
    offers.some((offer) => offer.serverType === type.name),
  );
  const locationsOfType = offers.filter((offer) => offer.serverType === value.serverType);
  const cheapest = (name: string) =>
    Math.min(...offers.filter((o) => o.serverType === name).map((o) => o.price?.hourly ?? 0));
  const cityOf = (name: string) => data!.locations.find((location) => location.name === name);
  const chosen = locationsOfType.find((offer) => offer.location === value.location);
  const pick = (serverType: string) => {
    const keep = offers.some((o) => o.serverType === serverType && o.location === value.location);
    const first = offers.find((offer) => offer.serverType === serverType);
    onChange({ serverType, location: keep ? value.location : (first?.location ?? "") });
  };
  const groups = [...new Set(types.map(groupOf))];
  return (
    <>
      <label>
        Server type
        <select
          name="serverType"
          value={value.serverType}
          onChange={(event) => pick(event.target.value)}
        >
          {groups.map((group) => (
            <optgroup key={group} label={group}>
              {types
                .filter((type) => groupOf(type) === group)
                .map((type) => (
                  <option key={type.name} value={type.name}>
                    {type.name} — {type.cores} cores, {type.memoryGb} GB RAM
                    {type.diskGb > 0 ? `, ${type.diskGb} GB disk` : ""}
                    {currency ? ` · from ${formatHourly(cheapest(type.name), currency)}` : ""}
                  </option>
                ))}
            </optgroup>
          ))}
        </select>
      </label>
      <label>
        Location
        <select
          name="location"
          value={value.location}
          onChange={(event) => onChange({ ...value, location: event.target.value })}
        >
          {locationsOfType.map((offer) => (
            <option key={offer.location} value={offer.location}>
              {offer.location} — {cityOf(offer.location)?.city}, {cityOf(offer.location)?.country}
              {currency && offer.price
                ? ` · ${formatHourly(offer.price.hourly, currency)} · ${formatMonthly(offer.price.monthly, currency)}`
                : ""}
            </option>
          ))}
        </select>
        <span className="hint" data-testid="offer-price">
          {describePrice(chosen?.price ?? null, currency)}
        </span>
      </label>
    </>
  );
}

/** The one-machine "server": this machine's cores and memory, shared, at no charge. */
function ThisMachine({ type }: { type: { cores: number; memoryGb: number } | undefined }) {
  return (
    <p data-testid="this-machine">
      <strong>Runs on this machine</strong>
      {type ? ` (${type.cores} cores, ${type.memoryGb} GB RAM, shared with it)` : ""}.{" "}
      <span className="hint" data-testid="offer-price">
        {describePrice(null, null)}
      </span>
    </p>
  );
}

function groupOf(type: { cpuType: string; architecture: string }): string {
  const arch = type.architecture === "arm" ? "Arm" : "x86";
  return `${type.cpuType === "dedicated" ? "Dedicated" : "Shared"} vCPU, ${arch}`;
}

function describePrice(
  price: { hourly: number; monthly: number } | null,
  currency: string | null,
): string {
  if (!currency) return "No charge: it runs on this machine.";
  if (!price) return "Hetzner names no price for this combination.";
  return `${formatHourly(price.hourly, currency)} while it runs (at most ${formatMonthly(price.monthly, currency)}), VAT included; every start is a new order at that day's price. The volume costs a little while stopped too.`;
}
