import { z } from "zod";

// SPEC §14: the contract for durable terminal sessions, AI-agent statuses and secrets, shared
// by the agent, the control plane and the web app. Pure: schemas and constants, no I/O.

/** What `caw status` may say; a session nobody reported in has no status (null). */
export const sessionStatuses = ["working", "waiting", "done", "error"] as const;
export type SessionStatus = (typeof sessionStatuses)[number];

/** tmux session names: short, safe in a URL and on a command line (no `.` or `:`, tmux's separators). */
export const sessionNameSchema = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/, {
    error:
      "use 1–40 letters, digits, '-' and '_', starting with a letter or digit (e.g. claude or build-1)",
  });

export const sessionStatusMessageMaxLength = 200;

/** One session as the agent reports it and the control plane stores and shows it. */
export const sessionInfoSchema = z.object({
  name: sessionNameSchema,
  startedAt: z.iso.datetime(),
  /** Last output seen in the session (tmux's activity time); null: none yet. */
  lastOutputAt: z.iso.datetime().nullable(),
  status: z.enum(sessionStatuses).nullable(),
  statusMessage: z.string().max(sessionStatusMessageMaxLength).nullable(),
  statusChangedAt: z.iso.datetime().nullable(),
});
export type SessionInfo = z.infer<typeof sessionInfoSchema>;

/** Most sessions one workspace keeps (the agent refuses a new one past it). */
export const maxSessions = 50;

/**
 * `POST /api/agent/sessions` (agent token): the whole set of live sessions, sent when anything
 * changes and with every heartbeat; `idleStopAt` is when the agent will stop the workspace for
 * idleness (set from its 5-minute warning), null when that is not coming.
 */
export const sessionReportSchema = z.object({
  sessions: z.array(sessionInfoSchema).max(maxSessions),
  idleStopAt: z.iso.datetime().nullable(),
  /** Why the coming stop happens, e.g. "idle for 30 min" or "working 8 h with no input". */
  idleStopReason: z.string().max(200).nullable().default(null),
});
export type SessionReport = z.infer<typeof sessionReportSchema>;

/** `POST /api/agent/idle`: why the agent asks for the stop, e.g. "idle for 30 min". */
export const agentIdleRequestSchema = z.object({
  reason: z.string().trim().min(1).max(200).optional(),
});

// ── Secrets ──────────────────────────────────────────────────────────────────────────────

/**
 * A secret's name is the environment variable it becomes: upper-case letters, digits and `_`,
 * not starting with a digit. Names the shell or the agent relies on are refused.
 */
export const secretNameSchema = z
  .string()
  .trim()
  .regex(/^[A-Z_][A-Z0-9_]{0,63}$/, {
    error:
      "use 1–64 upper-case letters, digits and '_', not starting with a digit (e.g. OPENAI_API_KEY)",
  })
  .refine((name) => !reservedSecretNames.has(name) && !name.startsWith("CAW_"), {
    error: "this name is used by the shell or the workspace agent; pick another",
  });

const reservedSecretNames = new Set([
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "SHELL",
  "TERM",
  "PWD",
  "LANG",
  "TMUX",
  "TMUX_PANE",
  "LD_PRELOAD",
  "LD_LIBRARY_PATH",
]);

/** 64 KiB: enough for any API key or a service-account JSON, small enough for an environment. */
export const secretValueMaxBytes = 64 * 1024;
export const secretValueSchema = z
  .string()
  .min(1, { error: "a secret needs a value" })
  .refine((value) => new TextEncoder().encode(value).length <= secretValueMaxBytes, {
    error: `keep a secret under ${secretValueMaxBytes / 1024} KiB`,
  })
  .refine((value) => !value.includes("\0"), { error: "a secret cannot contain a NUL character" });

/** `GET /api/agent/secrets` (agent token): the workspace's secrets, by name. */
export const agentSecretsResponseSchema = z.object({
  secrets: z.record(z.string(), z.string()),
});
export type AgentSecretsResponse = z.infer<typeof agentSecretsResponseSchema>;

// ── Control plane → agent: the session API (`/api/sessions…` on the agent) ───────────────

/**
 * `aud` of the short-lived RS256 JWTs the control plane signs (same keys as terminal links) to
 * call the agent's session API; `workspace` names the workspace, `sub` the acting user.
 */
export const agentControlAudience = "workspace-agent-control";
export const agentControlTokenSeconds = 60;

export const createSessionRequestSchema = z.object({
  name: sessionNameSchema.optional(),
});
export const renameSessionRequestSchema = z.object({ name: sessionNameSchema });
/** Text typed into the session; `enter` adds a newline at the end. */
export const sessionInputRequestSchema = z.object({
  text: z.string().max(16 * 1024, { error: "send at most 16 KiB of input at a time" }),
  enter: z.boolean().default(true),
});

/** Recent output: at most this many lines, ANSI-stripped (cheap in tokens). */
export const sessionOutputMaxLines = 500;
export const sessionOutputDefaultLines = 100;
export const sessionOutputQuerySchema = z.object({
  lines: z.coerce
    .number()
    .int()
    .min(1)
    .max(sessionOutputMaxLines)
    .default(sessionOutputDefaultLines),
});
export const sessionOutputResponseSchema = z.object({
  name: z.string(),
  /** Plain text, trailing blank lines trimmed. */
  text: z.string(),
  lines: z.number().int(),
});
export type SessionOutput = z.infer<typeof sessionOutputResponseSchema>;

export const sessionListResponseSchema = z.object({ sessions: z.array(sessionInfoSchema) });
