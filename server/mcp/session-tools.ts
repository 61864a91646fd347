import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { stripVTControlCharacters } from "node:util";
import { z } from "zod";
import {
  secretNameSchema,
  secretValueSchema,
  sessionInputRequestSchema,
  sessionNameSchema,
  sessionOutputDefaultLines,
  sessionOutputMaxLines,
} from "../../protocol/agent-sessions.ts";
import { registerTool, type ToolContext, type ToolDefinition } from "./mcp-tool.ts";
import { confirmWorkspaceName, workspaceIdInput } from "./workspace-tools.ts";

// SPEC §14: terminal sessions and secrets through MCP. Output is bounded and free of escape
// sequences so reading it is cheap in tokens; secrets go in and never come out.

/** Most characters read_output answers (the end is kept: that is what just happened). */
export const maxOutputCharacters = 16 * 1024;
const inSession = workspaceIdInput.extend({ session: sessionNameSchema });

export function registerSessionTools(server: McpServer, context: ToolContext): void {
  const register = <Schema extends z.ZodObject>(tool: ToolDefinition<Schema>) =>
    registerTool(server, context, tool);
  register({
    name: "list_sessions",
    title: "List terminal sessions",
    description:
      "The workspace's terminal sessions (tmux): name, started, last output, AI-agent status.",
    input: workspaceIdInput,
    readOnly: true,
    run: async (caller, input) => caller.sessions.list({ workspaceId: input.workspace_id }),
  });
  register({
    name: "create_session",
    title: "Start a terminal session",
    description: "Starts a shell in a new named session of a running workspace.",
    input: workspaceIdInput.extend({ session: sessionNameSchema.optional() }),
    run: async (caller, input) =>
      caller.sessions.create({ workspaceId: input.workspace_id, name: input.session }),
  });
  register({
    name: "send_input",
    title: "Type into a session",
    description:
      "Types text into a session, followed by Enter unless enter is false (e.g. a command).",
    input: inSession.extend(sessionInputRequestSchema.shape),
    run: async (caller, input) =>
      caller.sessions.input({
        workspaceId: input.workspace_id,
        name: input.session,
        text: input.text,
        enter: input.enter,
      }),
  });
  register({
    name: "read_output",
    title: "Read a session's recent output",
    description: `The last lines (default ${sessionOutputDefaultLines}, at most ${sessionOutputMaxLines}) of a session's screen and scrollback, as plain text.`,
    input: inSession.extend({
      lines: z.number().int().min(1).max(sessionOutputMaxLines).default(sessionOutputDefaultLines),
    }),
    readOnly: true,
    run: async (caller, input) => {
      const output = await caller.sessions.output({
        workspaceId: input.workspace_id,
        name: input.session,
        lines: input.lines,
      });
      return stripVTControlCharacters(output.text).slice(-maxOutputCharacters);
    },
  });
  register({
    name: "end_session",
    title: "End a terminal session",
    description:
      "Ends a session and everything running in it. confirm_name must be the workspace's name.",
    input: inSession.extend({ confirm_name: z.string().min(1) }),
    destructive: true,
    run: async (caller, input) => {
      await confirmWorkspaceName(caller, input.workspace_id, input.confirm_name);
      return caller.sessions.end({ workspaceId: input.workspace_id, name: input.session });
    },
  });
  registerSecretTools(register);
}

function registerSecretTools(
  register: <Schema extends z.ZodObject>(tool: ToolDefinition<Schema>) => void,
) {
  register({
    name: "list_secrets",
    title: "List secrets",
    description: "Your secrets' names and dates (values are write-only).",
    input: z.object({}),
    readOnly: true,
    run: async (caller) => caller.secrets.list(),
  });
  register({
    name: "set_secret",
    title: "Set a secret",
    description:
      "Creates or replaces a secret; new shells of your workspaces get it as the environment variable `name`.",
    input: z.object({ name: secretNameSchema, value: secretValueSchema }),
    run: async (caller, input) => caller.secrets.set(input),
  });
  register({
    name: "delete_secret",
    title: "Delete a secret",
    description: "Deletes a secret; shells opened later no longer get it.",
    input: z.object({ name: secretNameSchema }),
    destructive: true,
    run: async (caller, input) => caller.secrets.delete(input),
  });
}
