import type { IncomingMessage, ServerResponse } from "node:http";
import type { ServerBuild } from "@remix-run/node";
import { createRequestHandler } from "@remix-run/node";
import { limitRequestBody, refuseDeclaredOversize } from "./body-limit.ts";
import { sendFetchResponse, toFetchRequest } from "./fetch-adapter.ts";
import type { AppLoadContextValue } from "./load-context.ts";
import { applyPagePolicy, createCspNonce } from "./security-headers.ts";

export type SharedLoadContext = Omit<
  AppLoadContextValue,
  "logger" | "requestId" | "clientAddress" | "cspNonce"
>;

export type PerRequestContext = Pick<AppLoadContextValue, "logger" | "requestId" | "clientAddress">;

/**
 * Pages and /api/trpc (a Remix resource route): the body size limit is enforced here, in
 * front of Remix, so no loader, action or tRPC procedure ever buffers an oversized body.
 */
export function createRemixHandler(build: ServerBuild, context: SharedLoadContext, origin: string) {
  const handleRemix = createRequestHandler(build, "production");
  const maxBytes = context.env.API_MAX_BODY_BYTES;
  return async (req: IncomingMessage, res: ServerResponse, perRequest: PerRequestContext) => {
    refuseDeclaredOversize(req, maxBytes);
    const body = hasBody(req) ? limitRequestBody(req, maxBytes) : undefined;
    const cspNonce = createCspNonce();
    const response = await handleRemix(toFetchRequest(req, res, origin, body?.stream), {
      ...context,
      ...perRequest,
      cspNonce,
    });
    // Whatever the action or procedure made of its cut-off body, the answer is our 413.
    const overflow = body?.overflow();
    if (overflow) {
      await response.body?.cancel();
      throw overflow;
    }
    applyPagePolicy(res, response, cspNonce);
    if (!req.complete) closeAfterResponse(res);
    await sendFetchResponse(res, response);
  };
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
  res.setHeader("connection", "close");
}
