import { z } from "zod";

// What a workspace server's own scripts (bootstrap, toolchain) and its agent report while it
// boots (SPEC §9): one step at a time, so a failure reaches the control plane with its reason
// within seconds instead of a boot timeout. Pure: schemas and constants only.

/**
 * Steps whose failure means the workspace cannot work: the workspace goes to `error`. The agent
 * reports `clone` (a workspace over an empty folder is no workspace, ADR 0023).
 */
export const requiredBootSteps = [
  "bootstrap",
  "workspace-user",
  "mount-volume",
  "download-agent",
  "verify-agent",
  "start-agent",
  "clone",
] as const;

/**
 * Steps that run in the background once the terminal works: a failure is a warning in the job
 * log and on the workspace page, the workspace stays running (the plain shell works).
 */
export const optionalBootSteps = ["packages", "toolchain", "devcontainer"] as const;

export const bootSteps = [...requiredBootSteps, ...optionalBootSteps] as const;
export type BootStep = (typeof bootSteps)[number];

export const bootStepStatuses = ["started", "done", "failed"] as const;

/** The longest log tail a report carries (the end of the script's log). */
export const maxBootLogTailBytes = 8 * 1024;

export const bootProgressRequestSchema = z.object({
  step: z.enum(bootSteps, { error: `step must be one of: ${bootSteps.join(", ")}` }),
  status: z.enum(bootStepStatuses, {
    error: `status must be one of: ${bootStepStatuses.join(", ")}`,
  }),
  message: z.string().max(500, { error: "message must be at most 500 characters" }).optional(),
  logTail: z
    .string()
    .max(maxBootLogTailBytes, { error: `logTail must be at most ${maxBootLogTailBytes} bytes` })
    .optional(),
});
export type BootProgressRequest = z.output<typeof bootProgressRequestSchema>;

export const isRequiredBootStep = (step: BootStep): boolean =>
  (requiredBootSteps as readonly string[]).includes(step);
