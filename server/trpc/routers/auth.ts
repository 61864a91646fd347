import { z } from "zod";
import { listSessions, revokeAllSessions, revokeSession } from "../../auth/sessions.ts";
import { protectedProcedure, router } from "../init.ts";

export const authRouter = router({
  me: protectedProcedure.query(({ ctx }) => ({ user: ctx.user, via: ctx.auth.via })),
  sessions: router({
    list: protectedProcedure.query(({ ctx }) => listSessions(ctx.db, ctx.user, ctx.auth.sessionId)),
    revoke: protectedProcedure
      .input(
        z.object({
          id: z
            .string()
            .regex(/^[0-9a-f]{24}$/, { error: "expected a session id from auth.sessions.list" }),
        }),
      )
      .mutation(({ ctx, input }) => revokeSession(ctx.db, ctx.user, input.id)),
    /** Sign out everywhere, this browser included. */
    revokeAll: protectedProcedure.mutation(({ ctx }) => revokeAllSessions(ctx.db, ctx.user)),
  }),
});
