import type { AppLoadContext, EntryContext, HandleErrorFunction } from "@remix-run/node";
import { RemixServer } from "@remix-run/react";
// The browser build streams with web streams, which both Node and Deno provide; Node's
// default `react-dom/server` build in React 18 has no renderToReadableStream.
import { renderToReadableStream } from "react-dom/server.browser";
import { NonceProvider } from "./lib/nonce.ts";

/** How long deferred data may stream before the response is cut (read by Remix). */
export const streamTimeout = 5_000;

export default async function handleRequest(
  request: Request,
  responseStatusCode: number,
  responseHeaders: Headers,
  remixContext: EntryContext,
  loadContext: AppLoadContext,
): Promise<Response> {
  let status = responseStatusCode;
  // Every inline script of the page (Remix's and React's streaming ones) carries the nonce
  // the Content-Security-Policy of this response allows; no other inline script runs.
  const nonce = loadContext.cspNonce;
  const body = await renderToReadableStream(
    <NonceProvider value={nonce}>
      <RemixServer context={remixContext} url={request.url} nonce={nonce} />
    </NonceProvider>,
    {
      nonce,
      signal: AbortSignal.any([request.signal, AbortSignal.timeout(streamTimeout + 1_000)]),
      onError(error: unknown) {
        status = 500;
        // Errors during streaming have no request context left; React reports them here.
        if (!request.signal.aborted) console.error(error);
      },
    },
  );
  responseHeaders.set("Content-Type", "text/html; charset=utf-8");
  return new Response(body, { headers: responseHeaders, status });
}

export const handleError: HandleErrorFunction = (error, { request, context }) => {
  if (request.signal.aborted) return;
  context.logger.error({ err: error }, "unhandled error while rendering a page");
};
