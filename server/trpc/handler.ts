import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import type { AppLoadContextValue } from "../http/load-context.ts";
import { createTrpcContext } from "./context.ts";
import { appRouter } from "./root.ts";

export const trpcEndpoint = "/api/trpc";

/** Answers a tRPC request; unknown errors are logged in full and reach the client as a generic 500. */
export function handleTrpcRequest(
  request: Request,
  loadContext: AppLoadContextValue,
): Promise<Response> {
  return fetchRequestHandler({
    endpoint: trpcEndpoint,
    req: request,
    router: appRouter,
    createContext: ({ resHeaders }) =>
      createTrpcContext({ request, loadContext, responseHeaders: resHeaders }),
    onError({ error, path }) {
      if (error.code === "INTERNAL_SERVER_ERROR") {
        loadContext.logger.error({ err: error.cause ?? error, path }, "tRPC procedure failed");
      } else {
        loadContext.logger.info({ code: error.code, path }, "tRPC procedure refused the request");
      }
    },
  });
}
