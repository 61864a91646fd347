// What a failed tRPC query's error says about asking again.

const codeOf = (error: unknown): string | undefined =>
  (error as { data?: { code?: unknown } } | null)?.data?.code as string | undefined;

/** The answer was "no such thing of yours": asking again will not change it. */
export const isNotFound = (error: unknown) => codeOf(error) === "NOT_FOUND";

const refusals = new Set(["NOT_FOUND", "UNAUTHORIZED", "FORBIDDEN", "BAD_REQUEST"]);

/** React Query's `retry`: up to three times, but never after a refusal. */
export const retryUnlessRefused = (failures: number, error: unknown) =>
  failures < 3 && !refusals.has(codeOf(error) ?? "");
