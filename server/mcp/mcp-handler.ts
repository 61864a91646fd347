import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { TRPCError } from "@trpc/server";
import { AppError } from "../errors.ts";
import type { AppLoadContextValue } from "../http/load-context.ts";
import { recordAuditEvent } from "../services/audit.ts";
import { createTrpcContext } from "../trpc/context.ts";
import { createCaller, toolRegistrar, type ToolCall, type ToolContext } from "./mcp-tool.ts";
import { registerSecretTools } from "./secret-tools.ts";
import { registerSessionTools } from "./session-tools.ts";
import { registerWorkspaceTools } from "./workspace-tools.ts";

// SPEC §14, docs/adr/0016: one POST of JSON-RPC messages, answered as JSON by a server made for
// it (stateless: nothing is kept between requests), as the API token's user through the same
// tRPC procedures the SDK calls, under the same per-minute budgets (one point per message).

export const unknownTokenMessage =
  "This API token is unknown, revoked or expired. Create a new one in Settings → API tokens and send it as `Authorization: Bearer <token>`.";

const serverInstructions =
  "Cloud AI Workspaces: cloud workspaces (a server with a clone of a GitHub repository) with terminal sessions. " +
  "create_workspace, then poll get_workspace until state is running; create_session, send_input a command, read_output. " +
  "Destructive tools (delete_workspace, end_session) need confirm_name = the workspace's name.";

/** Answers the JSON-RPC `messages` (already read and parsed) of an MCP POST. */
export async function answerMcpRequest(
  request: Request,
  messages: unknown,
  loadContext: AppLoadContextValue,
): Promise<Response> {
  const context = await createTrpcContext({
    request,
    loadContext,
    responseHeaders: new Headers(),
    calls: Array.isArray(messages) ? Math.max(1, messages.length) : 1,
  }).catch((error: unknown) => {
    // The rate limit's refusal, as the AppError it was made from.
    throw error instanceof TRPCError && error.cause instanceof AppError ? error.cause : error;
  });
  if (!context.auth.user || context.auth.via !== "token")
    throw new AppError("UNAUTHORIZED", unknownTokenMessage);
  const actorSubject = context.auth.user.auditSubject;
  const audited = new Set<string | number>();
  const audit = async ({ tool, workspaceId, ok, requestId }: ToolCall) => {
    audited.add(requestId);
    await recordAuditEvent(loadContext.db, {
      actorSubject,
      action: "mcp.tool",
      targetType: workspaceId ? "workspace" : undefined,
      targetId: workspaceId,
      details: { tool, ok },
    });
  };
  const tools: ToolContext = { caller: createCaller(context), audit, log: loadContext.logger };
  const server = new McpServer(
    { name: "cloud-ai-workspaces", version: loadContext.version },
    { instructions: serverInstructions },
  );
  const register = toolRegistrar(server, tools);
  registerWorkspaceTools(register);
  registerSessionTools(register);
  registerSecretTools(register);
  const transport = new WebStandardStreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: true,
  });
  await server.connect(transport);
  try {
    const response = await transport.handleRequest(request, { parsedBody: messages });
    // Calls the SDK refused before any tool ran (unknown tool, arguments not matching the
    // schema) are audited too: every call is.
    for (const call of toolCallsOf(messages))
      if (!audited.has(call.requestId)) await audit({ ...call, ok: false });
    return response;
  } finally {
    await server.close();
  }
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const toolNamePattern = /^[a-z_]{1,64}$/;

/** The tools/call requests among `messages`, with only what is safe to audit of each. */
function toolCallsOf(messages: unknown): Omit<ToolCall, "ok">[] {
  const list: unknown[] = Array.isArray(messages) ? messages : [messages];
  return list.flatMap((message) => {
    const { method, id, params } = (message ?? {}) as {
      method?: unknown;
      id?: unknown;
      params?: { name?: unknown; arguments?: { workspace_id?: unknown } };
    };
    if (method !== "tools/call" || (typeof id !== "string" && typeof id !== "number")) return [];
    // Anything else a caller sent could be anything, a secret's value included.
    const name = typeof params?.name === "string" ? params.name : "";
    const workspaceId = params?.arguments?.workspace_id;
    return [
      {
        tool: toolNamePattern.test(name) ? name : "(unknown)",
        workspaceId:
          typeof workspaceId === "string" && uuidPattern.test(workspaceId)
            ? workspaceId
            : undefined,
        requestId: id,
      },
    ];
  });
}
