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
  const timeout = startRenderTimeout();
  const rendering = renderToReadableStream(
    <NonceProvider value={nonce}>
      <RemixServer context={remixContext} url={request.url} nonce={nonce} />
    </NonceProvider>,
    {
      nonce,
      signal: AbortSignal.any([request.signal, timeout.signal]),
      onError(error: unknown) {
        status = 500;
        // Errors while streaming reach no ErrorBoundary; React reports them here. A client that
        // left is no error of ours.
        if (!request.signal.aborted)
          loadContext.logger.error({ err: error }, "error while streaming a page");
      },
    },
  );
  // A shell that failed to render has nothing to abort either (Remix renders the error page).
  const body = await rendering.catch((error: unknown) => {
    timeout.clear();
    throw error;
  });
  // Rendered in full, the page has nothing left to abort; React 18 keeps listening, and an
  // abort after its stream closed logs "Controller is already closed" once per page view.
  body.allReady.then(timeout.clear, timeout.clear);
  responseHeaders.set("Content-Type", "text/html; charset=utf-8");
  return new Response(body, { headers: responseHeaders, status });
}

/** Aborts a render still streaming deferred data a second after Remix gave up on it. */
function startRenderTimeout() {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), streamTimeout + 1_000);
  timer.unref();
  return { signal: controller.signal, clear: () => clearTimeout(timer) };
}

export const handleError: HandleErrorFunction = (error, { request, context }) => {
  if (request.signal.aborted) return;
  context.logger.error({ err: error }, "unhandled error while rendering a page");
};
