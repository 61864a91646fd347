import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

// The plumbing the third-party fakes share: a loopback node:http server, JSON bodies, a
// request log, and fault switches that tests flip at runtime to play a flaky API.

/** What a route answers; the server writes it, or withholds it when a fault says so. */
export type Reply = { status: number; body?: unknown; headers?: Record<string, string> };

export type FakeRequest = {
  method: string;
  /** The path without the query string, e.g. `/v1/servers/12`. */
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage["headers"];
  /** The parsed JSON body; undefined when there was none. */
  body: unknown;
  /** The body's size in bytes, before parsing. */
  bodyBytes: number;
};

export type LoggedRequest = {
  method: string;
  path: string;
  status: number | "lost";
  /** The query string without `?`; contract tests check what a client sent and got. */
  query?: string;
  /** The parsed JSON body of the request. */
  body?: unknown;
  /** The JSON body answered. */
  response?: unknown;
};

export type Fault =
  /**
   * 429 as Hetzner sends it: `RateLimit-Limit` (per hour, 3600 unless told),
   * `RateLimit-Remaining` (0 unless told) and `RateLimit-Reset` (unix seconds when the budget
   * is full again, refilled one request per 3600/limit seconds) and no `Retry-After`, unless
   * `retryAfterSeconds` asks for one.
   */
  | { kind: "rate-limit"; retryAfterSeconds?: number; limit?: number; remaining?: number }
  /** Any error answer in the fake's own envelope, e.g. Hetzner's 403 `token_readonly`. */
  | { kind: "error"; status: number; code: string; message?: string; details?: unknown }
  /** A server error: 500 unless told otherwise. */
  | { kind: "server-error"; status?: 500 | 502 | 503 }
  /** Waits, then answers normally (the operation happens even if the client gave up). */
  | { kind: "slow"; delayMs: number }
  /** Performs the operation, then destroys the socket without answering. */
  | { kind: "lost-response" }
  /**
   * Never answers: holds the request open until the client hangs up (aborts or times out).
   * With `performs`, the operation is carried out when the client has gone, as a request
   * that reached the provider lands late; otherwise nothing happens. Logged as "lost".
   */
  | { kind: "hang"; performs?: boolean };

export type FaultRule = Fault & {
  /** How many matching requests get this fault; 1 unless told, Infinity for "forever". */
  times?: number;
  /** Only requests with this method (upper case). */
  method?: string;
  /** Only requests whose path equals this string or matches this pattern. */
  path?: string | RegExp;
};

export type FaultSwitches = {
  /** Queues a fault; rules apply in the order they were added, each until used up. */
  add: (rule: FaultRule) => void;
  /** Forgets every rule, used up or not. */
  clear: () => void;
  /** Rules that still have uses left. */
  pending: () => number;
};

type ActiveRule = FaultRule & { remaining: number };

export function createFaultSwitches(): FaultSwitches & {
  take: (method: string, path: string) => Fault | undefined;
} {
  let rules: ActiveRule[] = [];
  const matches = (rule: ActiveRule, method: string, path: string) =>
    rule.remaining > 0 &&
    (rule.method === undefined || rule.method === method) &&
    (rule.path === undefined ||
      (typeof rule.path === "string" ? rule.path === path : rule.path.test(path)));
  return {
    add: (rule) => rules.push({ ...rule, remaining: rule.times ?? 1 }),
    clear: () => {
      rules = [];
    },
    pending: () => rules.filter((rule) => rule.remaining > 0).length,
    take: (method, path) => {
      const rule = rules.find((candidate) => matches(candidate, method, path));
      if (!rule) return undefined;
      rule.remaining -= 1;
      return rule;
    },
  };
}

export type ErrorReplyFactory = (
  status: number,
  code: string,
  message: string,
  details?: unknown,
) => Reply;

export type FakeServerOptions = {
  handle: (request: FakeRequest) => Reply | Promise<Reply>;
  /** The fake's own error envelope, used for faults and unreadable requests. */
  errorReply: ErrorReplyFactory;
  faults: ReturnType<typeof createFaultSwitches>;
  requests: LoggedRequest[];
};

export type FakeServer = { origin: string; close: () => Promise<void> };

export async function startFakeServer(options: FakeServerOptions): Promise<FakeServer> {
  const server = http.createServer((req, res) => {
    void serveRequest(options, req, res).catch((error: unknown) => {
      if (!res.headersSent) writeReply(res, options.errorReply(500, "fake_error", String(error)));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

async function serveRequest(
  options: FakeServerOptions,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  const method = req.method ?? "GET";
  const entry: LoggedRequest = {
    method,
    path: url.pathname,
    status: 0,
    query: url.searchParams.toString(),
  };
  options.requests.push(entry);
  const raw = await readBody(req);
  const fault = options.faults.take(method, url.pathname);
  const early = fault ? faultReply(fault, options.errorReply) : undefined;
  if (early) return finish(res, entry, early);
  if (fault?.kind === "slow") await sleep(fault.delayMs);
  if (fault?.kind === "hang") {
    entry.status = "lost";
    await new Promise<void>((resolve) => res.once("close", resolve));
    if (!fault.performs) return;
  }
  let body: unknown;
  try {
    body = raw.length > 0 ? JSON.parse(raw.toString("utf8")) : undefined;
  } catch {
    return finish(res, entry, options.errorReply(400, "json_error", "The body is not valid JSON"));
  }
  entry.body = body;
  const request = {
    method,
    path: url.pathname,
    query: url.searchParams,
    headers: req.headers,
    body,
    bodyBytes: raw.length,
  };
  const reply = await options.handle(request);
  if (fault?.kind === "lost-response" || fault?.kind === "hang") {
    entry.status = "lost";
    res.destroy();
    return;
  }
  finish(res, entry, reply);
}

function faultReply(fault: Fault, errorReply: ErrorReplyFactory): Reply | undefined {
  if (fault.kind === "server-error") {
    const status = fault.status ?? 500;
    return errorReply(status, "service_error", `Injected fault: ${status}`);
  }
  if (fault.kind === "error")
    return errorReply(
      fault.status,
      fault.code,
      fault.message ?? `Injected ${fault.code}`,
      fault.details,
    );
  if (fault.kind !== "rate-limit") return undefined;
  const limit = fault.limit ?? 3600;
  const remaining = fault.remaining ?? 0;
  const fullInSeconds = Math.ceil(((limit - remaining) * 3600) / limit);
  const reply = errorReply(429, "rate_limit_exceeded", "limit of 3600 requests per hour reached");
  return {
    ...reply,
    headers: {
      ...reply.headers,
      ...(fault.retryAfterSeconds === undefined
        ? {}
        : { "retry-after": String(fault.retryAfterSeconds) }),
      "ratelimit-limit": String(limit),
      "ratelimit-remaining": String(remaining),
      "ratelimit-reset": String(Math.ceil(Date.now() / 1000) + fullInSeconds),
    },
  };
}

function finish(res: ServerResponse, entry: LoggedRequest, reply: Reply): void {
  entry.status = reply.status;
  entry.response = reply.body;
  writeReply(res, reply);
}

function writeReply(res: ServerResponse, reply: Reply): void {
  const text = reply.body === undefined ? "" : JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    ...(text ? { "content-type": "application/json" } : {}),
    ...reply.headers,
  });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** The token in `Authorization: Bearer X`. */
export function readBearerToken(headers: IncomingMessage["headers"]): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? "")?.[1];
}

/** `page` and `per_page` from a query, clamped the way the real APIs clamp them. */
export function readPaging(
  query: URLSearchParams,
  defaults: { perPage: number; maxPerPage: number },
): { page: number; perPage: number } {
  const page = Math.max(1, Number.parseInt(query.get("page") ?? "1", 10) || 1);
  const asked = Number.parseInt(query.get("per_page") ?? "", 10) || defaults.perPage;
  return { page, perPage: Math.min(Math.max(1, asked), defaults.maxPerPage) };
}
