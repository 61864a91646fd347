import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";

// node:http ⇄ Fetch API, so Remix and tRPC (both fetch-based) run behind one node:http
// server on Node and on Deno alike.

/**
 * A Request whose `signal` is the one this adapter aborts. Handing undici's Request an init
 * signal makes it create its own controller and follow ours through a WeakRef and a
 * FinalizationRegistry: ~7 µs a request on Node 20, the largest part of the conversion
 * (ADR 0030). Remix and tRPC only read `signal` (Remix passes it on as an init signal).
 */
class NodeRequest extends Request {
  readonly #signal: AbortSignal;
  constructor(url: string, init: RequestInit, signal: AbortSignal) {
    super(url, init);
    this.#signal = signal;
  }
  override get signal(): AbortSignal {
    return this.#signal;
  }
}

/**
 * The request as a Fetch `Request`, aborted when the client goes away. `url` is the request's
 * URL resolved against PUBLIC_URL (app-server.ts parses it once for every handler); `body`
 * replaces the raw request stream (a size-limited one, see body-limit.ts).
 */
export function toFetchRequest(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  body?: ReadableStream<Uint8Array>,
): Request {
  const controller = new AbortController();
  // Only a client gone before the answer was sent aborts. Aborting every request on its
  // close (the answer long sent) cost 6 % of a tRPC call in ADR 0026's profile, for nothing:
  // by then nobody listens.
  res.once("close", () => {
    if (!res.writableFinished) controller.abort();
  });
  // Name/value pairs, not a Headers object the Request would copy once more.
  const headers: [string, string][] = [];
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    if (typeof value === "string") headers.push([name, value]);
    else for (const item of value) headers.push([name, item]);
  }
  const method = req.method ?? "GET";
  const hasBody = method !== "GET" && method !== "HEAD";
  const init: RequestInit & { duplex?: "half" } = { method, headers };
  if (hasBody) {
    init.body = body ?? (Readable.toWeb(req) as ReadableStream<Uint8Array>);
    init.duplex = "half";
  }
  return new NodeRequest(url.href, init, controller.signal);
}

/**
 * The request's URL: its path and query on PUBLIC_URL's origin, never the Host header's, so
 * a forged Host cannot change the links and redirects we generate. A target that would
 * bring its own origin (`//other/x` or `/\\other/x`, both "scheme-relative" to the URL
 * parser, or the absolute form `http://other/x`) keeps only its path and query. Undefined
 * for a target that is no URL at all (`http://[x/`, which node:http lets through).
 */
export function requestUrlOf(req: IncomingMessage, origin: string): URL | undefined {
  const target = req.url ?? "/";
  const second = target[1];
  try {
    if (target.startsWith("/") && second !== "/" && second !== "\\") return new URL(target, origin);
    const parsed = new URL(target, origin);
    return new URL(`${parsed.pathname}${parsed.search}`, origin);
  } catch {
    return undefined;
  }
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
