import type { ActionFunctionArgs } from "@remix-run/node";
import { handleMcpRequest } from "../../server/mcp/mcp-handler.ts";

/** Loader and action of the /mcp resource route. */
export function answerMcpRequest({ request, context }: ActionFunctionArgs): Promise<Response> {
  return handleMcpRequest(request, context);
}
