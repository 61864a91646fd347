import type { IncomingMessage } from "node:http";
import { RateLimiterDrizzle, RateLimiterRes } from "rate-limiter-flexible";
import type { Database } from "../../db/client.ts";
import { rateLimits } from "../../db/schema.ts";
import { sessionCookieName } from "../auth/lucia.ts";
import { AppError } from "../errors.ts";

const safeMethods = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * CSRF defence (SPEC §4): a state-changing request that carries an Origin must come from
 * PUBLIC_URL's origin, and one that carries our session cookie must carry an Origin at all.
 * Bearer-token clients (no cookie) are not exposed to CSRF and need no Origin.
 */
export function checkRequestOrigin(req: IncomingMessage, allowedOrigin: string): void {
  if (safeMethods.has(req.method ?? "GET")) return;
  const origin = req.headers.origin;
  const hasSessionCookie = (req.headers.cookie ?? "").includes(`${sessionCookieName}=`);
  if (origin === undefined ? hasSessionCookie : origin !== allowedOrigin) {
    throw new AppError(
      "FORBIDDEN",
      `Cross-site request refused: state-changing requests must come from ${allowedOrigin}. Use the web app, or call the API with an API token instead of a cookie.`,
    );
  }
}

export type AuthRateLimiter = (key: string) => Promise<void>;

/**
 * Spends `points` of `key`'s budget this minute; when it is spent, answers how long to wait.
 * It answers rather than throws: tRPC runs in the Remix bundle, whose copy of AppError is not
 * ours, so the error is made there (tooManyApiCalls).
 */
export type ApiRateLimiter = (
  key: string,
  points: number,
) => Promise<{ retryAfterSeconds: number } | undefined>;

/** 100 requests a minute per client address on /auth/*, counted in Postgres for every web process. */
export function createAuthRateLimiter(db: Database, points = 100): AuthRateLimiter {
  const consume = createMinuteLimiter(db, "auth", points);
  return async (key) => {
    const refused = await consume(key, 1);
    if (!refused) return;
    const seconds = refused.retryAfterSeconds;
    throw new AppError(
      "TOO_MANY_REQUESTS",
      `Too many sign-in requests from your address. Wait ${seconds} seconds and try again.`,
      { cause: refused },
    );
  };
}

/**
 * API_RATE_LIMIT_PER_MINUTE tRPC calls a minute per caller (a user, an API token or, signed
 * out, a client address), shared by every web process through Postgres like /auth's.
 */
export function createApiRateLimiter(db: Database, perMinute: number): ApiRateLimiter {
  return createMinuteLimiter(db, "api", perMinute);
}

export function tooManyApiCalls(perMinute: number, retryAfterSeconds: number): AppError {
  return new AppError(
    "TOO_MANY_REQUESTS",
    `Too many API calls: this server allows ${perMinute} a minute per user or API token (API_RATE_LIMIT_PER_MINUTE). Wait ${retryAfterSeconds} seconds and try again.`,
    { cause: { retryAfterSeconds } },
  );
}

function createMinuteLimiter(db: Database, keyPrefix: string, points: number): ApiRateLimiter {
  const limiter = new RateLimiterDrizzle({
    storeClient: db,
    schema: rateLimits,
    keyPrefix,
    points,
    duration: 60,
  });
  return async (key, cost) => {
    try {
      await limiter.consume(key, cost);
      return undefined;
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      return { retryAfterSeconds: Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)) };
    }
  };
}
