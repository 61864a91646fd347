import { z } from "zod";
import type { HetznerApi } from "./hetzner-api.ts";
import type { Catalogue, Deprecation, Location, Offer, Price, ServerType } from "./provider.ts";

// The catalogue of the user's own Hetzner project (SPEC §8) from GET /server_types,
// /locations and /pricing. Since Hetzner's 2025-09-24 change a server type lists the
// locations it can be ordered in, each with its own deprecation
// (https://docs.hetzner.cloud/changelog#2025-09-24-per-location-server-types); `deprecation`
// replaced the boolean `deprecated`, which older answers still carry alone. Prices are
// Hetzner's gross amounts (VAT included), as the Hetzner Console shows them.

const amountSchema = z.object({ net: z.string(), gross: z.string() });
const deprecationSchema = z
  .object({ announced: z.string(), unavailable_after: z.string() })
  .nullish();
const locationPriceSchema = z.object({
  location: z.string(),
  price_hourly: amountSchema,
  price_monthly: amountSchema,
});

const serverTypeSchema = z.object({
  name: z.string(),
  description: z.string(),
  cores: z.number(),
  memory: z.number(),
  disk: z.number(),
  cpu_type: z.enum(["shared", "dedicated"]),
  architecture: z.enum(["x86", "arm"]),
  deprecated: z.boolean().nullish(),
  deprecation: deprecationSchema,
  prices: z.array(locationPriceSchema),
  /** Absent before 2025-09-24: then `prices` names the locations. */
  locations: z
    .array(
      z.object({
        name: z.string(),
        deprecation: deprecationSchema,
        /** Out of stock there for now (2026-04-01 change); absent means available. */
        available: z.boolean().optional(),
      }),
    )
    .optional(),
});
type HetznerServerType = z.infer<typeof serverTypeSchema>;

const locationSchema = z.object({ name: z.string(), city: z.string(), country: z.string() });

const pricingSchema = z.object({
  pricing: z.object({
    currency: z.string(),
    volume: z.object({ price_per_gb_month: amountSchema }),
    server_types: z.array(z.object({ name: z.string(), prices: z.array(locationPriceSchema) })),
  }),
});
type HetznerPricing = z.infer<typeof pricingSchema>["pricing"];

/** Reads the three lists (paged where Hetzner pages) and joins them into one catalogue. */
export async function readHetznerCatalogue(api: HetznerApi): Promise<Catalogue> {
  // One after another: a refused or rate-limited first answer stops the rest, and the
  // project's hourly request budget is not spent on answers that cannot be used.
  const locations = await api.listAll("/locations", "locations", locationSchema);
  const types = await api.listAll("/server_types", "server_types", serverTypeSchema);
  const { pricing } = await api.request("GET", "/pricing", pricingSchema);
  return toCatalogue(types, locations, pricing);
}

export function toCatalogue(
  types: HetznerServerType[],
  locations: Location[],
  pricing: HetznerPricing,
): Catalogue {
  const known = new Set(locations.map((location) => location.name));
  const offers = types.flatMap((type) =>
    orderableLocations(type)
      .filter((location) => known.has(location))
      .map((location): Offer => ({
        serverType: type.name,
        location,
        price: priceOf(type, location, pricing),
      })),
  );
  return {
    serverTypes: types.map(toServerType),
    locations: locations.map(({ name, city, country }) => ({ name, city, country })),
    offers,
    currency: pricing.currency,
    volumePricePerGbMonth: amount(pricing.volume.price_per_gb_month),
  };
}

/**
 * Where Hetzner takes an order of `type` now. A deprecated type (everywhere or in one
 * location) is left out even before its `unavailable_after`: a workspace started on it
 * today may be refused at its next start, since every start orders a new server.
 */
function orderableLocations(type: HetznerServerType): string[] {
  if (type.deprecation || type.deprecated) return [];
  if (!type.locations) return type.prices.map((price) => price.location);
  return type.locations
    .filter((entry) => !entry.deprecation && entry.available !== false)
    .map((entry) => entry.name);
}

/** /pricing is the price list; the type's own `prices` stand in if it lacks the type. */
function priceOf(type: HetznerServerType, location: string, pricing: HetznerPricing): Price | null {
  const listed = pricing.server_types.find((entry) => entry.name === type.name)?.prices ?? [];
  const price =
    listed.find((entry) => entry.location === location) ??
    type.prices.find((entry) => entry.location === location);
  if (!price) return null;
  return { hourly: amount(price.price_hourly), monthly: amount(price.price_monthly) };
}

function toServerType(type: HetznerServerType): ServerType {
  return {
    name: type.name,
    description: type.description,
    architecture: type.architecture,
    cpuType: type.cpu_type,
    cores: type.cores,
    memoryGb: type.memory,
    diskGb: type.disk,
    deprecation: toDeprecation(type.deprecation),
  };
}

function toDeprecation(value: z.infer<typeof deprecationSchema>): Deprecation | null {
  return value ? { announced: value.announced, unavailableAfter: value.unavailable_after } : null;
}

/** Hetzner sends decimal strings such as "0.0060690000"; a number is exact enough here. */
function amount(value: { gross: string }): number {
  const parsed = Number(value.gross);
  if (!Number.isFinite(parsed)) throw new Error(`Hetzner sent a price that is not a number`);
  return parsed;
}
