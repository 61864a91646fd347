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

/** 100 requests a minute per client address on /auth/*, counted in Postgres for every web process. */
export function createAuthRateLimiter(db: Database, points = 100): AuthRateLimiter {
  const limiter = new RateLimiterDrizzle({
    storeClient: db,
    schema: rateLimits,
    keyPrefix: "auth",
    points,
    duration: 60,
  });
  return async (key) => {
    try {
      await limiter.consume(key);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      const seconds = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
      throw new AppError(
        "TOO_MANY_REQUESTS",
        `Too many sign-in requests from your address. Wait ${seconds} seconds and try again.`,
        {
          cause: { retryAfterSeconds: seconds },
        },
      );
    }
  };
}
