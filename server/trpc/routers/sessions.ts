import { z } from "zod";
import {
  sessionInfoSchema,
  sessionInputRequestSchema,
  sessionNameSchema,
  sessionOutputMaxLines,
  sessionOutputDefaultLines,
  sessionOutputResponseSchema,
} from "../../../protocol/agent-sessions.ts";
import {
  createWorkspaceSession,
  endWorkspaceSession,
  listWorkspaceSessions,
  readSessionOutput,
  renameWorkspaceSession,
  sendSessionInput,
  type AgentControlContext,
} from "../../services/workspace-sessions.ts";
import { protectedProcedure, router } from "../init.ts";
import { ownerOf } from "../owner.ts";

// SPEC §14: the terminal sessions (tmux) of a workspace: listed from the agent's reports, acted
// on through the agent's session API.

const workspaceId = z.uuid({ error: "expected a workspace id from workspaces.list" });
const inSession = z.object({ workspaceId, name: sessionNameSchema });
const agentContext = (
  ctx: Omit<AgentControlContext, "issuer"> & { env: { PUBLIC_URL: string } },
): AgentControlContext => ({
  db: ctx.db,
  keyring: ctx.keyring,
  issuer: ctx.env.PUBLIC_URL,
});

export const sessionsRouter = router({
  list: protectedProcedure
    .input(z.object({ workspaceId }))
    .output(z.array(sessionInfoSchema))
    .query(({ ctx, input }) => listWorkspaceSessions(ctx.db, ownerOf(ctx), input.workspaceId)),
  create: protectedProcedure
    .input(z.object({ workspaceId, name: sessionNameSchema.optional() }))
    .output(sessionInfoSchema)
    .mutation(({ ctx, input }) =>
      createWorkspaceSession(agentContext(ctx), ownerOf(ctx), input.workspaceId, input.name),
    ),
  rename: protectedProcedure
    .input(inSession.extend({ newName: sessionNameSchema }))
    .output(sessionInfoSchema)
    .mutation(({ ctx, input }) =>
      renameWorkspaceSession(
        agentContext(ctx),
        ownerOf(ctx),
        input.workspaceId,
        input.name,
        input.newName,
      ),
    ),
  end: protectedProcedure
    .input(inSession)
    .output(z.object({ name: z.string() }))
    .mutation(({ ctx, input }) =>
      endWorkspaceSession(agentContext(ctx), ownerOf(ctx), input.workspaceId, input.name),
    ),
  input: protectedProcedure
    .input(inSession.extend(sessionInputRequestSchema.shape))
    .output(z.object({ ok: z.literal(true) }))
    .mutation(({ ctx, input }) =>
      sendSessionInput(agentContext(ctx), ownerOf(ctx), input.workspaceId, input.name, {
        text: input.text,
        enter: input.enter,
      }),
    ),
  output: protectedProcedure
    .input(
      inSession.extend({
        lines: z
          .number()
          .int()
          .min(1)
          .max(sessionOutputMaxLines)
          .default(sessionOutputDefaultLines),
      }),
    )
    .output(sessionOutputResponseSchema)
    .query(({ ctx, input }) =>
      readSessionOutput(
        agentContext(ctx),
        ownerOf(ctx),
        input.workspaceId,
        input.name,
        input.lines,
      ),
    ),
});
