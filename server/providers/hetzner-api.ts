import { setTimeout as sleepFor } from "node:timers/promises";
import { z } from "zod";
import { AppError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { OutboundRequestObserver } from "../process/outbound-requests.ts";
import {
  describeAnswer,
  errorFieldsOf,
  type HetznerApiError,
  rateLimitWaitMs,
  toHetznerApiError,
} from "./hetzner-errors.ts";

export { HetznerApiError } from "./hetzner-errors.ts";

// The HTTP side of the Hetzner provider: bearer auth, timeouts, rate limits (429: wait until
// the budget has room, from RateLimit-*), bounded retries with backoff for 5xx, lost responses,
// `locked` and `conflict`; every other 4xx fails at once (ADR 0019). Paging, waiting for
// actions, and the caller's AbortSignal. Messages and logs name the method and path, never
// the token.

export type HetznerTiming = {
  /** Tries per request for 5xx, network failures, `locked` and `conflict`, the first included. */
  attempts: number;
  /** Tries per request while Hetzner answers 429. */
  rateLimitAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** The longest one 429 may make us wait: the budget refills a request a second. */
  maxRateLimitWaitMs: number;
  requestTimeoutMs: number;
  actionPollMs: number;
  /** Polls of one action before giving up on it. */
  actionMaxPolls: number;
  /**
   * How to wait; tests pass one that records the delay instead of sleeping. It should end
   * early when `signal` aborts; the client checks the signal after every wait either way.
   */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
};

export const defaultHetznerTiming: HetznerTiming = {
  attempts: 4,
  rateLimitAttempts: 6,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
  maxRateLimitWaitMs: 10_000,
  requestTimeoutMs: 30_000,
  actionPollMs: 1_000,
  actionMaxPolls: 900,
  sleep: (ms, signal) => sleepFor(ms, undefined, { signal }),
};

/**
 * The caller aborted (a drained worker, a job taken by another one): the request in flight
 * was cut off and nothing is retried. Not marked permanent: whether the job runs again is the
 * runner's decision, not ours.
 */
export class HetznerAbortedError extends Error {
  override readonly name = "HetznerAbortedError";
  constructor(what: string, reason: unknown) {
    const why = reason instanceof Error && reason.message ? ` (${reason.message})` : "";
    super(`Hetzner API ${what} was aborted${why}; it was not retried`, { cause: reason });
  }
}

/** An action Hetzner ran ended in `error`, e.g. a server whose creation failed. */
export class HetznerActionError extends Error {
  override readonly name = "HetznerActionError";
  constructor(
    readonly command: string,
    readonly actionId: number,
    readonly code: string,
    readonly reason: string,
  ) {
    super(`Hetzner action ${command} (${actionId}) failed: ${code}: ${reason}`);
  }
}

export const actionSchema = z.object({
  id: z.number(),
  command: z.string(),
  status: z.enum(["running", "success", "error"]),
  error: z.object({ code: z.string(), message: z.string() }).nullable().optional(),
});
export type HetznerAction = z.infer<typeof actionSchema>;

const pageSchema = z
  .object({
    meta: z.object({ pagination: z.object({ next_page: z.number().nullable() }) }).optional(),
  })
  .catchall(z.unknown());
type PageAnswer = z.infer<typeof pageSchema>;

export type Query = Record<string, string | number | undefined>;

export type RequestOptions<T> = {
  query?: Query;
  body?: unknown;
  /**
   * For requests that are not safe to repeat (creates): after an unclear failure or a
   * uniqueness error, looks for what an earlier try may have made; a result ends the retries.
   */
  recover?: () => Promise<T | undefined>;
};

export type HetznerApi = {
  request: <S extends z.ZodType>(
    method: string,
    path: string,
    schema: S,
    options?: RequestOptions<z.infer<S>>,
  ) => Promise<z.infer<S>>;
  /** Every item of a paged list endpoint, e.g. `listAll("/servers", "servers", schema)`. */
  listAll: <S extends z.ZodType>(
    path: string,
    key: string,
    itemSchema: S,
    query?: Query,
  ) => Promise<z.infer<S>[]>;
  /** Resolves when every action succeeded; throws when one ended in error. */
  waitForActions: (actions: HetznerAction[]) => Promise<void>;
};

/** One try's outcome. `status`, `code` and `fields` are what a retry's log line reports. */
type Failure = { detail: string; status?: number; code?: string; fields?: unknown };
type Attempt =
  | { kind: "ok"; body: unknown }
  | ({ kind: "rate-limited"; headers: Headers } & Failure)
  | ({ kind: "transient" } & Failure)
  | { kind: "refused"; error: HetznerApiError };

export function createHetznerApi(options: {
  token: string;
  apiUrl: string;
  logger?: Logger;
  timing: HetznerTiming;
  /** Aborts every request in flight, every retry wait and every action poll. */
  signal?: AbortSignal;
  /** Told of every try's answer (metrics): retries count, each with its own status. */
  observe?: OutboundRequestObserver;
}): HetznerApi {
  const { timing, logger, signal } = options;
  const base = options.apiUrl.replace(/\/+$/, "");

  function throwIfAborted(what: string): void {
    if (signal?.aborted) throw new HetznerAbortedError(what, signal.reason);
  }

  /** A wait that ends with HetznerAbortedError as soon as the caller aborts. */
  async function wait(what: string, ms: number): Promise<void> {
    throwIfAborted(what);
    try {
      await timing.sleep(ms, signal);
    } catch (error) {
      throwIfAborted(what);
      throw error;
    }
    throwIfAborted(what);
  }

  async function attemptOnce(method: string, path: string, init: RequestOptions<unknown>) {
    const url = new URL(`${base}${path}`);
    for (const [name, value] of Object.entries(init.query ?? {}))
      if (value !== undefined) url.searchParams.set(name, String(value));
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${options.token}`,
          accept: "application/json",
          ...(init.body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
        signal: withTimeout(signal, timing.requestTimeoutMs),
      });
      text = await response.text();
    } catch (error) {
      options.observe?.({ provider: "hetzner", status: undefined });
      throwIfAborted(`${method} ${path}`);
      return { kind: "transient", detail: `did not answer (${describeFailure(error)})` } as const;
    }
    options.observe?.({ provider: "hetzner", status: response.status });
    return classifyAnswer(method, path, response, text);
  }

  async function request<S extends z.ZodType>(
    method: string,
    path: string,
    schema: S,
    init: RequestOptions<z.infer<S>> = {},
  ): Promise<z.infer<S>> {
    let failures = 0;
    let rateLimits = 0;
    for (;;) {
      throwIfAborted(`${method} ${path}`);
      const attempt: Attempt = await attemptOnce(method, path, init);
      if (attempt.kind === "ok") return parseAnswer(method, path, schema, attempt.body);
      if (attempt.kind === "refused") {
        const { error } = attempt;
        if (error.code === "uniqueness_error") {
          const found = await init.recover?.();
          if (found !== undefined) return found;
        }
        // Permanent refusals are never asked again (ADR 0019); `locked`/`conflict` briefly.
        failures += 1;
        if (!error.retryable || failures >= timing.attempts) throw error;
        const failure = {
          detail: `answered ${error.status}`,
          status: error.status,
          code: error.code,
          fields: error.fields,
        };
        await pause(method, path, failure, failures, backoffMs(timing, failures));
        continue;
      }
      if (attempt.kind === "rate-limited") {
        rateLimits += 1;
        if (rateLimits >= timing.rateLimitAttempts) throw rateLimitError(method, path, rateLimits);
        const waitMs = Math.min(
          rateLimitWaitMs(attempt.headers, rateLimits),
          timing.maxRateLimitWaitMs,
        );
        await pause(method, path, attempt, rateLimits, waitMs);
        continue;
      }
      failures += 1;
      if (failures >= timing.attempts)
        throw new Error(
          `Hetzner API ${attempt.detail} to ${method} ${path} after ${failures} attempts`,
        );
      await pause(method, path, attempt, failures, backoffMs(timing, failures));
      const found = await init.recover?.();
      if (found !== undefined) return found;
    }
  }

  /** Every retry is logged: what failed, Hetzner's code and fields, and how long we wait. */
  async function pause(
    method: string,
    path: string,
    failure: Failure,
    attempt: number,
    waitMs: number,
  ) {
    const { detail: reason, status, code, fields } = failure;
    logger?.warn(
      { method, path, status, code, fields, reason, attempt, waitMs },
      "Hetzner API request failed; retrying",
    );
    await wait(`${method} ${path}`, waitMs);
  }

  async function listAll<S extends z.ZodType>(
    path: string,
    key: string,
    itemSchema: S,
    query: Query = {},
  ): Promise<z.infer<S>[]> {
    const itemsSchema = z.array(itemSchema);
    const items: z.infer<S>[] = [];
    for (let page: number | null = 1; page !== null;) {
      const answer: PageAnswer = await request("GET", path, pageSchema, {
        query: { ...query, page, per_page: 50 },
      });
      items.push(...parseAnswer("GET", path, itemsSchema, answer[key]));
      page = answer.meta?.pagination.next_page ?? null;
    }
    return items;
  }

  async function waitForAction(action: HetznerAction): Promise<void> {
    let current = action;
    for (let polls = 0; current.status === "running"; polls += 1) {
      if (polls >= timing.actionMaxPolls)
        throw new Error(
          `Hetzner action ${current.command} (${current.id}) was still running after ${polls} polls`,
        );
      await wait(`wait for action ${current.command} (${current.id})`, timing.actionPollMs);
      const answer = await request(
        "GET",
        `/actions/${current.id}`,
        z.object({ action: actionSchema }),
      );
      current = answer.action;
    }
    if (current.status === "error")
      throw new HetznerActionError(
        current.command,
        current.id,
        current.error?.code ?? "error",
        current.error?.message ?? "no reason given",
      );
  }

  return {
    request,
    listAll,
    waitForActions: async (actions) => {
      for (const action of actions) await waitForAction(action);
    },
  };
}

function classifyAnswer(method: string, path: string, response: Response, text: string): Attempt {
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (response.ok) return { kind: "ok", body };
  const { status } = response;
  const failure = { status, ...errorFieldsOf(body), detail: describeAnswer(status, body) };
  if (status === 429) return { kind: "rate-limited", headers: response.headers, ...failure };
  if (status >= 500) return { kind: "transient", ...failure };
  return { kind: "refused", error: toHetznerApiError(method, path, status, body) };
}

function parseAnswer<S extends z.ZodType>(
  method: string,
  path: string,
  schema: S,
  body: unknown,
): z.infer<S> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  throw new Error(
    `Hetzner API sent an answer we do not understand to ${method} ${path}: ${z.prettifyError(parsed.error)}`,
  );
}

/** `k=v,k2=v2`, Hetzner's label selector for "carries all of these"; undefined for none. */
export function toLabelSelector(labels: Record<string, string>): string | undefined {
  const terms = Object.entries(labels).map(([key, value]) => `${key}=${value}`);
  return terms.length > 0 ? terms.join(",") : undefined;
}

/** The request's own timeout, cut short when the caller aborts. */
function withTimeout(signal: AbortSignal | undefined, timeoutMs: number): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs);
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}

/** Exponential backoff with jitter, so retrying workers do not hit Hetzner in step. */
function backoffMs(timing: HetznerTiming, attempt: number): number {
  const ceiling = Math.min(timing.maxDelayMs, timing.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

function rateLimitError(method: string, path: string, attempts: number): AppError {
  return new AppError(
    "TOO_MANY_REQUESTS",
    `Hetzner kept answering 429 (rate limit exceeded) to ${method} ${path} after ${attempts} attempts. Hetzner allows 3600 requests an hour per project; wait a few minutes and try again.`,
  );
}

function describeFailure(error: unknown): string {
  if (error instanceof DOMException && error.name === "TimeoutError") return "timed out";
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return `${error.message}${cause}`;
}
