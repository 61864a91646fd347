import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { TRPCError } from "@trpc/server";
import type { AppLoadContextValue } from "../http/load-context.ts";
import { recordAuditEvent } from "../services/audit.ts";
import { createTrpcContext } from "../trpc/context.ts";
import { createCaller, type ToolContext } from "./mcp-tool.ts";
import { registerSessionTools } from "./session-tools.ts";
import { registerWorkspaceTools } from "./workspace-tools.ts";

// SPEC §14: `/mcp`, a Streamable HTTP MCP endpoint (docs/adr/0016, docs/guides/mcp.md). Stateless:
// each POST is one JSON-RPC exchange answered as JSON, made as the API token's user through the
// same tRPC procedures the SDK calls, under the same rate limits. Only API tokens are accepted:
// a browser's cookie must not let a page drive a user's workspaces.

export const mcpEndpoint = "/mcp";

export async function handleMcpRequest(
  request: Request,
  loadContext: AppLoadContextValue,
): Promise<Response> {
  if (!/^Bearer\s+\S+$/i.test(request.headers.get("authorization") ?? ""))
    return refuse(
      401,
      "Send an API token as `Authorization: Bearer <token>` (Settings → API tokens). Browser sign-in cookies are not accepted here.",
    );
  const context = await createTrpcContext({
    request,
    loadContext,
    responseHeaders: new Headers(),
    calls: 1,
  }).catch((error: unknown) => {
    if (error instanceof TRPCError && error.code === "TOO_MANY_REQUESTS") return error;
    throw error;
  });
  if (context instanceof TRPCError) return refuse(429, context.message);
  if (!context.auth.user || context.auth.via !== "token")
    return refuse(
      401,
      "This API token is unknown, revoked or expired. Create a new one in Settings → API tokens.",
    );
  const actorSubject = context.auth.user.auditSubject;
  const tools: ToolContext = {
    caller: createCaller(context),
    audit: ({ tool, workspaceId, ok }) =>
      recordAuditEvent(loadContext.db, {
        actorSubject,
        action: "mcp.tool",
        targetType: workspaceId ? "workspace" : undefined,
        targetId: workspaceId,
        details: { tool, ok },
      }),
  };
  const server = new McpServer(
    { name: "cloud-ai-workspaces", version: loadContext.version },
    { instructions: serverInstructions },
  );
  registerWorkspaceTools(server, tools);
  registerSessionTools(server, tools);
  const transport = new WebStandardStreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: true,
  });
  await server.connect(transport);
  try {
    return await transport.handleRequest(request);
  } finally {
    await server.close();
  }
}

const serverInstructions =
  "Cloud AI Workspaces: cloud workspaces (a VM with a repository) with terminal sessions. " +
  "create_workspace, then poll get_workspace until state is running; create_session, send_input a command, read_output. " +
  "Destructive tools (delete_workspace, end_session) need confirm_name = the workspace's name.";

function refuse(status: number, message: string): Response {
  return Response.json(
    { jsonrpc: "2.0", error: { code: -32001, message }, id: null },
    {
      status,
      headers: status === 401 ? { "www-authenticate": 'Bearer realm="cloud-ai-workspaces"' } : {},
    },
  );
}
