import type { ActionFunctionArgs } from "@remix-run/node";
import { handleTrpcRequest } from "../../server/trpc/handler.ts";

/** Loader and action of the tRPC resource route: the fetch adapter behind /api/trpc/*. */
export function answerTrpcRequest({ request, context }: ActionFunctionArgs): Promise<Response> {
  return handleTrpcRequest(request, context);
}
