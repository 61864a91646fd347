import type { IncomingMessage, ServerResponse } from "node:http";
import type { ServerBuild } from "@remix-run/node";
import { createRequestHandler } from "@remix-run/node";
import { limitRequestBody, refuseDeclaredOversize } from "./body-limit.ts";
import { sendFetchResponse, toFetchRequest } from "./fetch-adapter.ts";
import { joinLoadContext, type AppLoadContextValue } from "./load-context.ts";
import { applyPagePolicy, createCspNonce } from "./security-headers.ts";

export type SharedLoadContext = Omit<
  AppLoadContextValue,
  "logger" | "requestId" | "clientAddress" | "cspNonce"
>;

export type PerRequestContext = Pick<AppLoadContextValue, "logger" | "requestId" | "clientAddress">;

/** A fetch handler's answer, and what to set on the node:http response once it is kept. */
export type FetchAnswer = { response: Response; decorate?: (res: ServerResponse) => void };

/** `url` is the request's URL on PUBLIC_URL's origin, parsed once by app-server.ts. */
export type FetchRoute = (
  req: IncomingMessage,
  res: ServerResponse,
  perRequest: PerRequestContext,
  url: URL,
) => Promise<void>;

/**
 * A fetch handler (Remix, tRPC) behind node:http. The body size limit is enforced here, in
 * front of it, so no loader, action or tRPC procedure ever buffers an oversized body.
 */
export function createFetchRoute(
  maxBytes: number,
  answer: (request: Request, perRequest: PerRequestContext, url: URL) => Promise<FetchAnswer>,
): FetchRoute {
  return async (req, res, perRequest, url) => {
    refuseDeclaredOversize(req, maxBytes);
    const body = hasBody(req) ? limitRequestBody(req, maxBytes) : undefined;
    const { response, decorate } = await answer(
      toFetchRequest(req, res, url, body?.stream),
      perRequest,
      url,
    );
    // Whatever the action or procedure made of its cut-off body, the answer is our 413.
    const overflow = body?.overflow();
    if (overflow) {
      await response.body?.cancel();
      throw overflow;
    }
    decorate?.(res);
    if (!req.complete) closeAfterResponse(res);
    await sendFetchResponse(res, response);
  };
}

/** Pages (and any resource route left in app/routes): Remix, with the page's CSP nonce. */
export function createRemixHandler(build: ServerBuild, context: SharedLoadContext) {
  const handleRemix = createRequestHandler(build, "production");
  return createFetchRoute(context.env.API_MAX_BODY_BYTES, async (request, perRequest) => {
    const cspNonce = createCspNonce();
    const response = await handleRemix(request, joinLoadContext(context, perRequest, { cspNonce }));
    return { response, decorate: (res) => applyPagePolicy(res, response, cspNonce) };
  });
}

export type RemixHandler = ReturnType<typeof createRemixHandler>;

function hasBody(req: IncomingMessage): boolean {
  return req.method !== "GET" && req.method !== "HEAD";
}

/**
 * The rest of a body we did not read is not drained (that is what keeping the connection
 * alive would take): the connection closes once the answer is sent.
 */
export function closeAfterResponse(res: ServerResponse): void {
  res.removeHeader("keep-alive");
  res.setHeader("connection", "close");
}
