import { and, eq } from "drizzle-orm";
import type { Database } from "../../db/client.ts";
import { credentials, type WorkspaceProvider } from "../../db/schema.ts";
import type { Keyring } from "../crypto/envelope.ts";
import { AppError } from "../errors.ts";
import type { OutboundRequestObserver } from "../process/outbound-requests.ts";
import { createHetznerProvider } from "../providers/hetzner.ts";
import { localCatalogue } from "../providers/local-catalogue.ts";
import type { Catalogue, Offer } from "../providers/provider.ts";
import { readCredentialSecret } from "./credentials.ts";

// What a user can order (SPEC §8): the catalogue of their own Hetzner project, asked of
// Hetzner at most every few minutes per token, and the check that a new workspace asks for
// a combination Hetzner takes orders for.

/** Long enough for a form and its submit, short enough that a price change shows soon. */
export const catalogueTtlMs = 5 * 60_000;
const maxEntries = 500;

type Entry = { loadedAt: number; catalogue: Promise<Catalogue> };
// Keyed by the saved token's row id and when it was saved (never the token): replacing the
// token starts afresh, and two users never share an entry.
const cache = new Map<string, Entry>();

export type CatalogueSettings = {
  provider: WorkspaceProvider;
  hetznerApiUrl: string;
  /** Told of every request to Hetzner (the web's metrics). */
  observe?: OutboundRequestObserver;
};

/** Forgets every cached catalogue (tests; a process restart does the same). */
export function forgetCatalogues(): void {
  cache.clear();
}

/** The owner's catalogue: the local one, or their Hetzner project's (cached). */
export async function listCatalogue(
  db: Database,
  keyring: Keyring,
  owner: { userId: string },
  settings: CatalogueSettings,
): Promise<Catalogue> {
  if (settings.provider === "local") return localCatalogue;
  return readCachedCatalogue(db, owner.userId, async () => {
    const token = await readCredentialSecret(db, keyring, owner.userId, "hetzner");
    return createHetznerProvider({
      token,
      apiUrl: settings.hetznerApiUrl,
      observe: settings.observe,
    }).getCatalogue();
  });
}

/**
 * The cached catalogue of the user's saved Hetzner token, or `load`'s answer (cached for
 * catalogueTtlMs). Concurrent callers share one load; a failed load is not kept.
 */
export async function readCachedCatalogue(
  db: Database,
  userId: string,
  load: () => Promise<Catalogue>,
  now: number = Date.now(),
): Promise<Catalogue> {
  const key = await cacheKeyOf(db, userId);
  const cached = cache.get(key);
  if (cached && now - cached.loadedAt < catalogueTtlMs) return cached.catalogue;
  for (const [other, entry] of cache)
    if (now - entry.loadedAt >= catalogueTtlMs) cache.delete(other);
  const entry: Entry = { loadedAt: now, catalogue: load() };
  cache.set(key, entry);
  if (cache.size > maxEntries) cache.delete(cache.keys().next().value!);
  entry.catalogue.catch(() => {
    if (cache.get(key) === entry) cache.delete(key);
  });
  return entry.catalogue;
}

async function cacheKeyOf(db: Database, userId: string): Promise<string> {
  const [row] = await db
    .select({ id: credentials.id, updatedAt: credentials.updatedAt })
    .from(credentials)
    .where(and(eq(credentials.userId, userId), eq(credentials.provider, "hetzner")));
  if (!row)
    throw new AppError(
      "PRECONDITION_FAILED",
      "No Hetzner API token is saved, so there is no catalogue to show. Add a Read & Write token in Settings → Hetzner, then try again.",
    );
  return `${row.id}:${row.updatedAt.getTime()}`;
}

/** The offer for `serverType` in `location`; an AppError naming what is offered if none. */
export function findOffer(catalogue: Catalogue, serverType: string, location: string): Offer {
  const offer = catalogue.offers.find(
    (candidate) => candidate.serverType === serverType && candidate.location === location,
  );
  if (offer) return offer;
  throw new AppError("BAD_REQUEST", describeMissingOffer(catalogue, serverType, location));
}

function describeMissingOffer(catalogue: Catalogue, serverType: string, location: string) {
  const type = catalogue.serverTypes.find((candidate) => candidate.name === serverType);
  const where = catalogue.offers
    .filter((offer) => offer.serverType === serverType)
    .map((offer) => offer.location);
  const typesThere = unique(
    catalogue.offers.filter((offer) => offer.location === location).map((o) => o.serverType),
  );
  const orderable = unique(catalogue.offers.map((offer) => offer.serverType));
  if (!type)
    return `${serverType} is not a server type of your Hetzner project; choose one of ${list(orderable)} (catalogue.list shows each with its locations and prices).`;
  if (where.length === 0) {
    const until = type.deprecation
      ? ` (deprecated; no new servers after ${type.deprecation.unavailableAfter.slice(0, 10)})`
      : "";
    return `${serverType} can no longer be ordered in any location${until}; choose another type, e.g. ${list(orderable.slice(0, 5))}.`;
  }
  if (!catalogue.locations.some((candidate) => candidate.name === location))
    return `${location} is not a Hetzner location; ${serverType} is offered in ${list(where)}.`;
  const alternatives =
    typesThere.length > 0 ? ` In ${location} you can order ${list(typesThere.slice(0, 8))}.` : "";
  return `${serverType} is not available in ${location}; it is offered in ${list(where)}.${alternatives}`;
}

const unique = (names: string[]) => [...new Set(names)];
const list = (names: string[]) => (names.length > 0 ? names.join(", ") : "nothing");
