import { initTRPC, TRPCError } from "@trpc/server";
import { TRPC_ERROR_CODES_BY_KEY } from "@trpc/server/rpc";
import superjson from "superjson";
import { ZodError } from "zod";
import {
  AppError,
  asDatabaseUnavailable,
  databaseUnavailableMessage,
  describeZodError,
  internalErrorMessage,
  isDatabaseUnavailable,
} from "../errors.ts";
import type { TrpcContext } from "./context.ts";

// The one initTRPC of the project: it exports builders only.

// What tRPC's fetch adapter says when a batch is over `maxBatchSize` (handler.ts); the
// answer should say what the limit is called and what to do.
const batchTooLargeMessage = "Batch call exceeds maximum size";
const batchTooLargeAdvice =
  "Too many calls in one batch request: this server runs none of them above its limit (API_MAX_BATCH_CALLS, 20 unless set). Send them in smaller batches, e.g. httpBatchLink's maxItems option.";

const t = initTRPC.context<TrpcContext>().create({
  transformer: superjson,
  isDev: false,
  errorFormatter({ shape, error }) {
    const { stack: _stack, ...data } = shape.data;
    if (error.cause instanceof ZodError) {
      return {
        ...shape,
        message: describeZodError(error.cause),
        data: { ...data, issues: error.cause.issues },
      };
    }
    // A service's refusal of one field reads like zod's: one way for forms to place messages.
    if (error.cause instanceof AppError && error.cause.field) {
      const issue = { code: "custom", path: [error.cause.field], message: error.message };
      return { ...shape, data: { ...data, issues: [issue] } };
    }
    // A database outage outside a procedure (the caller's session or rate limit, read while
    // the context is made) is the same 503 a procedure's is; Retry-After is set in handler.ts.
    if (error.code === "INTERNAL_SERVER_ERROR" && isDatabaseUnavailable(error.cause)) {
      return {
        ...shape,
        code: TRPC_ERROR_CODES_BY_KEY.SERVICE_UNAVAILABLE,
        message: databaseUnavailableMessage,
        data: { ...data, code: "SERVICE_UNAVAILABLE" as const, httpStatus: 503 },
      };
    }
    if (error.code === "INTERNAL_SERVER_ERROR") {
      return { ...shape, message: internalErrorMessage, data };
    }
    if (error.code === "BAD_REQUEST" && error.message === batchTooLargeMessage) {
      return { ...shape, message: batchTooLargeAdvice, data };
    }
    return { ...shape, data };
  },
});

/** The TRPCError with an AppError's code and message (the one mapping, SPEC §11). */
export function toTrpcError(error: AppError): TRPCError {
  return new TRPCError({ code: error.code, message: error.message, cause: error });
}

/** A service's AppError (or a database outage, ADR 0025) as the TRPCError with its code. */
function rethrowAppErrors<Result extends { ok: true } | { ok: false; error: { cause?: unknown } }>(
  result: Result,
): Result {
  if (result.ok) return result;
  if (result.error.cause instanceof AppError) throw toTrpcError(result.error.cause);
  const outage = asDatabaseUnavailable(result.error.cause);
  if (outage) throw toTrpcError(outage);
  return result;
}

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
export const publicProcedure = t.procedure.use(async ({ next }) => rethrowAppErrors(await next()));

/**
 * Signed in by session cookie or API token; `ctx.user` is set. One middleware, not a second
 * one on publicProcedure: tRPC copies a call's options twice for each (ADR 0029).
 */
export const protectedProcedure = t.procedure.use(async ({ ctx, next }) => {
  if (!ctx.auth.user) {
    throw new TRPCError({
      code: "UNAUTHORIZED",
      message:
        "You are not signed in. Sign in with GitHub, or send an API token as `Authorization: Bearer <token>`.",
    });
  }
  // tRPC merges this into ctx itself: a spread of ctx here would copy it twice.
  return rethrowAppErrors(await next({ ctx: { user: ctx.auth.user } }));
});

export const adminProcedure = protectedProcedure.use(({ ctx, next }) => {
  if (ctx.user.role !== "admin") {
    throw new TRPCError({
      code: "FORBIDDEN",
      message: "Only admins can do this. Ask an admin of this install for help.",
    });
  }
  return next();
});
