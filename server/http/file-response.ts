/* eslint-disable security/detect-non-literal-fs-filename -- paths come from our own build manifests, never from a request */
import { createReadStream } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { pipeline } from "node:stream/promises";

// A built file sent as a download: ETag, If-None-Match, one byte range with If-Range, HEAD.
// Shared by /agent/download and /agent/toolchain, which a VM resumes with `curl -C -`.

export type FileRepresentation = { path: string; size: number; etag: string };

/** Sends `file` with `headers` (set first), answering conditional and range requests. */
export async function sendFileResponse(
  req: IncomingMessage,
  res: ServerResponse,
  file: FileRepresentation,
  headers: Record<string, string>,
): Promise<void> {
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.setHeader("etag", file.etag);
  res.setHeader("accept-ranges", "bytes");
  if (matchesEntityTag(req.headers["if-none-match"], file.etag)) {
    res.statusCode = 304;
    return void res.end();
  }
  const range = readByteRange(req, file);
  if (range === "unsatisfiable") {
    res.statusCode = 416;
    res.setHeader("content-range", `bytes */${file.size}`);
    return void res.end();
  }
  if (range) {
    res.statusCode = 206;
    res.setHeader("content-range", `bytes ${range.start}-${range.end}/${file.size}`);
    res.setHeader("content-length", range.end - range.start + 1);
  } else res.setHeader("content-length", file.size);
  if (req.method === "HEAD") return void res.end();
  await pipeline(createReadStream(file.path, range ?? undefined), res);
}

type ByteRange = { start: number; end: number };

// One `bytes=` range (RFC 9110 §14); several, a malformed one or a stale If-Range get the
// whole file (200), which the RFC allows and curl handles.
function readByteRange(
  req: IncomingMessage,
  file: FileRepresentation,
): ByteRange | "unsatisfiable" | null {
  const header = req.headers.range;
  if (!header) return null;
  // If-Range compares strongly, and there is no Last-Modified a date could match.
  const ifRange = req.headers["if-range"];
  if (ifRange !== undefined && String(ifRange).trim() !== file.etag) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (!match[1] && !match[2])) return null;
  const last = file.size - 1;
  if (!match[1]) {
    const suffix = Number(match[2]);
    return suffix === 0 || file.size === 0
      ? "unsatisfiable"
      : { start: Math.max(0, file.size - suffix), end: last };
  }
  const start = Number(match[1]);
  const end = match[2] ? Number(match[2]) : Infinity;
  if (end < start) return null;
  return start > last ? "unsatisfiable" : { start, end: Math.min(end, last) };
}

// If-None-Match compares weakly (RFC 9110 §13.1.2): W/"x" matches "x".
function matchesEntityTag(header: string | undefined, etag: string): boolean {
  return (header ?? "")
    .split(",")
    .some((tag) => ["*", etag].includes(tag.trim().replace(/^W\//, "")));
}
