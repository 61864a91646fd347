import type { IncomingMessage, ServerResponse } from "node:http";

// Small request and response helpers shared by the stand-in's handlers.

export const documentationUrl = "https://docs.github.com/rest";

const maxBodyBytes = 64 * 1024;

export class BodyTooLargeError extends Error {}

/** Reads a small request body (forms and JSON); git traffic is streamed, never read here. */
export async function readSmallBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBodyBytes) throw new BodyTooLargeError(`request body over ${maxBodyBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Reads a form-urlencoded or JSON body into flat string fields. */
export async function readFields(req: IncomingMessage): Promise<URLSearchParams> {
  const text = await readSmallBody(req);
  const type = req.headers["content-type"] ?? "";
  if (!type.includes("application/json")) return new URLSearchParams(text);
  const fields = new URLSearchParams();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return fields;
  }
  if (typeof parsed !== "object" || parsed === null) return fields;
  for (const [name, value] of Object.entries(parsed)) {
    if (typeof value === "string" || typeof value === "number") fields.set(name, String(value));
  }
  return fields;
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "cache-control": "no-store",
    ...headers,
  });
  res.end(JSON.stringify(body));
}

export function sendNotFound(res: ServerResponse): void {
  sendJson(res, 404, { message: "Not Found", documentation_url: documentationUrl });
}

export function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    // No scripts at all; form-action is left open because the form redirects to the app.
    "content-security-policy":
      "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
  });
  res.end(html);
}

export type BasicCredentials = { username: string; password: string };

export function parseBasicAuth(header: string | undefined): BasicCredentials | undefined {
  const match = /^Basic\s+(\S+)\s*$/i.exec(header ?? "");
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** The token in `Authorization: token X` or `Authorization: Bearer X`. */
export function parseTokenAuth(header: string | undefined): string | undefined {
  return /^(?:token|bearer)\s+(\S+)\s*$/i.exec(header ?? "")?.[1];
}
