import type { Octokit } from "@octokit/core";
import { AppError } from "../errors.ts";
import type { Logger } from "../logger.ts";

// GitHub's rate limits as GitHub documents them ("Rate limits for the REST API", "Exceeding
// the rate limit"): a 403 or 429 with `x-ratelimit-remaining: 0` is the primary limit, over
// until `x-ratelimit-reset` (UTC epoch seconds); one with `retry-after` (seconds), or whose
// message names a secondary rate limit, is a secondary limit ("otherwise wait at least one
// minute"). Any other 403 is a permission refusal and is never retried. A request waits only
// as long as GitHub asks, and only while that fits `maxWaitMs`: a user is waiting on the
// answer, so a longer wait fails at once with the time to try again (ADR 0018).

export type GitHubRateLimitOptions = {
  /** Where each wait is logged (status, kind, wait; never a token). */
  logger?: Logger;
  /** The longest wait worth doing inside one request; 10 s unless given. */
  maxWaitMs?: number;
  /** Aborts a wait (and the request) when the caller gives up. */
  signal?: AbortSignal;
};

export type GitHubRateLimit = {
  kind: "primary" | "secondary";
  status: number;
  /** How long GitHub asks us to wait before asking again. */
  waitMs: number;
  resource: string | undefined;
};

const defaultMaxWaitMs = 10_000;
/** Waits per request: a limit that comes back after its wait is not waited out forever. */
const maxWaits = 2;
// "If the retry-after response header is not present […] wait for at least one minute."
const secondaryFallbackMs = 60_000;

type FailedRequest = {
  status?: unknown;
  message?: unknown;
  response?: { headers?: Record<string, unknown>; data?: unknown };
};

/** The rate limit behind a failed request, or undefined when it is none. */
export function readRateLimit(error: unknown, now = Date.now()): GitHubRateLimit | undefined {
  const failure = error as FailedRequest | null;
  const status = failure?.status;
  if (status !== 403 && status !== 429) return undefined;
  const headers = failure?.response?.headers ?? {};
  const header = (name: string) => {
    const value = headers[name];
    return typeof value === "string" || typeof value === "number" ? String(value) : undefined;
  };
  const resource = header("x-ratelimit-resource");
  const retryAfter = Number(header("retry-after"));
  if (header("retry-after") !== undefined && Number.isFinite(retryAfter))
    return { kind: "secondary", status, waitMs: Math.max(0, retryAfter * 1000), resource };
  const reset = Number(header("x-ratelimit-reset"));
  if (header("x-ratelimit-remaining") === "0" && Number.isFinite(reset))
    return { kind: "primary", status, waitMs: Math.max(0, reset * 1000 - now), resource };
  const body = failure?.response?.data as { message?: unknown } | undefined;
  const message = `${String(body?.message ?? "")} ${String(failure?.message ?? "")}`;
  if (/secondary rate limit/i.test(message))
    return { kind: "secondary", status, waitMs: secondaryFallbackMs, resource };
  return undefined;
}

/** Makes every request of `octokit` wait out a short rate limit and refuse a long one. */
export function handleRateLimits(octokit: Octokit, options: GitHubRateLimitOptions = {}): void {
  const maxWaitMs = options.maxWaitMs ?? defaultMaxWaitMs;
  octokit.hook.wrap("request", async (request, parameters) => {
    for (let waits = 0; ; waits += 1) {
      try {
        return await request(parameters);
      } catch (error) {
        const limit = readRateLimit(error);
        if (!limit) throw error;
        if (limit.waitMs > maxWaitMs || waits >= maxWaits) throw rateLimited(limit, error);
        options.logger?.warn(
          {
            status: limit.status,
            kind: limit.kind,
            resource: limit.resource,
            waitMs: limit.waitMs,
            path: pathOf(parameters.url),
          },
          "GitHub rate limit reached; waiting as long as GitHub asks, then trying again",
        );
        await sleep(limit.waitMs, options.signal);
      }
    }
  });
}

/** The AppError a long rate limit becomes: when to try again, with Retry-After for HTTP. */
export function rateLimited(limit: GitHubRateLimit, cause: unknown): AppError {
  const seconds = Math.max(1, Math.ceil(limit.waitMs / 1000));
  const when =
    limit.kind === "primary"
      ? `GitHub's hourly API limit for your account is used up; it resets in ${describeSeconds(seconds)}`
      : `GitHub asked us to slow down (a secondary rate limit) for ${describeSeconds(seconds)}`;
  const error = new AppError("TOO_MANY_REQUESTS", `${when}. Try again then.`, {
    cause: { retryAfterSeconds: seconds, error: cause },
  });
  return error;
}

function describeSeconds(seconds: number): string {
  if (seconds < 90) return `${seconds} s`;
  return `${Math.round(seconds / 60)} min`;
}

/** A path without its query string (which may hold a page cursor, never worth logging). */
function pathOf(url: unknown): string {
  const text = String(url ?? "");
  return text.split("?")[0] ?? text;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
