import { z } from "zod";
import { createApiToken, listApiTokens, revokeApiToken } from "../../services/api-tokens.ts";
import { protectedProcedure, router } from "../init.ts";
import { ownerOf } from "../owner.ts";

export const tokensRouter = router({
  list: protectedProcedure.query(({ ctx }) => listApiTokens(ctx.db, ownerOf(ctx))),
  create: protectedProcedure
    .input(
      z.object({
        name: z
          .string()
          .trim()
          .min(1, { error: "give the token a name" })
          .max(100, { error: "keep the name under 100 characters" }),
        expiresInDays: z
          .number()
          .int()
          .min(1, { error: "must be at least 1 day" })
          .max(365, { error: "must be at most 365 days" })
          .optional(),
      }),
    )
    .mutation(({ ctx, input }) =>
      createApiToken(ctx.db, ownerOf(ctx), input, { limit: ctx.env.API_TOKEN_LIMIT }),
    ),
  revoke: protectedProcedure
    .input(z.object({ id: z.uuid({ error: "expected a token id from tokens.list" }) }))
    .mutation(({ ctx, input }) => revokeApiToken(ctx.db, ownerOf(ctx), input.id)),
});
