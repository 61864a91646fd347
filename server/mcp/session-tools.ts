import { stripVTControlCharacters } from "node:util";
import {
  sessionInputRequestSchema,
  sessionNameSchema,
  sessionOutputDefaultLines,
  sessionOutputMaxLines,
  sessionOutputQuerySchema,
} from "../../protocol/agent-sessions.ts";
import type { RegisterTool } from "./mcp-tool.ts";
import { confirmNameInput, confirmWorkspaceName, workspaceIdInput } from "./workspace-tools.ts";

// SPEC §14: a workspace's terminal sessions (tmux) through MCP. Output is bounded and free of
// escape sequences so reading it is cheap in tokens.

/** Most characters read_output answers; the end is kept, that is what just happened. */
export const maxOutputCharacters = 16 * 1024;

const inSession = workspaceIdInput.extend({ session: sessionNameSchema });

/**
 * The agent already answers tmux's plain text; escape sequences are stripped again here (a
 * program can print them into the scrollback) and the answer is cut to its last characters.
 */
export function compactOutput(text: string): string {
  const plain = stripVTControlCharacters(text).replaceAll("\r", "");
  return plain.length > maxOutputCharacters ? plain.slice(-maxOutputCharacters) : plain;
}

export function registerSessionTools(register: RegisterTool): void {
  register({
    name: "list_sessions",
    title: "List terminal sessions",
    description:
      "The workspace's terminal sessions: name, started, last output, AI-agent status (working, waiting, done, error).",
    input: workspaceIdInput,
    readOnly: true,
    run: (caller, input) => caller.sessions.list({ workspaceId: input.workspace_id }),
  });
  register({
    name: "create_session",
    title: "Start a terminal session",
    description:
      "Starts a shell in a new session of a running workspace (named `session`, or shell-N).",
    input: workspaceIdInput.extend({ session: sessionNameSchema.optional() }),
    run: (caller, input) =>
      caller.sessions.create({ workspaceId: input.workspace_id, name: input.session }),
  });
  register({
    name: "send_input",
    title: "Type into a session",
    description:
      "Types text into a session, then Enter unless enter is false. Read the result with read_output.",
    input: inSession.extend(sessionInputRequestSchema.shape),
    run: (caller, input) =>
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
    description: `The last lines (default ${sessionOutputDefaultLines}, at most ${sessionOutputMaxLines}; at most ${maxOutputCharacters} characters) of a session's screen and scrollback, as plain text.`,
    input: inSession.extend(sessionOutputQuerySchema.shape),
    readOnly: true,
    run: async (caller, input) => {
      const output = await caller.sessions.output({
        workspaceId: input.workspace_id,
        name: input.session,
        lines: input.lines,
      });
      return compactOutput(output.text);
    },
  });
  register({
    name: "end_session",
    title: "End a terminal session",
    description:
      "Ends a session and everything running in it. confirm_name must be the workspace's name.",
    input: inSession.extend(confirmNameInput.shape),
    destructive: true,
    run: async (caller, input) => {
      await confirmWorkspaceName(caller, input.workspace_id, input.confirm_name);
      return caller.sessions.end({ workspaceId: input.workspace_id, name: input.session });
    },
  });
}
