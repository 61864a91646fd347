import { randomUUID } from "node:crypto";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { ServerBuild } from "@remix-run/node";
import sirv from "sirv";
import { advertiseKeepAlive, keepIdleConnectionsOpen } from "../../protocol/http-keep-alive.ts";
import { AppError, retryAfterOf, toProblemDetails } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { createClientAddressResolver } from "./client-address.ts";
import type { HttpMetrics } from "./metrics.ts";
import { createAgentDownloadRoutes, defaultAgentDistDir } from "./agent-download.ts";
import { createAgentRoutes } from "./agent-routes.ts";
import { requestUrlOf } from "./fetch-adapter.ts";
import { sendJson } from "./json.ts";
import { createJwksRoutes } from "./jwks-route.ts";
import { sendProblem } from "./problem.ts";
import { closeAfterResponse, createRemixHandler, type SharedLoadContext } from "./remix-handler.ts";
import { checkRequestOrigin, type AuthRateLimiter } from "./request-guards.ts";
import { requestLogLevel } from "./request-log-level.ts";
import { createMcpRoute, mcpPath } from "../mcp/mcp-route.ts";
import { setSecurityHeaders } from "./security-headers.ts";
import { createTerminalStatusRoutes } from "./terminal-status-route.ts";
import { createTrpcRoute, isTrpcPath } from "../trpc/handler.ts";
import { createToolchainDownloadRoutes } from "./toolchain-download.ts";
import { defaultToolchainDistDir } from "../worker/toolchain-release.ts";

export type AppServerOptions = {
  /** Handed to every Remix loader and tRPC call, with a per-request logger and id. */
  context: SharedLoadContext;
  logger: Logger;
  build: ServerBuild;
  publicDir: string;
  metrics: HttpMetrics;
  limitAuthRequests: AuthRateLimiter;
  /** The built agent binaries: AGENT_DIST_DIR or `<installRoot>/dist/agent` by default. */
  agentDistDir?: string;
  /** The built workspace toolchain archives: `<installRoot>/dist/toolchain` by default. */
  toolchainDistDir?: string;
  /** Whether shutdown has begun: every answer then closes its connection. */
  isDraining?: () => boolean;
};

type Handler = (req: IncomingMessage, res: ServerResponse, log: Logger) => Promise<void>;

/** The control plane's one HTTP server: probes and metrics, tRPC, static assets, then Remix. */
export function createAppServer(options: AppServerOptions): http.Server {
  const { context, logger, metrics } = options;
  const origin = new URL(context.env.PUBLIC_URL).origin;
  const handleRemix = createRemixHandler(options.build, context);
  const handleMcp = createMcpRoute(context, origin);
  const handleTrpc = createTrpcRoute(context);
  const clientAddressOf = createClientAddressResolver(context.env.TRUST_PROXY);
  const hsts = new URL(context.env.PUBLIC_URL).protocol === "https:";
  const serveAssets = createAssetHandler(options.publicDir);
  // The request line holds only fields chosen here (the path without its query), so it skips
  // redaction: three quarters of the line's cost, a tenth of a tRPC call's (ADR 0029).
  const requestLog = logger.child({}, { redact: [] });
  const routes: Record<string, Handler> = {
    ...createAgentRoutes(context),
    ...createAgentDownloadRoutes({
      distDir: options.agentDistDir ?? context.env.AGENT_DIST_DIR ?? defaultAgentDistDir,
      version: context.version,
    }),
    ...createToolchainDownloadRoutes({
      distDir: options.toolchainDistDir ?? defaultToolchainDistDir,
    }),
    ...createJwksRoutes(context),
    ...createTerminalStatusRoutes(context),
    "/healthz": async (_req, res) => sendJson(res, 200, { status: "ok" }),
    "/readyz": async (_req, res) => {
      const readiness = await context.checkReadiness();
      sendJson(res, readiness.ready ? 200 : 503, readiness);
    },
    "/metrics": async (_req, res) => {
      res.setHeader("content-type", metrics.registry.contentType);
      res.end(await metrics.registry.metrics());
    },
  };

  const server = http.createServer(async (req, res) => {
    const requestId = acceptRequestId(req.headers["x-request-id"]) ?? randomUUID();
    const log = logger.child({ requestId });
    const started = performance.now();
    const url = requestUrlOf(req, origin);
    // Only the path is logged: query strings can carry codes and tokens.
    const pathname = url?.pathname ?? "(not a URL)";
    res.setHeader("x-request-id", requestId);
    // Draining, each connection ends with an answer, so no client sends on one we close idle.
    if (options.isDraining?.()) closeAfterResponse(res);
    else advertiseKeepAlive(res);
    setSecurityHeaders(res, { hsts });
    res.once("finish", () => {
      const seconds = (performance.now() - started) / 1000;
      metrics.observeRequest({
        method: req.method ?? "GET",
        pathname,
        status: res.statusCode,
        seconds,
      });
      requestLog[requestLogLevel({ pathname, status: res.statusCode })](
        {
          requestId,
          method: req.method,
          path: pathname,
          status: res.statusCode,
          ms: Math.round(seconds * 1000),
        },
        "request",
      );
    });
    try {
      if (!url) throw new AppError("BAD_REQUEST", unparsableTargetMessage);
      const route = routes[pathname];
      if (route) return await route(req, res, log);
      // Before the cookie-based origin rule: /mcp takes API tokens only (server/mcp/mcp-route.ts).
      if (pathname === mcpPath)
        return await handleMcp(
          req,
          res,
          { logger: log, requestId, clientAddress: clientAddressOf(req) },
          url,
        );
      const trpc = isTrpcPath(pathname);
      if (!trpc && (await serveAssets(req, res))) return;
      checkRequestOrigin(req, origin);
      const clientAddress = clientAddressOf(req);
      const perRequest = { logger: log, requestId, clientAddress };
      if (trpc) return await handleTrpc(req, res, perRequest, url);
      if (pathname.startsWith("/auth/")) await options.limitAuthRequests(clientAddress);
      await handleRemix(req, res, perRequest, url);
    } catch (error) {
      if (isClientGone(error, res)) return;
      if (error instanceof AppError) log.info({ code: error.code }, "request refused");
      else log.error({ err: error }, "request failed");
      if (res.headersSent) return void res.destroy();
      const retryAfter = retryAfterOf(error);
      if (retryAfter) res.setHeader("retry-after", String(retryAfter));
      if (!req.complete) closeAfterResponse(res);
      sendProblem(res, toProblemDetails(error, requestId));
    }
  });
  // The client, told 5 s, closes an idle connection first; a proxy that keeps it longer is
  // still answered (protocol/http-keep-alive.ts).
  keepIdleConnectionsOpen(server);
  return server;
}

// Thrown from the request handler, `new URL` of such a target was an unhandled rejection:
// one request ended the web process.
const unparsableTargetMessage =
  "The request target is not a URL this server can read. Send a path such as /workspaces.";

function createAssetHandler(publicDir: string) {
  const assets = sirv(publicDir, {
    etag: true,
    setHeaders(res, pathname) {
      // Files under /build/ carry a content hash in their names, so they never change.
      const immutable = pathname.startsWith("/build/");
      res.setHeader(
        "cache-control",
        immutable ? "public, max-age=31536000, immutable" : "public, max-age=3600",
      );
    },
  });
  return (req: IncomingMessage, res: ServerResponse) =>
    new Promise<boolean>((resolve) => {
      if (req.method !== "GET" && req.method !== "HEAD") return resolve(false);
      res.once("finish", () => resolve(true));
      assets(req, res, () => resolve(false));
    });
}

// A caller-supplied id is kept only if it is short and plain, so it cannot forge log lines.
function acceptRequestId(value: string | string[] | undefined): string | undefined {
  return typeof value === "string" && /^[\w.:-]{1,100}$/.test(value) ? value : undefined;
}

function isClientGone(error: unknown, res: ServerResponse): boolean {
  return res.destroyed || (error instanceof Error && error.name === "AbortError");
}
