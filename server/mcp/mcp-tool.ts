import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { TRPCError } from "@trpc/server";
import { ZodError, type z } from "zod";
import { describeZodError } from "../errors.ts";
import { createCallerFactory } from "../trpc/init.ts";
import { appRouter } from "../trpc/root.ts";

// SPEC §14: one MCP tool = one or two tRPC calls made as the token's user, so a tool validates,
// authorizes and answers exactly as the API does. Each call is audited (mcp-handler.ts) and its
// failure becomes a tool error whose text is the API's actionable message.

const createCaller = createCallerFactory(appRouter);
export type Caller = ReturnType<typeof createCaller>;
export { createCaller };

export type ToolCall = { tool: string; workspaceId?: string };
export type ToolContext = {
  caller: Caller;
  /** Records `mcp.tool` in the audit log (never the inputs: they may hold a secret's value). */
  audit: (call: ToolCall & { ok: boolean }) => Promise<void>;
};

export type ToolDefinition<Schema extends z.ZodObject> = {
  name: string;
  title: string;
  description: string;
  input: Schema;
  destructive?: boolean;
  readOnly?: boolean;
  run: (caller: Caller, input: z.output<Schema>) => Promise<unknown>;
};

/** Registers one tool: its answer is compact JSON (or text), its failure the API's message. */
export function registerTool<Schema extends z.ZodObject>(
  server: McpServer,
  context: ToolContext,
  tool: ToolDefinition<Schema>,
): void {
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
    // The SDK has already validated the arguments against `input`.
    (async (args: z.output<Schema>): Promise<CallToolResult> => {
      const workspaceId = workspaceIdOf(args);
      try {
        const answer = await tool.run(context.caller, args);
        await context.audit({ tool: tool.name, workspaceId, ok: true });
        return { content: [{ type: "text", text: render(answer) }] };
      } catch (error) {
        await context.audit({ tool: tool.name, workspaceId, ok: false });
        return { isError: true, content: [{ type: "text", text: describeFailure(error) }] };
      }
    }) as never,
  );
}

function workspaceIdOf(args: unknown): string | undefined {
  const value = (args as { workspace_id?: unknown }).workspace_id;
  return typeof value === "string" ? value : undefined;
}

function render(answer: unknown): string {
  return typeof answer === "string" ? answer : JSON.stringify(answer);
}

function describeFailure(error: unknown): string {
  if (error instanceof TRPCError && error.cause instanceof ZodError)
    return describeZodError(error.cause);
  if (error instanceof TRPCError && error.code !== "INTERNAL_SERVER_ERROR") return error.message;
  if (error instanceof ToolRefusal) return error.message;
  return "The control plane failed to do this; its log has the details. Try again, or ask the operator.";
}

/** A refusal the tool itself makes (e.g. a wrong confirmation name). */
export class ToolRefusal extends Error {
  override readonly name = "ToolRefusal";
}
