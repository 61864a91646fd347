import { z } from "zod";
import { AppError } from "../errors.ts";
import { createWorkspaceInput } from "../trpc/routers/workspaces.ts";
import type { Caller, RegisterTool } from "./mcp-tool.ts";

// SPEC §14: workspaces through MCP. Inputs reuse the API's schemas; answers leave out what an
// AI agent does not need (it pays for every token it reads).

export const workspaceIdInput = z.object({
  workspace_id: z.uuid({ error: "expected a workspace id from list_workspaces" }),
});

/** Destructive tools (docs/adr/0016): the workspace's name next to its id. */
export const confirmNameInput = z.object({
  confirm_name: z
    .string({ error: "give the workspace's name as confirm_name" })
    .min(1, { error: "give the workspace's name as confirm_name" }),
});

/** Most job log lines read_job_log answers (the last ones: where a job failed). */
export const maxJobLogLines = 200;

type Workspace = Awaited<ReturnType<Caller["workspaces"]["get"]>>;
const summarize = (workspace: Workspace) => ({
  id: workspace.id,
  name: workspace.name,
  repository: workspace.repository,
  branch: workspace.branch,
  state: workspace.state,
  state_reason: workspace.stateReason,
  server_type: workspace.serverType,
  location: workspace.location,
  idle_timeout_minutes: workspace.idleTimeoutMinutes,
  max_working_hours: workspace.maxWorkingHours,
  last_activity_at: workspace.lastActivityAt,
});

/**
 * Refuses unless `confirmName` is the workspace's name, so a mixed-up or made-up id cannot
 * delete or end the wrong thing.
 */
export async function confirmWorkspaceName(caller: Caller, id: string, confirmName: string) {
  const workspace = await caller.workspaces.get({ id });
  if (workspace.name !== confirmName.trim())
    throw new AppError(
      "BAD_REQUEST",
      `confirm_name "${confirmName}" is not the name of workspace ${id} ("${workspace.name}"); nothing was changed. Pass its exact name as confirm_name to confirm.`,
    );
  return workspace;
}

const { shape } = createWorkspaceInput;
const createInput = z.object({
  name: shape.name,
  repository: shape.repository,
  branch: shape.branch,
  server_type: shape.serverType,
  location: shape.location,
  idle_timeout_minutes: shape.idleTimeoutMinutes,
  max_working_hours: shape.maxWorkingHours,
  secret_names: shape.secretNames,
  idempotency_key: shape.idempotencyKey,
});

export function registerWorkspaceTools(register: RegisterTool): void {
  register({
    name: "list_workspaces",
    title: "List workspaces",
    description: "Your workspaces with their state (running, stopped, …).",
    input: z.object({}),
    readOnly: true,
    run: async (caller) => (await caller.workspaces.list()).map(summarize),
  });
  register({
    name: "get_workspace",
    title: "Get a workspace",
    description: "One workspace: state, reason, repository, branch, settings.",
    input: workspaceIdInput,
    readOnly: true,
    run: async (caller, input) =>
      summarize(await caller.workspaces.get({ id: input.workspace_id })),
  });
  register({
    name: "create_workspace",
    title: "Create a workspace",
    description:
      "Creates a workspace for one of your GitHub repositories (owner/name) and starts it; poll get_workspace until state is running (minutes). secret_names: null gives it all your secrets. idempotency_key: send the same one when you retry a create whose answer you did not get; it answers the workspace the first call made instead of making another.",
    input: createInput,
    run: async (caller, input) =>
      summarize(
        await caller.workspaces.create({
          name: input.name,
          repository: input.repository,
          branch: input.branch,
          serverType: input.server_type,
          location: input.location,
          idleTimeoutMinutes: input.idle_timeout_minutes,
          maxWorkingHours: input.max_working_hours,
          secretNames: input.secret_names,
          idempotencyKey: input.idempotency_key,
        }),
      ),
    workspaceOf: (workspace) => workspace.id,
  });
  registerLifecycleTools(register);
}

function registerLifecycleTools(register: RegisterTool): void {
  register({
    name: "start_workspace",
    title: "Start a workspace",
    description: "Starts a stopped workspace on a new server; its files are kept.",
    input: workspaceIdInput,
    run: async (caller, input) =>
      summarize(await caller.workspaces.start({ id: input.workspace_id })),
  });
  register({
    name: "stop_workspace",
    title: "Stop a workspace",
    description: "Stops a running workspace (its server goes, its files are kept).",
    input: workspaceIdInput,
    run: async (caller, input) =>
      summarize(await caller.workspaces.stop({ id: input.workspace_id })),
  });
  register({
    name: "delete_workspace",
    title: "Delete a workspace",
    description:
      "Deletes a workspace and its files for good. confirm_name must be the workspace's name.",
    input: workspaceIdInput.extend(confirmNameInput.shape),
    destructive: true,
    run: async (caller, input) => {
      await confirmWorkspaceName(caller, input.workspace_id, input.confirm_name);
      return summarize(await caller.workspaces.delete({ id: input.workspace_id }));
    },
  });
  register({
    name: "read_job_log",
    title: "Read the job log",
    description: `The log of the workspace's current or last job (create, start, stop, delete): its last ${maxJobLogLines} lines, as text.`,
    input: workspaceIdInput,
    readOnly: true,
    run: async (caller, input) =>
      renderJobLog(await caller.workspaces.jobLog({ id: input.workspace_id })),
  });
}

type JobLog = Awaited<ReturnType<Caller["workspaces"]["jobLog"]>>;

/** One header line, the last error, then `time level message` lines: cheap to read. */
function renderJobLog(log: JobLog): string {
  if (!log) return "This workspace has no job yet.";
  const header = `job ${log.id} ${log.kind}: ${log.status}, attempt ${log.attempts} of ${log.maxAttempts}, created ${log.createdAt.toISOString()}`;
  const shown = log.lines.slice(-maxJobLogLines);
  const skipped = log.lines.length - shown.length;
  return [
    header,
    ...(log.lastError ? [`last error: ${log.lastError}`] : []),
    ...(skipped > 0 ? [`(${skipped} earlier lines left out)`] : []),
    ...shown.map((line) => `${line.occurredAt.toISOString()} ${line.level} ${line.message}`),
  ].join("\n");
}
