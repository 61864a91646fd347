import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { createWorkspaceInput } from "../trpc/routers/workspaces.ts";
import {
  registerTool,
  ToolRefusal,
  type Caller,
  type ToolContext,
  type ToolDefinition,
} from "./mcp-tool.ts";

// SPEC §14: workspaces through MCP. Inputs reuse the API's schemas; answers leave out what an
// AI agent does not need (it pays for every token it reads).

export const workspaceIdInput = z.object({
  workspace_id: z.uuid({ error: "expected a workspace id from list_workspaces" }),
});
const confirmInput = workspaceIdInput.extend({
  confirm_name: z.string({ error: "give the workspace's name to confirm" }).min(1),
});

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
  last_activity_at: workspace.lastActivityAt,
});

/** Destructive tools name the workspace as well as its id, so a mixed-up id does no harm. */
export async function confirmWorkspaceName(caller: Caller, id: string, confirmName: string) {
  const workspace = await caller.workspaces.get({ id });
  if (workspace.name !== confirmName.trim())
    throw new ToolRefusal(
      `confirm_name "${confirmName}" is not the name of workspace ${id} ("${workspace.name}"); nothing was changed. Pass its exact name to confirm.`,
    );
  return workspace;
}

export function registerWorkspaceTools(server: McpServer, context: ToolContext): void {
  const register = <Schema extends z.ZodObject>(tool: ToolDefinition<Schema>) =>
    registerTool(server, context, tool);
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
      "Creates a workspace for one of your GitHub repositories and starts it (running within minutes; poll get_workspace).",
    input: createWorkspaceInput.pick({ name: true, repository: true, branch: true }).extend({
      server_type: createWorkspaceInput.shape.serverType,
      location: createWorkspaceInput.shape.location,
      idle_timeout_minutes: createWorkspaceInput.shape.idleTimeoutMinutes,
    }),
    run: async (caller, input) =>
      summarize(
        await caller.workspaces.create({
          name: input.name,
          repository: input.repository,
          branch: input.branch,
          serverType: input.server_type,
          location: input.location,
          idleTimeoutMinutes: input.idle_timeout_minutes,
        }),
      ),
  });
  for (const [name, verb] of [
    ["start_workspace", "start"],
    ["stop_workspace", "stop"],
  ] as const)
    register({
      name,
      title: `${verb[0]!.toUpperCase()}${verb.slice(1)} a workspace`,
      description:
        verb === "start"
          ? "Starts a stopped workspace on a new server; its files are kept."
          : "Stops a running workspace (its server is deleted, its files are kept).",
      input: workspaceIdInput,
      run: async (caller, input) =>
        summarize(await caller.workspaces[verb]({ id: input.workspace_id })),
    });
  register({
    name: "delete_workspace",
    title: "Delete a workspace",
    description:
      "Deletes a workspace and its files for good. confirm_name must be the workspace's name.",
    input: confirmInput,
    destructive: true,
    run: async (caller, input) => {
      await confirmWorkspaceName(caller, input.workspace_id, input.confirm_name);
      return summarize(await caller.workspaces.delete({ id: input.workspace_id }));
    },
  });
  register({
    name: "read_job_log",
    title: "Read the job log",
    description: "The log of the workspace's current or last job (create, start, stop, delete).",
    input: workspaceIdInput,
    readOnly: true,
    run: async (caller, input) => caller.workspaces.jobLog({ id: input.workspace_id }),
  });
}
