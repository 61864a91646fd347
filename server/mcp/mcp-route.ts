import type { IncomingMessage, ServerResponse } from "node:http";
import { AppError, httpStatusOf, retryAfterOf } from "../errors.ts";
import { limitRequestBody, refuseDeclaredOversize } from "../http/body-limit.ts";
import { sendFetchResponse, toFetchRequest } from "../http/fetch-adapter.ts";
import { joinLoadContext } from "../http/load-context.ts";
import {
  closeAfterResponse,
  type PerRequestContext,
  type SharedLoadContext,
} from "../http/remix-handler.ts";
import { checkRequestOrigin } from "../http/request-guards.ts";
import { answerMcpRequest } from "./mcp-handler.ts";

// SPEC §14: `/mcp` in front of Remix (docs/adr/0016). Only an API token gets in: a browser's
// sign-in cookie must not let a web page drive the user's workspaces. The body limit, the
// origin check and the rate limits are the ones of /api/trpc; refusals are JSON-RPC errors.

export const mcpPath = "/mcp";

export const missingTokenMessage =
  "Send an API token as `Authorization: Bearer <token>` (create one in Settings → API tokens). The MCP endpoint does not accept browser sign-in cookies.";

const methodMessage =
  "This MCP endpoint is stateless: send JSON-RPC messages with POST (no SSE stream, no session to delete).";

/** The /mcp handler app-server.ts routes to. */
export function createMcpRoute(context: SharedLoadContext, origin: string) {
  const maxBytes = context.env.API_MAX_BODY_BYTES;
  return async (
    req: IncomingMessage,
    res: ServerResponse,
    perRequest: PerRequestContext,
    url: URL,
  ) => {
    try {
      if (req.method !== "POST")
        return await sendFetchResponse(res, jsonRpcError(405, methodMessage, { allow: "POST" }));
      if (!/^Bearer\s+\S+$/i.test(req.headers.authorization ?? ""))
        throw new AppError("UNAUTHORIZED", missingTokenMessage);
      // MCP asks servers to check Origin (DNS rebinding); ours is the site's own CSRF rule.
      checkRequestOrigin(req, origin);
      const text = await readBody(req, maxBytes);
      const request = toFetchRequest(req, res, url, new Response(text).body!);
      const messages = parseJson(text);
      if (messages === undefined)
        return await sendFetchResponse(
          res,
          jsonRpcError(400, "Parse error: the body is not JSON."),
        );
      const loadContext = joinLoadContext(context, perRequest, { cspNonce: "" });
      await sendFetchResponse(res, await answerMcpRequest(request, messages, loadContext));
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      perRequest.logger.info({ code: error.code }, "mcp request refused");
      // A body left unread (a refusal before it, or past the limit) is not drained.
      if (!req.complete) closeAfterResponse(res);
      await sendFetchResponse(res, refusalOf(error));
    }
  };
}

/** The whole body, or the 413 AppError once it is over API_MAX_BODY_BYTES. */
async function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  refuseDeclaredOversize(req, maxBytes);
  const body = limitRequestBody(req, maxBytes);
  try {
    return await new Response(body.stream).text();
  } catch (error) {
    throw body.overflow() ?? error;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function refusalOf(error: AppError): Response {
  const status = httpStatusOf(error.code);
  const retryAfter = retryAfterOf(error);
  return jsonRpcError(status, error.message, {
    ...(status === 401 && { "www-authenticate": 'Bearer realm="cloud-ai-workspaces"' }),
    ...(retryAfter && { "retry-after": String(retryAfter) }),
  });
}

function jsonRpcError(status: number, message: string, headers: Record<string, string> = {}) {
  // The form MCP's own transport answers its refusals in (a JSON-RPC server error).
  return Response.json(
    { jsonrpc: "2.0", error: { code: -32000, message }, id: null },
    { status, headers },
  );
}
