import { APIConnectionError, APIError, APIUserAbortError } from "cloudflare";
import { AppError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { OutboundRequestObserver } from "../process/outbound-requests.ts";

// One Cloudflare API call with our retry policy (ADR 0018), in place of the SDK's: the SDK
// sleeps whatever retry-after says, and Cloudflare's global rate limit blocks a token for
// five minutes, so one DNS call could hold a job for minutes. Here a 429 is waited out only
// when Cloudflare asks for at most `maxWaitMs`; otherwise the step fails as retryable with
// `retryAfterMs`, and the job queue tries again later. 5xx, 408 and lost connections are
// retried with a short backoff. Every retry is logged with Cloudflare's error codes (never
// the token); `signal` aborts the request in flight and any wait.

export type CloudflareCallOptions = {
  logger?: Logger;
  /** Retries of one call after 5xx, 408, a lost connection or a short 429; 4 unless given. */
  maxRetries?: number;
  /** The longest wait inside one call; longer ones fail the step as retryable. 10 s unless given. */
  maxWaitMs?: number;
  signal?: AbortSignal;
};

/** A Cloudflare failure worth asking again about later, and how much later at least. */
export class CloudflareRetryLaterError extends AppError {
  readonly retryable = true;
  constructor(
    message: string,
    readonly retryAfterMs: number,
    readonly cloudflareCodes: number[],
    options?: { cause?: unknown },
  ) {
    super("TOO_MANY_REQUESTS", message, options);
  }
}

/** A Cloudflare refusal that asking again cannot fix: the job fails at once. */
export class CloudflarePermanentError extends AppError {
  readonly retryable = false;
  constructor(
    message: string,
    readonly cloudflareCodes: number[],
    options?: { cause?: unknown },
  ) {
    super("BAD_REQUEST", message, options);
  }
}

const defaultMaxWaitMs = 10_000;
// "If you exceed this limit, all API calls for the next five minutes will be blocked."
const globalBlockMs = 5 * 60_000;
const firstBackoffMs = 500;

/**
 * The fetch our Cloudflare SDK clients send every request through: each answer's status (or
 * none) reaches `observe`. Undefined without an observer, so the SDK keeps its own fetch.
 */
export function observedFetch(observe: OutboundRequestObserver | undefined) {
  if (!observe) return undefined;
  return async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    try {
      const response = await fetch(input, init);
      observe({ provider: "cloudflare", status: response.status });
      return response;
    } catch (error) {
      observe({ provider: "cloudflare", status: undefined });
      throw error;
    }
  };
}

/** Cloudflare's error codes in a failure (`errors[].code`), for logs and decisions. */
export function codesOf(error: unknown): number[] {
  if (!(error instanceof APIError)) return [];
  return error.errors.map((detail) => detail.code ?? 0).filter((code) => code !== 0);
}

/** How long Cloudflare asks us to wait after a 429: its retry-after, else the 5-minute block. */
export function rateLimitWaitMs(error: APIError): number {
  const header = error.headers?.get("retry-after");
  const seconds = header === null || header === undefined ? Number.NaN : Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : globalBlockMs;
}

function isTransient(error: unknown): boolean {
  if (error instanceof APIUserAbortError) return false;
  if (error instanceof APIConnectionError) return true;
  return error instanceof APIError && (error.status === 408 || (error.status ?? 0) >= 500);
}

/** Runs `send` (one SDK call, given the options to pass it) under the retry policy. */
export async function callCloudflare<T>(
  operation: string,
  options: CloudflareCallOptions,
  send: (requestOptions: { signal?: AbortSignal; maxRetries: 0 }) => Promise<T>,
): Promise<T> {
  const maxRetries = options.maxRetries ?? 4;
  const maxWaitMs = options.maxWaitMs ?? defaultMaxWaitMs;
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await send({ signal: options.signal, maxRetries: 0 });
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason ?? error;
      const waitMs = retryWait(error, attempt, maxWaitMs);
      if (waitMs === undefined || attempt >= maxRetries) throw giveUp(operation, error, maxWaitMs);
      const status = (error instanceof APIError && error.status) || "no answer";
      options.logger?.warn(
        { operation, status, codes: codesOf(error), attempt: attempt + 1, waitMs },
        `Cloudflare answered ${operation} with ${status}; retrying in ${waitMs} ms`,
      );
      await sleep(waitMs, options.signal);
    }
  }
}

/** The wait before trying again, or undefined when this failure is not retried here. */
function retryWait(error: unknown, attempt: number, maxWaitMs: number): number | undefined {
  if (error instanceof APIError && error.status === 429) {
    const waitMs = rateLimitWaitMs(error);
    return waitMs <= maxWaitMs ? waitMs : undefined;
  }
  if (!isTransient(error)) return undefined;
  // Full jitter, so workers that failed together do not come back together.
  return Math.min(maxWaitMs, Math.round(firstBackoffMs * 2 ** attempt * (0.5 + Math.random() / 2)));
}

function giveUp(operation: string, error: unknown, maxWaitMs: number): unknown {
  if (!(error instanceof APIError) || error.status !== 429) return error;
  const waitMs = rateLimitWaitMs(error);
  const seconds = Math.ceil(waitMs / 1000);
  const codes = codesOf(error);
  const why =
    waitMs > maxWaitMs
      ? `Cloudflare's API rate limit blocks this token for ${seconds} s (it blocks for five minutes once 1,200 requests in five minutes are passed)`
      : "Cloudflare kept answering 429 (rate limited)";
  return new CloudflareRetryLaterError(
    `${why}; ${operation} is tried again after that${codes.length ? ` (Cloudflare code ${codes.join(", ")})` : ""}. If it keeps happening, check what else uses this Cloudflare token.`,
    waitMs,
    codes,
    { cause: error },
  );
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
