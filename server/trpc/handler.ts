import { resolveResponse } from "@trpc/server/http";
import { retryAfterOf } from "../errors.ts";
import { joinLoadContext, type AppLoadContextValue } from "../http/load-context.ts";
import { createFetchRoute, type SharedLoadContext } from "../http/remix-handler.ts";
import { createTrpcContext } from "./context.ts";
import { appErrorOf } from "./init.ts";
import { appRouter } from "./root.ts";

export const trpcEndpoint = "/api/trpc";

/** Whether app-server.ts hands this path to tRPC (the endpoint and every procedure under it). */
export const isTrpcPath = (pathname: string) =>
  pathname === trpcEndpoint || pathname.startsWith(`${trpcEndpoint}/`);

/**
 * /api/trpc straight from node:http, not through Remix: Remix's request handling (route
 * matching, which compiles every route's pattern per request, and its resource-route
 * wrapping) was 17 % of a tRPC call in ADR 0026's profile and added nothing to it. The body
 * limit, request id, logging and security headers are app-server.ts's, as for Remix.
 */
export function createTrpcRoute(context: SharedLoadContext) {
  return createFetchRoute(context.env.API_MAX_BODY_BYTES, async (request, perRequest, url) => {
    // JSON only, never a page: no inline script needs a nonce (the strict CSP stays).
    const loadContext = joinLoadContext(context, perRequest, { cspNonce: "" });
    return { response: await handleTrpcRequest(request, loadContext, url.pathname) };
  });
}

/**
 * Answers a tRPC request; unknown errors are logged in full and reach the client as a
 * generic 500. A batch over API_MAX_BATCH_CALLS is refused whole, before any call runs.
 *
 * tRPC's own core (`resolveResponse`, its API for adapters) rather than its fetch adapter:
 * that adapter is a wrapper which copies its options twice per request with a spread
 * helper, and those copies were the largest cost a call had beyond a bare handler (ADR 0029).
 */
export function handleTrpcRequest(
  request: Request,
  loadContext: AppLoadContextValue,
  pathname: string,
): Promise<Response> {
  const responseHeaders = new Headers();
  return resolveResponse({
    req: request,
    router: appRouter,
    path: procedurePathOf(pathname),
    error: null,
    maxBatchSize: loadContext.env.API_MAX_BATCH_CALLS,
    createContext: ({ info }) =>
      createTrpcContext({ request, loadContext, responseHeaders, calls: info.calls.length }),
    responseMeta({ errors }) {
      // A rate limit says when to come back, as /auth's problem answers do.
      const seconds = Math.max(0, ...errors.map((error) => retryAfterOf(error.cause) ?? 0));
      if (seconds > 0) responseHeaders.set("retry-after", String(seconds));
      return { headers: responseHeaders };
    },
    onError({ error, path }) {
      const code = appErrorOf(error)?.code ?? error.code;
      if (code === "INTERNAL_SERVER_ERROR") {
        loadContext.logger.error({ err: error.cause ?? error, path }, "tRPC procedure failed");
      } else {
        loadContext.logger.info({ code, path }, "tRPC procedure refused the request");
      }
    },
  });
}

/** `workspaces.list` of `/api/trpc/workspaces.list` (a batch's paths joined by commas). */
function procedurePathOf(pathname: string): string {
  return pathname.slice(trpcEndpoint.length).replace(/^\/+|\/+$/g, "");
}
