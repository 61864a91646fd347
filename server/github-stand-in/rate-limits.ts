import type { ServerResponse } from "node:http";
import { sendJson } from "./http-io.ts";

// GitHub's REST rate limits as "Rate limits for the REST API" describes them, for the user
// endpoints: every answer carries x-ratelimit-limit/-remaining/-used/-reset/-resource; past
// the primary limit (5,000 an hour for a user) GitHub answers 403 (or 429) with
// x-ratelimit-remaining: 0 until x-ratelimit-reset (UTC epoch seconds); a secondary limit
// answers 403 or 429 with a message naming it, and retry-after when GitHub says how long.

export const rateLimitDocumentationUrl =
  "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api";

const hourlyLimit = 5000;
const windowMs = 3600_000;

type Budget = { limit: number; used: number; resetAt: number };

export type SecondaryLimit = {
  /** 403 unless told; GitHub sends either. */
  status?: 403 | 429;
  /** Sent as retry-after; without it, the client is to wait at least a minute. */
  retryAfterSeconds?: number;
  /** How many requests are refused this way; 1 unless told. */
  times?: number;
};

export type StandInRateLimits = {
  /** Counts one request of `login`; answers the refusal and returns false when over a limit. */
  admit: (login: string, userId: number, res: ServerResponse) => boolean;
  /** Test switch: `login` has `remaining` requests left, the window resetting in `resetInSeconds`. */
  setBudget: (
    login: string,
    budget: { remaining: number; resetInSeconds: number; status?: 403 | 429 },
  ) => void;
  /** Test switch: the next requests (of anyone) hit a secondary limit. */
  addSecondaryLimit: (limit: SecondaryLimit) => void;
};

export function createRateLimits(now: () => number = Date.now): StandInRateLimits {
  const budgets = new Map<string, Budget & { status: 403 | 429 }>();
  const queue: (SecondaryLimit & { left: number })[] = [];

  function budgetOf(login: string) {
    const key = login.toLowerCase();
    let budget = budgets.get(key);
    if (!budget || budget.resetAt <= now()) {
      budget = { limit: hourlyLimit, used: 0, resetAt: now() + windowMs, status: 403 };
      budgets.set(key, budget);
    }
    return budget;
  }

  return {
    admit: (login, userId, res) => {
      const budget = budgetOf(login);
      const reset = String(Math.ceil(budget.resetAt / 1000));
      const over = budget.used >= budget.limit;
      if (!over) budget.used += 1;
      res.setHeader("x-ratelimit-limit", String(budget.limit));
      res.setHeader("x-ratelimit-remaining", String(budget.limit - budget.used));
      res.setHeader("x-ratelimit-used", String(budget.used));
      res.setHeader("x-ratelimit-reset", reset);
      res.setHeader("x-ratelimit-resource", "core");
      if (over) {
        sendJson(res, budget.status, {
          message: `API rate limit exceeded for user ID ${userId}. If you reach out to GitHub Support for help, please include the request ID stand-in.`,
          documentation_url: rateLimitDocumentationUrl,
        });
        return false;
      }
      const limit = queue.find((entry) => entry.left > 0);
      if (!limit) return true;
      limit.left -= 1;
      if (limit.retryAfterSeconds !== undefined)
        res.setHeader("retry-after", String(limit.retryAfterSeconds));
      sendJson(res, limit.status ?? 403, {
        message:
          "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID stand-in.",
        documentation_url: `${rateLimitDocumentationUrl}#about-secondary-rate-limits`,
      });
      return false;
    },
    setBudget: (login, { remaining, resetInSeconds, status }) => {
      budgets.set(login.toLowerCase(), {
        limit: hourlyLimit,
        used: hourlyLimit - remaining,
        resetAt: now() + resetInSeconds * 1000,
        status: status ?? 403,
      });
    },
    addSecondaryLimit: (limit) => queue.push({ ...limit, left: limit.times ?? 1 }),
  };
}
