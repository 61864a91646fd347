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

/** The Retry-After seconds a rate limit put in an AppError's cause, if any. */
export function retryAfterOf(error: unknown): number | undefined {
  const cause =
    error instanceof AppError
      ? (error.cause as { retryAfterSeconds?: number } | undefined)
      : undefined;
  return cause?.retryAfterSeconds;
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

/** RFC 7807 body for any thrown value; unknown errors become a generic 500. */
export function toProblemDetails(error: unknown, instance?: string): ProblemDetails {
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
