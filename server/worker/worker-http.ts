import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { sendJson } from "../http/json.ts";
import type { Logger } from "../logger.ts";
import type { ReadinessCheck } from "../services/health.ts";

// The worker's own small HTTP server on WORKER_PORT (SPEC §11): what an orchestrator probes
// and Prometheus scrapes. No pages, no API: job work never passes through it.

export type WorkerHttp = { port: number; close: () => Promise<void> };

export type WorkerHttpOptions = {
  port: number;
  host: string;
  /** Database reachable, migrations current, not draining (process/draining.ts). */
  checkReadiness: ReadinessCheck;
  registry: Registry;
  logger: Logger;
};

/** Listens on `port` (0: a free one); rejects with what to change when it cannot. */
export async function startWorkerHttp(options: WorkerHttpOptions): Promise<WorkerHttp> {
  const { registry, checkReadiness, logger } = options;
  const server = http.createServer((req, res) => {
    const pathname = new URL(req.url ?? "/", "http://worker").pathname;
    answer(pathname).catch((error: unknown) => {
      logger.error({ err: error, path: pathname }, "worker probe failed");
      if (!res.headersSent) sendJson(res, 500, { error: "the probe failed; see the worker's log" });
    });
    async function answer(path: string): Promise<void> {
      if (req.method !== "GET" && req.method !== "HEAD")
        return sendJson(res, 405, { error: "only GET and HEAD are answered here" });
      if (path === "/healthz") return sendJson(res, 200, { status: "ok" });
      if (path === "/readyz") {
        const readiness = await checkReadiness();
        return sendJson(res, readiness.ready ? 200 : 503, readiness);
      }
      if (path === "/metrics") {
        res.setHeader("content-type", registry.contentType);
        return void res.end(await registry.metrics());
      }
      sendJson(res, 404, { error: "not found: the worker answers /healthz, /readyz and /metrics" });
    }
  });
  // Probes are short; a keep-alive scraper must not hold the worker's exit up.
  server.keepAliveTimeout = 1_000;
  server.listen(options.port, options.host);
  try {
    // once() rejects when "error" comes first (the port is taken, the address is not ours).
    await once(server, "listening");
  } catch (error) {
    throw new Error(
      `the worker cannot listen on ${options.host}:${options.port} (${(error as NodeJS.ErrnoException).code ?? "error"}): ` +
        "set WORKER_PORT to a free port (0 picks one), or HOST to an address of this machine",
      { cause: error },
    );
  }
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
