import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { TRPCError } from "@trpc/server";
import { ZodError, type z } from "zod";
import { AppError, describeZodError, internalErrorMessage } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { createCallerFactory } from "../trpc/init.ts";
import { appRouter } from "../trpc/root.ts";

// SPEC §14: one MCP tool = one or two tRPC calls made as the token's user, so a tool validates,
// authorizes and answers exactly as the API does. Each call is audited and its failure becomes
// a tool error (isError) whose text is the API's actionable message.

const createCaller = createCallerFactory(appRouter);
export type Caller = ReturnType<typeof createCaller>;
export { createCaller };

export type ToolCall = {
  tool: string;
  workspaceId?: string;
  ok: boolean;
  /** The JSON-RPC id of the tools/call request, so the endpoint knows it was audited. */
  requestId: string | number;
};

export type ToolContext = {
  caller: Caller;
  /** Records `mcp.tool` in the audit log (never the inputs: they may hold a secret's value). */
  audit: (call: ToolCall) => Promise<void>;
  log: Logger;
};

export type ToolDefinition<Schema extends z.ZodObject, Answer> = {
  name: string;
  title: string;
  description: string;
  input: Schema;
  destructive?: boolean;
  readOnly?: boolean;
  run: (caller: Caller, input: z.output<Schema>) => Promise<Answer>;
  /** The workspace a call acted on when its input does not name one (create_workspace). */
  workspaceOf?: (answer: Answer) => string;
};

export type RegisterTool = <Schema extends z.ZodObject, Answer>(
  tool: ToolDefinition<Schema, Answer>,
) => void;

/** Binds registerTool to one server and context (each tools file registers with it). */
export const toolRegistrar =
  (server: McpServer, context: ToolContext): RegisterTool =>
  (tool) =>
    registerTool(server, context, tool);

/** Registers one tool: its answer is compact JSON (or text), its failure the API's message. */
export function registerTool<Schema extends z.ZodObject, Answer>(
  server: McpServer,
  context: ToolContext,
  tool: ToolDefinition<Schema, Answer>,
): void {
  const handler = async (
    args: z.output<Schema>,
    extra: { requestId: string | number },
  ): Promise<CallToolResult> => {
    const named = workspaceIdOf(args);
    const audit = (ok: boolean, workspaceId = named) =>
      context.audit({ tool: tool.name, workspaceId, ok, requestId: extra.requestId });
    try {
      const answer = await tool.run(context.caller, args);
      await audit(true, named ?? tool.workspaceOf?.(answer));
      return { content: [{ type: "text", text: render(answer) }] };
    } catch (error) {
      await audit(false);
      const refusal = describeRefusal(error);
      if (refusal === undefined)
        context.log.error({ err: error, tool: tool.name }, "mcp tool failed");
      return { isError: true, content: [{ type: "text", text: refusal ?? internalErrorMessage }] };
    }
  };
  server.registerTool(
    tool.name,
    {
      title: tool.title,
      description: tool.description,
      inputSchema: tool.input,
      annotations: {
        destructiveHint: tool.destructive ?? false,
        readOnlyHint: tool.readOnly ?? false,
      },
    },
    // The SDK has validated the arguments against `input` before this runs; its generic
    // callback type cannot see that `input` is this very schema.
    handler as never,
  );
}

function workspaceIdOf(args: unknown): string | undefined {
  const value = (args as { workspace_id?: unknown }).workspace_id;
  return typeof value === "string" ? value : undefined;
}

function render(answer: unknown): string {
  return typeof answer === "string" ? answer : JSON.stringify(answer);
}

/** The message for the caller, or undefined for a failure of ours (logged, not shown). */
function describeRefusal(error: unknown): string | undefined {
  if (error instanceof TRPCError && error.cause instanceof ZodError)
    return describeZodError(error.cause);
  if (error instanceof TRPCError && error.code !== "INTERNAL_SERVER_ERROR") return error.message;
  if (error instanceof AppError) return error.message;
  return undefined;
}
