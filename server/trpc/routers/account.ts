import { z } from "zod";
import { deleteAccount } from "../../services/users.ts";
import { protectedProcedure, router } from "../init.ts";

export const accountRouter = router({
  delete: protectedProcedure
    .input(z.object({ confirmLogin: z.string({ error: "type your GitHub login to confirm" }) }))
    .mutation(({ ctx, input }) => deleteAccount(ctx.db, ctx.user.id, input.confirmLogin)),
});
