import type { IncomingMessage } from "node:http";
import { AppError } from "../errors.ts";

// Request bodies for Remix and tRPC have a size limit (API_MAX_BODY_BYTES) that holds before
// anything is buffered: a declared Content-Length over it is refused unread, and a body
// without one (chunked) is counted as it streams and cut off once over it.

export function bodyTooLarge(maxBytes: number): AppError {
  return new AppError(
    "PAYLOAD_TOO_LARGE",
    `The request body is over ${maxBytes} bytes, this server's limit (API_MAX_BODY_BYTES). Send less per request, e.g. split a batch into smaller ones.`,
  );
}

/** Throws a 413 AppError when the declared Content-Length is over the limit. */
export function refuseDeclaredOversize(req: IncomingMessage, maxBytes: number): void {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > maxBytes) throw bodyTooLarge(maxBytes);
}

export type LimitedBody = {
  stream: ReadableStream<Uint8Array>;
  /** The 413 AppError once more than the limit arrived; the rest is never read. */
  overflow: () => AppError | undefined;
};

/** The request body as a web stream that errors (and stops reading) past `maxBytes`. */
export function limitRequestBody(req: IncomingMessage, maxBytes: number): LimitedBody {
  let received = 0;
  let overflow: AppError | undefined;
  let settled = false;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      req.on("data", (chunk: Buffer) => {
        if (settled) return;
        received += chunk.length;
        if (received > maxBytes) {
          settled = true;
          overflow = bodyTooLarge(maxBytes);
          // Paused, not destroyed: the socket must stay open for the 413 answer.
          req.pause();
          controller.error(overflow);
          return;
        }
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 0) <= 0) req.pause();
      });
      req.once("end", () => {
        if (!settled) controller.close();
        settled = true;
      });
      req.once("error", (error) => {
        if (!settled) controller.error(error);
        settled = true;
      });
      req.pause();
    },
    pull() {
      if (!settled) req.resume();
    },
    cancel() {
      settled = true;
      req.pause();
    },
  });
  return { stream, overflow: () => overflow };
}
