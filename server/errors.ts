import type { ZodError } from "zod";
// The one typed error that services throw (SPEC §11), and the one place that maps it to
// tRPC codes and HTTP statuses.

export const appErrorStatus = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PRECONDITION_FAILED: 412,
  PAYLOAD_TOO_LARGE: 413,
  TOO_MANY_REQUESTS: 429,
  SERVICE_UNAVAILABLE: 503,
} as const;

export type AppErrorCode = keyof typeof appErrorStatus;

/**
 * An expected failure whose message is safe to show: it says what went wrong and how to fix it.
 * `field` names the input field at fault (e.g. `branch`), so a form can put the message beside
 * it: tRPC sends it as `data.issues`, in the shape of zod's issues (trpc/init.ts).
 */
export class AppError extends Error {
  readonly field: string | undefined;
  constructor(
    readonly code: AppErrorCode,
    message: string,
    options?: { cause?: unknown; field?: string },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "AppError";
    this.field = options?.field;
  }
}

export function httpStatusOf(code: AppErrorCode): number {
  return appErrorStatus[code];
}

/**
 * The Retry-After seconds a rate limit put in an AppError's cause, if any; for a database
 * outage (raw or already mapped), the seconds of `databaseRetryAfterSeconds`.
 */
export function retryAfterOf(error: unknown): number | undefined {
  const known = error instanceof AppError ? error : asDatabaseUnavailable(error);
  const cause = known?.cause as { retryAfterSeconds?: number } | undefined;
  return cause?.retryAfterSeconds;
}

// Error codes that mean "the database is not there right now", not "this request is wrong"
// (ADR 0025): postgres.js's own (CONNECTION_*), the socket's (E*), and PostgreSQL's SQLSTATE
// classes 08 (connection exception) and 57P (operator intervention: admin_shutdown 57P01 on
// a restart, crash_shutdown 57P02, cannot_connect_now 57P03 while it starts or stops).
const databaseOutageCodes = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECTION_ENDED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "57P01",
  "57P02",
  "57P03",
  "53300",
]);

/** Seconds a client is told to wait when the database is away: a restart takes a few. */
export const databaseRetryAfterSeconds = 2;

export const databaseUnavailableMessage =
  "The database is not reachable right now (it may be restarting). Try again in a few seconds: a create sent again with the same idempotency key, or a delete sent again, does its work only once";

/** Whether `error` (or an error it wraps: drizzle, tRPC) is the database being away. */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 6; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && (databaseOutageCodes.has(code) || code.startsWith("08")))
      return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** The one AppError a database outage becomes: 503 with Retry-After, everywhere. */
export function asDatabaseUnavailable(error: unknown): AppError | undefined {
  if (error instanceof AppError || !isDatabaseUnavailable(error)) return undefined;
  return new AppError("SERVICE_UNAVAILABLE", databaseUnavailableMessage, {
    cause: { retryAfterSeconds: databaseRetryAfterSeconds, error },
  });
}

export type ProblemDetails = {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
};

const genericDetail =
  "Something went wrong on our side. Try again; if it keeps happening, report it with the request id.";

/** RFC 7807 body for any thrown value; a database outage is a 503, unknown errors a generic 500. */
export function toProblemDetails(thrown: unknown, instance?: string): ProblemDetails {
  const error = asDatabaseUnavailable(thrown) ?? thrown;
  if (error instanceof AppError) {
    return {
      type: `urn:cloud-ai-workspaces:error:${error.code.toLowerCase()}`,
      title: error.code.replaceAll("_", " ").toLowerCase(),
      status: httpStatusOf(error.code),
      detail: error.message,
      instance,
    };
  }
  return {
    type: "urn:cloud-ai-workspaces:error:internal",
    title: "internal server error",
    status: 500,
    detail: genericDetail,
    instance,
  };
}

export const internalErrorMessage = genericDetail;

/** One line naming every bad field, for tRPC answers and REST problem details alike. */
export function describeZodError(error: ZodError): string {
  const problems = error.issues.map((issue) => {
    const field = issue.path.length > 0 ? issue.path.join(".") : "input";
    return `${field}: ${issue.message}`;
  });
  return `Invalid input: ${problems.join("; ")}`;
}
