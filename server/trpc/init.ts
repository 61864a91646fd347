import { initTRPC, TRPCError } from "@trpc/server";
import { TRPC_ERROR_CODES_BY_KEY } from "@trpc/server/rpc";
import superjson from "superjson";
import { ZodError } from "zod";
import {
  AppError,
  asDatabaseUnavailable,
  describeZodError,
  httpStatusOf,
  internalErrorMessage,
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
    const known = appErrorOf(error);
    if (known) {
      const mapped = {
        ...shape,
        code: TRPC_ERROR_CODES_BY_KEY[known.code],
        message: known.message,
        data: { ...data, code: known.code, httpStatus: httpStatusOf(known.code) },
      };
      if (!known.field) return mapped;
      // A service's refusal of one field reads like zod's: one way for forms to place messages.
      const issue = { code: "custom", path: [known.field], message: known.message };
      return { ...mapped, data: { ...mapped.data, issues: [issue] } };
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

/**
 * The AppError a tRPC error stands for: a procedure middleware's mapped one, or one that
 * reached tRPC unmapped, as INTERNAL_SERVER_ERROR: a service's AppError in a public procedure
 * (which has no middleware: one costs a call ~6 µs, ADR 0030), or a database outage while
 * the context is made (the caller's session or rate limit), which becomes the same 503.
 */
export function appErrorOf(error: TRPCError): AppError | undefined {
  if (error.cause instanceof AppError) return error.cause;
  if (error.code !== "INTERNAL_SERVER_ERROR") return undefined;
  return asDatabaseUnavailable(error.cause);
}

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
/**
 * No middleware: `appErrorOf` in the formatter gives a service's AppError its code and status
 * on the wire. A server-side caller sees it as INTERNAL_SERVER_ERROR with the AppError as
 * its cause (only system.info is public).
 */
export const publicProcedure = t.procedure;

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
