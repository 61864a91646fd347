import type { JWK } from "jose";
import { z } from "zod";

// The control plane's signing keys, as the agent knows them (SPEC §9). The set is kept for an
// hour; a token naming a `kid` we do not hold triggers a refetch (the control plane may have
// rotated). Fetches start at most once a minute, so a stream of made-up kids cannot hammer the
// control plane, and when one fails the keys we already have keep working.

export type FetchJwks = (url: string) => Promise<unknown>;

export type JwksCacheOptions = {
  jwksUrl: string;
  /** Milliseconds since the epoch; injectable so tests can move time. */
  now?: () => number;
  maxAgeMs?: number;
  minRefetchIntervalMs?: number;
  fetchJwks?: FetchJwks;
};

export type JwksCache = {
  /** The RS256 verification key named `kid`, or null when the control plane has none such. */
  findKey: (kid: string) => Promise<JWK | null>;
};

/** Thrown when the key set cannot be had at all; says what to check, not what was sent. */
export class JwksUnavailableError extends Error {
  override name = "JwksUnavailableError";
}

const jwksSchema = z.object({
  keys: z.array(z.looseObject({ kid: z.string().min(1), kty: z.string() })),
});

const fetchTimeoutMs = 10_000;

export function createJwksCache(options: JwksCacheOptions): JwksCache {
  const now = options.now ?? Date.now;
  const maxAgeMs = options.maxAgeMs ?? 60 * 60_000;
  const minRefetchIntervalMs = options.minRefetchIntervalMs ?? 60_000;
  const fetchJwks = options.fetchJwks ?? fetchJwksOverHttp;
  let keys: Map<string, JWK> | undefined;
  let fetchedAt = 0;
  let attemptedAt = Number.NEGATIVE_INFINITY;
  let lastFailure = "no answer yet";
  let pending: Promise<void> | undefined;

  const load = async () => {
    attemptedAt = now();
    try {
      keys = usableKeys(jwksSchema.parse(await fetchJwks(options.jwksUrl)));
      fetchedAt = attemptedAt;
    } catch (error) {
      lastFailure = describe(error);
    }
  };
  // Every caller waits for a fetch under way; a new one starts only once the last is a minute old.
  const refresh = () => {
    if (!pending && now() - attemptedAt >= minRefetchIntervalMs)
      pending = load().finally(() => (pending = undefined));
    return pending;
  };

  return {
    async findKey(kid) {
      if (!keys || now() - fetchedAt >= maxAgeMs) await refresh();
      if (keys && !keys.has(kid)) await refresh();
      if (!keys)
        throw new JwksUnavailableError(
          `Could not load the control plane's signing keys from ${options.jwksUrl}: ${lastFailure}.`,
        );
      return keys.get(kid) ?? null;
    },
  };
}

// Only keys that can verify RS256 signatures are kept, so no other kind of key can ever be
// handed to the verifier, whatever the token's header says.
function usableKeys(set: z.infer<typeof jwksSchema>): Map<string, JWK> {
  const usable = new Map<string, JWK>();
  for (const key of set.keys) {
    const { alg, use } = key as { alg?: unknown; use?: unknown };
    if (key.kty !== "RSA" || (alg !== undefined && alg !== "RS256")) continue;
    if (use !== undefined && use !== "sig") continue;
    usable.set(key.kid, key as JWK);
  }
  return usable;
}

async function fetchJwksOverHttp(url: string): Promise<unknown> {
  const response = await fetch(url, {
    headers: { accept: "application/jwk-set+json, application/json" },
    signal: AbortSignal.timeout(fetchTimeoutMs),
  });
  if (!response.ok) throw new Error(`it answered HTTP ${response.status}`);
  return response.json();
}

function describe(error: unknown): string {
  if (error instanceof z.ZodError) return "the answer is not a JSON Web Key Set";
  if (!(error instanceof Error)) return String(error);
  // fetch() says only "fetch failed"; the cause names the refused connection or bad name.
  return error.cause instanceof Error ? `${error.message} (${error.cause.message})` : error.message;
}
