import type { IncomingMessage } from "node:http";
import { RateLimiterDrizzle } from "rate-limiter-flexible";
import type { Database } from "../../db/client.ts";
import { rateLimits } from "../../db/schema.ts";
import { sessionCookieName } from "../auth/lucia.ts";
import { AppError } from "../errors.ts";
import { blockSizeFor, createPointLeases, reserveThrough } from "./point-lease.ts";

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

/** Which budget refused a call, and how long until it has room again. */
export type ApiRefusal = { retryAfterSeconds: number; budget: "caller" | "user" };

/**
 * Spends `points` of this minute's budgets of the caller (a browser, an API token or, signed
 * out, an address) and of its user; when one is spent, answers which and how long to wait.
 * It answers rather than throws: tRPC runs in the Remix bundle, whose copy of AppError is not
 * ours, so the error is made there (tooManyApiCalls).
 */
export type ApiRateLimiter = (
  callers: { caller: string; userId?: string },
  points: number,
) => Promise<ApiRefusal | undefined>;

/** The two budgets of createApiRateLimiter, a minute each. */
export type ApiRateLimits = { perCaller: number; perUser: number };

/** 100 requests a minute per client address on /auth/*, counted in Postgres for every web process. */
export function createAuthRateLimiter(db: Database, points = 100): AuthRateLimiter {
  // Unleased (a block of one): sign-in traffic is light, so leases would save little, and a
  // count that is exact in every process keeps what an operator or a test resets simple.
  const consume = createMinuteLimiter(db, "auth", points, 1);
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
 * tRPC calls a minute per caller (API_RATE_LIMIT_PER_MINUTE: a script cannot starve its
 * owner's browser) and per user across all their callers (API_USER_RATE_LIMIT_PER_MINUTE:
 * twenty tokens are not twenty budgets), shared by every web process through Postgres.
 */
export function createApiRateLimiter(db: Database, limits: ApiRateLimits): ApiRateLimiter {
  const perCaller = createMinuteLimiter(db, "api", limits.perCaller);
  const perUser = createMinuteLimiter(db, "api-user", limits.perUser);
  return async ({ caller, userId }, points) => {
    // The caller's own budget first: calls it refuses do not spend the user's total, so one
    // runaway token spends at most its own share of it.
    const callerRefusal = await perCaller(caller, points);
    if (callerRefusal) return { ...callerRefusal, budget: "caller" };
    const userRefusal = userId === undefined ? undefined : await perUser(userId, points);
    return userRefusal && { ...userRefusal, budget: "user" };
  };
}

export function tooManyApiCalls(refusal: ApiRefusal, limits: ApiRateLimits): AppError {
  const wait = `Wait ${refusal.retryAfterSeconds} seconds and try again.`;
  const message =
    refusal.budget === "caller"
      ? `Too many API calls: this server allows ${limits.perCaller} a minute for each API token, for a user's browser sessions, and for each address signed out (API_RATE_LIMIT_PER_MINUTE). ${wait}`
      : `Too many API calls: this server allows ${limits.perUser} a minute per user, across all of your API tokens and browser sessions together (API_USER_RATE_LIMIT_PER_MINUTE). ${wait}`;
  return new AppError("TOO_MANY_REQUESTS", message, {
    cause: { retryAfterSeconds: refusal.retryAfterSeconds },
  });
}

type MinuteLimiter = (
  key: string,
  points: number,
) => Promise<{ retryAfterSeconds: number } | undefined>;

/**
 * A fixed window of a minute per key, counted in Postgres for every web process. Points are
 * reserved in leases (point-lease.ts): most spends of a busy key cost no statement, and all
 * processes together still never allow more than `points` a minute. `blockSize` 1 reserves
 * every spend, exactly as an unleased limiter does.
 */
function createMinuteLimiter(
  db: Database,
  keyPrefix: string,
  points: number,
  blockSize = blockSizeFor(points),
): MinuteLimiter {
  const duration = 60;
  const limiter = new RateLimiterDrizzle({
    storeClient: db,
    schema: rateLimits,
    keyPrefix,
    points,
    duration,
  });
  const spend = createPointLeases({
    points,
    blockSize,
    windowMs: duration * 1000,
    reserve: reserveThrough(limiter),
  });
  return async (key, cost) => {
    const refused = await spend(key, cost);
    return refused && { retryAfterSeconds: Math.max(1, Math.ceil(refused.msBeforeNext / 1000)) };
  };
}
