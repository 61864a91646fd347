import { databaseErrorCode } from "./queue.ts";

// How a job's failure is described: in its record (shown to users) and in the logs.

/**
 * The message a job's failure is recorded (and shown to users) with. Drizzle wraps driver
 * errors in one whose message lists the query and its parameters, which may hold token
 * hashes: for those, the driver's own message is used instead.
 */
export function describeFailure(error: unknown): string {
  let current = error;
  while (
    current instanceof Error &&
    current.cause instanceof Error &&
    current.message.startsWith("Failed query")
  )
    current = current.cause;
  return current instanceof Error ? current.message : String(current);
}

/**
 * What to log about a database error: its code and the driver's message. Never drizzle's
 * wrapper message, which lists the query's parameters.
 */
export function describeError(error: unknown): { code?: string; reason: string } {
  return { code: databaseErrorCode(error), reason: describeFailure(error) };
}

/**
 * How long a provider asked us to wait before trying again (`retryAfterMs` on the error or
 * any error it wraps, as CloudflareRetryLaterError carries): the job's next attempt runs no
 * earlier, so a five-minute block is not met with attempts that each burn one.
 */
export function retryAfterOf(error: unknown): number | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 8; depth += 1) {
    const retryAfterMs = (current as { retryAfterMs?: unknown }).retryAfterMs;
    if (typeof retryAfterMs === "number" && Number.isFinite(retryAfterMs) && retryAfterMs > 0)
      return retryAfterMs;
    current = current.cause;
  }
  return undefined;
}
