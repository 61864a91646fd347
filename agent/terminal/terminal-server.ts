import { createHash } from "node:crypto";
import http, { type IncomingMessage, type Server, type ServerResponse } from "node:http";
import https from "node:https";
import type { SecureContextOptions } from "node:tls";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { advertiseKeepAlive, keepIdleConnectionsOpen } from "../../protocol/http-keep-alive.ts";
import {
  attachTerminalSocket,
  type TerminalSessionSource,
  type TerminalSocketTuning,
} from "./terminal-socket.ts";
import { terminalPageCsp } from "./page/terminal-page.ts";

// The agent's HTTP face (docs/agent-protocol.md): health, the terminal page and its assets,
// the terminal WebSocket, and (injected) the control plane's session API. Who may enter is
// decided by the injected auth hooks.

export interface TerminalUser {
  userId: string;
  /** The sign-in the cookie belongs to, whose end closes the sockets it opened. */
  grantId?: string;
}

export interface TerminalServerOptions {
  sessions: TerminalSessionSource;
  /** The signed-in user of a request (the session cookie), or null. */
  authenticate: (req: IncomingMessage) => Promise<TerminalUser | null>;
  /** The terminal page for this (signed-in) request. */
  renderPage: (req: IncomingMessage) => string;
  /** The page's Content-Security-Policy (it names the control plane); terminalPageCsp by default. */
  pageCsp?: string;
  readAsset: (name: string) => Buffer | null;
  health: () => unknown;
  /**
   * Answers `GET /`: e.g. exchanges a token for a cookie and redirects, or calls `sendPage`.
   * Without it, authenticated requests get the page and others 401.
   */
  handleEntry?: (req: IncomingMessage, res: ServerResponse, sendPage: () => void) => Promise<void>;
  socket?: TerminalSocketTuning;
  /** Every accepted WebSocket and who opened it, e.g. to close it when their access ends. */
  onSocket?: (ws: WebSocket, user: TerminalUser) => void;
  onError?: (error: unknown) => void;
  /**
   * Answers requests under `/api/` (the control plane's session API, any method); without it
   * they are 404. It authenticates them itself: the terminal cookie does not count there.
   */
  handleApi?: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
}

const maxTerminalSize = 1000;

/**
 * Plain HTTP, or with `tls` (the key and certificate; AGENT_TLS=origin-ca) HTTPS, whose
 * `setSecureContext` swaps in a renewed certificate without a restart.
 */
export function createTerminalServer(options: TerminalServerOptions): Server;
export function createTerminalServer(
  options: TerminalServerOptions,
  tls: SecureContextOptions,
): https.Server;
export function createTerminalServer(
  options: TerminalServerOptions,
  tls?: SecureContextOptions,
): Server | https.Server {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
  const onError = options.onError ?? ((error: unknown) => console.error(error));
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    advertiseKeepAlive(res);
    routeRequest(options, req, res).catch((error: unknown) => {
      onError(error);
      if (!res.headersSent) sendText(res, 500, "The terminal agent failed to answer.");
      else res.destroy();
    });
  };
  // Cloudflare's edge speaks TLS 1.2 and 1.3 to origins; nothing older is offered.
  const server = tls
    ? https.createServer({ ...tls, minVersion: "TLSv1.2" }, handle)
    : http.createServer(handle);
  // Cloudflare's edge keeps an idle origin connection for 900 s; we outlast it (a 520 otherwise).
  keepIdleConnectionsOpen(server);
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // The socket is ours from here; a peer that vanishes mid-handshake must not crash us.
    socket.on("error", () => {});
    acceptUpgrade(options, req, socket).then(
      (accepted) => {
        if (!accepted) return;
        const { user, ...attach } = accepted;
        wss.handleUpgrade(req, socket, head, (ws) => {
          options.onSocket?.(ws, user);
          void attachTerminalSocket(ws, options.sessions, { ...options.socket, ...attach }).catch(
            onError,
          );
        });
      },
      (error: unknown) => {
        onError(error);
        refuseUpgrade(socket, 500, "Internal Server Error");
      },
    );
  });
  // Upgraded sockets still count as the server's connections, so close() would wait for
  // every browser to leave; end them first (their sessions stay for the next agent).
  const closeServer = server.close.bind(server);
  server.close = (callback?: (error?: Error) => void) => {
    for (const client of wss.clients) client.terminate();
    return closeServer(callback);
  };
  return server;
}

async function routeRequest(
  options: TerminalServerOptions,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const { pathname } = new URL(req.url ?? "/", "http://agent.invalid");
  if (pathname.startsWith("/api/") && options.handleApi) return options.handleApi(req, res);
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.setHeader("allow", "GET, HEAD");
    return sendText(res, 405, "Only GET and HEAD are served here.");
  }
  if (pathname === "/health") {
    res.setHeader("cache-control", "no-store");
    return sendJson(res, 200, await options.health());
  }
  if (pathname === "/") return serveEntry(options, req, res);
  if (pathname.startsWith("/assets/"))
    return serveAsset(options, req, res, pathname.slice("/assets/".length));
  sendText(res, 404, "Not found.");
}

async function serveEntry(
  options: TerminalServerOptions,
  req: IncomingMessage,
  res: ServerResponse,
) {
  const sendPage = () => {
    res.writeHead(200, {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      // The page is only ever opened on its own; frame-ancestors works only as a header.
      "content-security-policy": `${options.pageCsp ?? terminalPageCsp}; frame-ancestors 'none'`,
      "referrer-policy": "no-referrer",
      "x-content-type-options": "nosniff",
    });
    res.end(options.renderPage(req));
  };
  if (options.handleEntry) return options.handleEntry(req, res, sendPage);
  if (await options.authenticate(req)) return sendPage();
  sendText(res, 401, "Open this terminal from the control plane's workspace page.");
}

const assetTypes: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
};
const assetTags = new WeakMap<Buffer, string>();

function serveAsset(
  options: TerminalServerOptions,
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
): void {
  const body = /^[\w-][\w.-]*$/.test(name) ? options.readAsset(name) : null;
  if (!body) return sendText(res, 404, "No such asset.");
  let etag = assetTags.get(body);
  if (!etag) {
    etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`;
    assetTags.set(body, etag);
  }
  // Asset names carry no version, so browsers revalidate; the ETag makes that cheap.
  res.setHeader("cache-control", "no-cache");
  res.setHeader("etag", etag);
  if (req.headers["if-none-match"] === etag) {
    res.writeHead(304).end();
    return;
  }
  const extension = /\.[a-z0-9]+$/.exec(name)?.[0] ?? "";
  res.writeHead(200, {
    "content-type": assetTypes[extension] ?? "application/octet-stream",
    "content-length": body.length,
    "x-content-type-options": "nosniff",
  });
  res.end(body);
}

/** The socket options of an acceptable upgrade, or null after refusing it. */
async function acceptUpgrade(options: TerminalServerOptions, req: IncomingMessage, socket: Duplex) {
  const url = new URL(req.url ?? "/", "http://agent.invalid");
  if (url.pathname !== "/ws") return refuseUpgrade(socket, 404, "Not Found");
  // Cookies ride along on cross-site WebSocket requests; the Origin tells them apart.
  if (!isSameOrigin(req)) return refuseUpgrade(socket, 403, "Forbidden");
  const user = await options.authenticate(req);
  if (!user) return refuseUpgrade(socket, 401, "Unauthorized");
  const sessionName = url.searchParams.get("session") || undefined;
  return {
    user,
    ...(sessionName ? { sessionName } : {}),
    cols: readSize(url.searchParams.get("cols"), 80),
    rows: readSize(url.searchParams.get("rows"), 24),
  };
}

function refuseUpgrade(socket: Duplex, status: number, reason: string): null {
  socket.once("finish", () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  return null;
}

function isSameOrigin(req: IncomingMessage): boolean {
  const { origin, host } = req.headers;
  if (!origin || !host) return false;
  try {
    const parsed = new URL(origin);
    // Behind a TLS-terminating proxy the scheme differs, so compare hosts (and ports).
    return parsed.host === new URL(`${parsed.protocol}//${host}`).host;
  } catch {
    return false;
  }
}

function readSize(text: string | null, fallback: number): number {
  const value = Number(text);
  return Number.isInteger(value) && value >= 1 ? Math.min(value, maxTerminalSize) : fallback;
}

function sendJson(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function sendText(res: ServerResponse, status: number, text: string) {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
  res.end(text);
}
