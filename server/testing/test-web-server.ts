import type { AddressInfo } from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { ServerBuild } from "@remix-run/node";
import { createAppServer } from "../http/app-server.ts";
import type { AppLoadContextValue } from "../http/load-context.ts";
import { createHttpMetrics, registerEngineMetrics } from "../http/metrics.ts";
import { createAuthRateLimiter } from "../http/request-guards.ts";
import type { Logger } from "../logger.ts";
import { readEngineStats } from "../services/engine-stats.ts";
import { projectRoot } from "./program.ts";

export type TestWebServer = { baseUrl: string; close: () => Promise<void> };

/**
 * Our real web server (the Remix build from `npm run build`) on a loopback port.
 * `authRequestsPerMinute` lowers the /auth rate limit for tests of it.
 */
export async function startTestWebServer(
  context: AppLoadContextValue,
  logger: Logger = context.logger,
  { authRequestsPerMinute = 100 }: { authRequestsPerMinute?: number } = {},
): Promise<TestWebServer> {
  const build = (await import(
    pathToFileURL(path.join(projectRoot, "build", "index.js")).href
  )) as ServerBuild;
  const {
    logger: _logger,
    requestId: _requestId,
    clientAddress: _clientAddress,
    cspNonce: _cspNonce,
    ...shared
  } = context;
  const metrics = createHttpMetrics();
  registerEngineMetrics(metrics.registry, () => readEngineStats(context.db));
  const server = createAppServer({
    context: shared,
    logger,
    build,
    publicDir: path.join(projectRoot, "public"),
    metrics,
    limitAuthRequests: createAuthRateLimiter(context.db, authRequestsPerMinute),
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
