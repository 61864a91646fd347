import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import { ZodError } from "zod";
import { AppError, describeZodError, internalErrorMessage } from "../errors.ts";
import type { TrpcContext } from "./context.ts";

// The one initTRPC of the project: it exports builders only.

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
    if (error.code === "INTERNAL_SERVER_ERROR") {
      return { ...shape, message: internalErrorMessage, data };
    }
    return { ...shape, data };
  },
});

/** Turns a service's AppError into the TRPCError with the same code and message. */
const mapAppErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && result.error.cause instanceof AppError) {
    const cause = result.error.cause;
    throw new TRPCError({ code: cause.code, message: cause.message, cause });
  }
  return result;
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
export const publicProcedure = t.procedure.use(mapAppErrors);

/** Signed in by session cookie or API token; `ctx.user` is set. */
export const protectedProcedure = publicProcedure.use(({ ctx, next }) => {
  if (!ctx.auth.user) {
    throw new TRPCError({
      code: "UNAUTHORIZED",
      message:
        "You are not signed in. Sign in with GitHub, or send an API token as `Authorization: Bearer <token>`.",
    });
  }
  return next({ ctx: { ...ctx, user: ctx.auth.user } });
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
