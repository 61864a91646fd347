import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { answerMcpRequest } from "../lib/mcp-handler.server.ts";

// SPEC §14: the MCP endpoint (server/mcp/mcp-handler.ts), a resource route so the body limit,
// request logging and error answers of every other API request apply.
export const loader = (args: LoaderFunctionArgs) => answerMcpRequest(args);
export const action = (args: ActionFunctionArgs) => answerMcpRequest(args);
