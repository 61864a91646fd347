import { z } from "zod";
import { sessionNameSchema } from "../../../protocol/agent-sessions.ts";
import { createTerminalUrl } from "../../services/terminal-access.ts";
import { protectedProcedure, router } from "../init.ts";
import { ownerOf } from "../owner.ts";

// The link is opened at once, and the agent swaps it for its own cookie; a short life keeps
// a link that leaks (history, a shared screen) from being useful for long.
const terminalLinkSeconds = 5 * 60;

export const terminalRouter = router({
  token: protectedProcedure
    .input(
      z.object({
        workspaceId: z.uuid({ error: "expected a workspace id from workspaces.list" }),
        /** Attach this session (sessions.list); without it the terminal opens a new one. */
        session: sessionNameSchema.optional(),
      }),
    )
    .mutation(({ ctx, input }) =>
      createTerminalUrl(ctx.db, ctx.keyring, ownerOf(ctx), input.workspaceId, {
        issuer: ctx.env.PUBLIC_URL,
        ttlSeconds: terminalLinkSeconds,
        // The link's grant ends with what signed this request in (SPEC §4, §9).
        caller: { sessionId: ctx.auth.sessionId, apiTokenId: ctx.auth.tokenId ?? null },
        session: input.session,
      }),
    ),
});
