import { z } from "zod";
import { secretNameSchema, secretValueSchema } from "../../../protocol/agent-sessions.ts";
import { deleteSecret, listSecrets, setSecret } from "../../services/secrets.ts";
import { protectedProcedure, router } from "../init.ts";
import { ownerOf } from "../owner.ts";

// SPEC §14: the user's named secrets. Values go in and never come out: every answer is names
// and dates, and the output schemas strip anything else a service might let slip.

const secretSummarySchema = z.object({
  name: z.string(),
  createdAt: z.date(),
  updatedAt: z.date(),
});

export const secretsRouter = router({
  /** Names and dates, by name; never a value. */
  list: protectedProcedure
    .output(z.array(secretSummarySchema))
    .query(({ ctx }) => listSecrets(ctx.db, ownerOf(ctx))),
  /** Creates or replaces the secret `name` (an environment variable in new shells). */
  set: protectedProcedure
    .input(z.object({ name: secretNameSchema, value: secretValueSchema }))
    .output(secretSummarySchema)
    .mutation(({ ctx, input }) => setSecret(ctx.db, ctx.keyring, ownerOf(ctx), input)),
  delete: protectedProcedure
    .input(z.object({ name: secretNameSchema }))
    .output(z.object({ name: z.string() }))
    .mutation(({ ctx, input }) => deleteSecret(ctx.db, ownerOf(ctx), input.name)),
});
