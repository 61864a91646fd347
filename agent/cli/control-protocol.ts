import { z } from "zod";
import {
  sessionInfoSchema,
  sessionNameSchema,
  sessionStatuses,
  sessionStatusMessageMaxLength,
} from "../../protocol/agent-sessions.ts";

// The `caw` CLI ↔ agent protocol on the control socket: one JSON line asked, one JSON line
// answered, then the agent closes the connection. Local only (a Unix socket only root and the
// workspace user's group can reach), so it carries no credentials of its own.

/** Largest request line the agent reads; a status message is at most 200 characters. */
export const controlRequestMaxBytes = 8 * 1024;
/** Largest answer line the CLI reads: every secret (64 KiB each) of a well-stocked workspace. */
export const controlAnswerMaxBytes = 8 * 1024 * 1024;

export const controlRequestSchema = z.discriminatedUnion("op", [
  z.object({
    op: z.literal("status"),
    /** CAW_SESSION of the shell; else `pane` ($TMUX_PANE) is looked up. */
    session: sessionNameSchema.optional(),
    pane: z
      .string()
      .regex(/^%\d{1,9}$/)
      .optional(),
    status: z.enum(sessionStatuses),
    message: z.string().max(sessionStatusMessageMaxLength).nullable(),
  }),
  z.object({ op: z.literal("sessions") }),
  z.object({ op: z.literal("env") }),
]);
export type ControlRequest = z.infer<typeof controlRequestSchema>;

export const controlErrorSchema = z.object({ ok: z.literal(false), error: z.string() });
export const statusAnswerSchema = z.object({ ok: z.literal(true), session: sessionInfoSchema });
export const sessionsAnswerSchema = z.object({
  ok: z.literal(true),
  sessions: z.array(sessionInfoSchema),
});
export const envAnswerSchema = z.object({
  ok: z.literal(true),
  secrets: z.record(z.string(), z.string()),
});
