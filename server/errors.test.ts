import { describe, expect, it } from "vitest";
import {
  AppError,
  asDatabaseUnavailable,
  isDatabaseUnavailable,
  retryAfterOf,
  toProblemDetails,
} from "./errors.ts";

describe("toProblemDetails", () => {
  it("keeps an AppError's code and message", () => {
    const problem = toProblemDetails(
      new AppError("CONFLICT", "A workspace named demo exists. Pick another name."),
      "req-1",
    );
    expect(problem).toEqual({
      type: "urn:cloud-ai-workspaces:error:conflict",
      title: "conflict",
      status: 409,
      detail: "A workspace named demo exists. Pick another name.",
      instance: "req-1",
    });
  });

  it("hides the message of anything else behind a generic 500", () => {
    const problem = toProblemDetails(new Error("password authentication failed for user admin"));
    expect(problem.status).toBe(500);
    expect(problem.detail).not.toContain("password");
    expect(problem.detail).toMatch(/request id/);
  });
});

describe("a database outage (ADR 0025)", () => {
  const postgresError = (code: string) =>
    Object.assign(new Error(`database said ${code}`), { code });
  // drizzle wraps the driver's error; tRPC wraps drizzle's.
  const wrapped = (error: Error) => new Error("Failed query: insert …", { cause: error });

  it.each(["CONNECTION_CLOSED", "ECONNREFUSED", "ECONNRESET", "57P01", "57P03", "08006"])(
    "is a 503 with Retry-After for %s, also when wrapped",
    (code) => {
      const error = wrapped(postgresError(code));
      expect(isDatabaseUnavailable(error)).toBe(true);
      const problem = toProblemDetails(error, "req-2");
      expect(problem).toMatchObject({ status: 503, title: "service unavailable" });
      expect(problem.detail).toMatch(/Try again in a few seconds/);
      expect(problem.detail).not.toContain(code);
      expect(retryAfterOf(error)).toBe(2);
      expect(asDatabaseUnavailable(error)?.code).toBe("SERVICE_UNAVAILABLE");
    },
  );

  it("leaves other database errors (a unique violation) a 500 without Retry-After", () => {
    const error = wrapped(postgresError("23505"));
    expect(isDatabaseUnavailable(error)).toBe(false);
    expect(toProblemDetails(error).status).toBe(500);
    expect(retryAfterOf(error)).toBeUndefined();
  });
});
