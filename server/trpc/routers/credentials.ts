import { z } from "zod";
import { createHetznerProvider } from "../../providers/hetzner.ts";
import { getCredential, removeCredential, setCredential } from "../../services/credentials.ts";
import { protectedProcedure, router } from "../init.ts";
import { ownerOf } from "../owner.ts";

export const credentialsRouter = router({
  hetzner: router({
    /** Whether a token is saved, its last four characters and when; never the token. */
    get: protectedProcedure.query(({ ctx }) => getCredential(ctx.db, ownerOf(ctx), "hetzner")),
    set: protectedProcedure
      .input(
        z.object({
          token: z
            .string()
            .trim()
            .regex(/^[A-Za-z0-9]{32,128}$/, {
              error: "expected a Hetzner Cloud API token (Hetzner Console → Security → API tokens)",
            }),
        }),
      )
      .mutation(({ ctx, input }) =>
        setCredential(ctx.db, ctx.keyring, ownerOf(ctx), {
          provider: "hetzner",
          token: input.token,
          validate: (token) =>
            createHetznerProvider({
              token,
              apiUrl: ctx.env.HETZNER_API_URL,
              observe: ctx.observeOutboundRequest,
            }).validateToken(),
        }),
      ),
    remove: protectedProcedure.mutation(({ ctx }) =>
      removeCredential(ctx.db, ownerOf(ctx), "hetzner"),
    ),
  }),
});
