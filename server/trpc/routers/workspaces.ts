import { z } from "zod";
import { secretNameSchema } from "../../../protocol/agent-sessions.ts";
import type { Env } from "../../env.ts";
import {
  createWorkspace,
  getWorkspace,
  listWorkspaceEvents,
  listWorkspaces,
  readCurrentJobLog,
  requestWorkspaceAction,
  updateWorkspace,
} from "../../services/workspaces.ts";
import { maxSecretsPerUser } from "../../services/secrets.ts";
import { bootStepIds, readBootSteps } from "../../services/boot-steps.ts";
import type { UserAction } from "../../services/workspace-states.ts";
import { protectedProcedure, router } from "../init.ts";
import { ownerOf } from "../owner.ts";

const workspaceId = z.object({
  id: z.uuid({ error: "expected a workspace id from workspaces.list" }),
});

const bootStepsOutput = z.array(
  z.object({
    id: z.enum(bootStepIds),
    label: z.string(),
    state: z.enum(["waiting", "active", "done", "failed", "skipped"]),
    startedAt: z.date().nullable(),
    finishedAt: z.date().nullable(),
    message: z.string().nullable(),
  }),
);

const idleTimeoutMinutes = z
  .number()
  .int({ error: "expected whole minutes" })
  .min(5, { error: "must be at least 5 minutes" })
  .max(240, { error: "must be at most 240 minutes" });

/** SPEC §14: the longest an AI agent may work with no terminal input before the stop. */
const maxWorkingHours = z
  .number()
  .int({ error: "expected whole hours" })
  .min(1, { error: "must be at least 1 hour" })
  .max(72, { error: "must be at most 72 hours" });

/** The secrets the workspace gets by name; null: all of the owner's, now and later. */
const secretNames = z
  .array(secretNameSchema)
  .max(maxSecretsPerUser, { error: `choose at most ${maxSecretsPerUser} secrets` })
  .nullable();

export const createWorkspaceInput = z.object({
  name: z
    .string()
    .trim()
    // eslint-disable-next-line security/detect-unsafe-regex -- bounded ({0,38}): linear, at most 40 characters
    .regex(/^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/, {
      error:
        "use 1–40 lowercase letters, digits and dashes, starting and ending with a letter or digit",
    }),
  repository: z
    .string()
    .trim()
    .regex(/^[\w.-]+\/[\w.-]+$/, {
      error: "expected owner/name of one of your GitHub repositories",
    }),
  branch: z
    .string()
    .trim()
    .min(1, { error: "name a branch, e.g. main" })
    .max(255, { error: "keep the branch name under 255 characters" })
    .regex(/^(?!-)(?!.*\.\.)[\w./-]+$/, {
      error: "a branch name has letters, digits, '.', '_', '/' and '-' only",
    }),
  serverType: z
    .string()
    .trim()
    .regex(/^[a-z0-9-]{2,20}$/, { error: "expected a server type such as cx23" })
    .default("cx23"),
  location: z
    .string()
    .trim()
    .regex(/^[a-z0-9-]{2,20}$/, { error: "expected a location such as fsn1" })
    .default("fsn1"),
  idleTimeoutMinutes: idleTimeoutMinutes.default(30),
  maxWorkingHours: maxWorkingHours.default(8),
  secretNames: secretNames.default(null),
  /**
   * Sent again with a retried create, the same key answers the workspace the first request
   * made, never a second one (ADR 0025). Any string the client picks, e.g. a UUID per create.
   */
  idempotencyKey: z
    .string()
    .min(1, { error: "an idempotency key needs at least 1 character, e.g. a UUID" })
    .max(200, { error: "keep the idempotency key to 200 characters, e.g. a UUID" })
    .optional(),
});

export const updateWorkspaceInput = workspaceId.extend({
  idleTimeoutMinutes: idleTimeoutMinutes.optional(),
  maxWorkingHours: maxWorkingHours.optional(),
  /** null: all secrets; an array: only these; left out: unchanged. */
  secretNames: secretNames.optional(),
});

const settingsOf = (env: Env) => ({
  provider: env.WORKSPACE_PROVIDER,
  limit: env.WORKSPACE_LIMIT,
  maxAttempts: env.JOB_MAX_ATTEMPTS,
  hetznerApiUrl: env.HETZNER_API_URL,
});

const action = (name: UserAction) =>
  protectedProcedure
    .input(workspaceId)
    .mutation(({ ctx, input }) =>
      requestWorkspaceAction(ctx.db, ownerOf(ctx), input.id, name, settingsOf(ctx.env)),
    );

export const workspacesRouter = router({
  list: protectedProcedure.query(({ ctx }) => listWorkspaces(ctx.db, ownerOf(ctx))),
  get: protectedProcedure
    .input(workspaceId)
    .query(({ ctx, input }) => getWorkspace(ctx.db, ownerOf(ctx), input.id)),
  events: protectedProcedure
    .input(workspaceId)
    .query(({ ctx, input }) => listWorkspaceEvents(ctx.db, ownerOf(ctx), input.id)),
  /** The newest provision or start as steps with their times (issue #14, ADR 0023). */
  bootSteps: protectedProcedure
    .input(workspaceId)
    .output(bootStepsOutput)
    .query(({ ctx, input }) => readBootSteps(ctx.db, ownerOf(ctx), input.id)),
  jobLog: protectedProcedure
    .input(workspaceId)
    .query(({ ctx, input }) => readCurrentJobLog(ctx.db, ownerOf(ctx), input.id)),
  create: protectedProcedure.input(createWorkspaceInput).mutation(({ ctx, input }) => {
    return createWorkspace(ctx.db, ownerOf(ctx), input, settingsOf(ctx.env), {
      keyring: ctx.keyring,
      github: ctx.github,
      logger: ctx.logger,
    });
  }),
  /** Settings of an existing workspace; fields left out stay as they are. */
  update: protectedProcedure
    .input(updateWorkspaceInput)
    .mutation(({ ctx, input: { id, ...changes } }) =>
      updateWorkspace(ctx.db, ownerOf(ctx), id, changes),
    ),
  stop: action("stop"),
  start: action("start"),
  delete: action("delete"),
});
