import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";

// node:http ⇄ Fetch API, so Remix and tRPC (both fetch-based) run behind one node:http
// server on Node and on Deno alike.

/**
 * The request as a Fetch `Request`, aborted when the client goes away. `body` replaces the
 * raw request stream (a size-limited one, see body-limit.ts).
 */
export function toFetchRequest(
  req: IncomingMessage,
  res: ServerResponse,
  origin: string,
  body?: ReadableStream<Uint8Array>,
): Request {
  const controller = new AbortController();
  // Only a client gone before the answer was sent aborts. Aborting every request on its
  // close (the answer long sent) cost 6 % of a tRPC call in ADR 0026's profile, for nothing:
  // by then nobody listens.
  res.once("close", () => {
    if (!res.writableFinished) controller.abort();
  });
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
  }
  const method = req.method ?? "GET";
  const hasBody = method !== "GET" && method !== "HEAD";
  const init: RequestInit & { duplex?: "half" } = { method, headers, signal: controller.signal };
  if (hasBody) {
    init.body = body ?? (Readable.toWeb(req) as ReadableStream<Uint8Array>);
    init.duplex = "half";
  }
  // The origin comes from PUBLIC_URL, never from the Host header, so a forged Host cannot
  // change the links and redirects we generate.
  return new Request(new URL(req.url ?? "/", origin), init);
}

/** Writes a Fetch `Response` to a node:http response, streaming its body. */
export async function sendFetchResponse(res: ServerResponse, response: Response): Promise<void> {
  res.statusCode = response.status;
  if (response.statusText) res.statusMessage = response.statusText;
  for (const [name, value] of response.headers) {
    if (name !== "set-cookie") res.setHeader(name, value);
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader("set-cookie", cookies);
  if (!response.body) {
    res.end();
    return;
  }
  await writeBody(res, response.body.getReader());
}

/**
 * The body's chunks as they come, waiting for "drain" when the socket is full. Not
 * stream.pipeline over Readable.fromWeb: that wraps every answer in two more streams and an
 * AbortController it aborts when done (a DOMException per request, ADR 0026). A client that
 * leaves cancels the body, so an endless stream (live updates) stops with it.
 */
async function writeBody(res: ServerResponse, reader: ReadableStreamDefaultReader<Uint8Array>) {
  const cancel = () => {
    if (!res.writableFinished) reader.cancel(new Error("the client went away")).catch(() => {});
  };
  res.once("close", cancel);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || res.destroyed) break;
      if (!res.write(value)) await drained(res);
    }
    if (!res.destroyed) res.end();
  } catch (error) {
    await reader.cancel(error).catch(() => {});
    throw error;
  } finally {
    res.off("close", cancel);
  }
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.once("drain", done);
    res.once("close", done);
  });
}
