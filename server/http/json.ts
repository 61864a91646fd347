import type { IncomingMessage, ServerResponse } from "node:http";
import type { z } from "zod";
import { AppError, describeZodError } from "../errors.ts";

const maxBodyBytes = 64 * 1024;

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader("content-type", "application/json");
  res.setHeader("cache-control", "no-store");
  res.end(JSON.stringify(body));
}

/** Reads a small JSON body and validates it; bad input is a 400 that names the field. */
export async function readJsonBody<Schema extends z.ZodType>(
  req: IncomingMessage,
  schema: Schema,
): Promise<z.output<Schema>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBodyBytes)
      throw new AppError("BAD_REQUEST", `The request body is over ${maxBodyBytes} bytes.`);
    chunks.push(chunk);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString("utf8") || "null");
  } catch {
    throw new AppError("BAD_REQUEST", "The request body is not JSON. Send application/json.");
  }
  const result = schema.safeParse(parsed);
  if (!result.success) throw new AppError("BAD_REQUEST", describeZodError(result.error));
  return result.data;
}
