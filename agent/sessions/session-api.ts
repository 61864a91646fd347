import type { IncomingMessage, ServerResponse } from "node:http";
import type { z } from "zod";
import {
  createSessionRequestSchema,
  renameSessionRequestSchema,
  sessionInputRequestSchema,
  sessionOutputQuerySchema,
} from "../../protocol/agent-sessions.ts";
import { ControlAuthError, type ControlCaller } from "../auth/control-auth.ts";
import { SessionError, type WorkspaceSessions } from "./workspace-sessions.ts";

// The agent's session API for the control plane (SPEC §14, docs/agent-protocol.md), on the same
// server as the terminal: list, create, rename and end sessions, type into one and read its
// recent output. Every request carries the control plane's short-lived JWT.

export type SessionApiOptions = {
  sessions: Pick<
    WorkspaceSessions,
    "list" | "create" | "rename" | "end" | "sendInput" | "readOutput"
  >;
  authenticate: (authorization: string | undefined) => Promise<ControlCaller>;
  log: (message: string) => void;
};

/** Largest request body: 16 KiB of input text, however JSON escapes it. */
export const sessionApiBodyMaxBytes = 128 * 1024;

class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function createSessionApi(options: SessionApiOptions) {
  return async function handleApi(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader("cache-control", "no-store");
    try {
      await options.authenticate(req.headers.authorization);
      const { status, body } = await route(options, req);
      sendJson(res, status, body);
    } catch (error) {
      if (error instanceof ControlAuthError)
        return sendJson(res, error.status, { error: error.message });
      if (error instanceof SessionError)
        return sendJson(res, error.status, { error: error.message });
      if (error instanceof ApiError) {
        for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
        return sendJson(res, error.status, { error: error.message });
      }
      options.log(`Session API ${req.method} failed: ${String(error)}`);
      sendJson(res, 500, { error: "The agent failed to answer; its log says why." });
    }
  };
}

async function route(
  options: SessionApiOptions,
  req: IncomingMessage,
): Promise<{ status: number; body: unknown }> {
  const url = new URL(req.url ?? "/", "http://agent.invalid");
  const parts = url.pathname.split("/").slice(1); // ["api", "sessions", name?, "input"|"output"?]
  if (parts[0] !== "api" || parts[1] !== "sessions" || parts.length > 4)
    throw new ApiError(404, "No such API; see docs/agent-protocol.md.");
  const name = parts[2] === undefined ? undefined : decodeName(parts[2]);
  const action = `${req.method} ${name === undefined ? "" : ":name"}${parts[3] ? `/${parts[3]}` : ""}`;
  const { sessions } = options;
  switch (action) {
    case "GET ":
      return ok({ sessions: sessions.list() });
    case "POST ": {
      const input = await readBody(req, createSessionRequestSchema);
      return { status: 201, body: await sessions.create(input.name) };
    }
    case "PATCH :name":
      return ok(
        await sessions.rename(name!, (await readBody(req, renameSessionRequestSchema)).name),
      );
    case "DELETE :name":
      await sessions.end(name!);
      return ok({ name });
    case "POST :name/input": {
      const input = await readBody(req, sessionInputRequestSchema);
      await sessions.sendInput(name!, input.text, input.enter);
      return ok({ ok: true });
    }
    case "GET :name/output": {
      const query = sessionOutputQuerySchema.safeParse(Object.fromEntries(url.searchParams));
      if (!query.success) throw new ApiError(400, `lines: ${query.error.issues[0]?.message}`);
      return ok(await sessions.readOutput(name!, query.data.lines));
    }
  }
  throw new ApiError(405, `${req.method} is not served at ${url.pathname}.`, {
    allow: allowedAt(name, parts[3]),
  });
}

const ok = (body: unknown) => ({ status: 200, body });

function decodeName(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new ApiError(400, "The session name in the path is not valid percent-encoding.");
  }
}

function allowedAt(name: string | undefined, action: string | undefined): string {
  if (name === undefined) return "GET, POST";
  if (action === "input") return "POST";
  if (action === "output") return "GET";
  return "PATCH, DELETE";
}

async function readBody<T extends z.ZodType>(
  req: IncomingMessage,
  schema: T,
): Promise<z.output<T>> {
  if (!/^application\/json\b/i.test(req.headers["content-type"] ?? ""))
    throw new ApiError(415, "Send the body as JSON (content-type: application/json).");
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > sessionApiBodyMaxBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > sessionApiBodyMaxBytes) throw tooLarge();
    chunks.push(chunk);
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
  } catch {
    throw new ApiError(400, "The body is not JSON.");
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ApiError(400, `${issue?.path.join(".") || "body"}: ${issue?.message}`);
  }
  return parsed.data;
}

const tooLarge = () => new ApiError(413, `Send at most ${sessionApiBodyMaxBytes / 1024} KiB.`);

function sendJson(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}
