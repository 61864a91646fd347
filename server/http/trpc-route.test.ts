import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { ServerBuild } from "@remix-run/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../logger.ts";
import { projectRoot } from "../testing/program.ts";
import { createTestLoadContext } from "../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { createAppServer } from "./app-server.ts";
import { sendFetchResponse, toFetchRequest } from "./fetch-adapter.ts";
import { createHttpMetrics } from "./metrics.ts";
import { createAuthRateLimiter } from "./request-guards.ts";

// ADR 0026: /api/trpc is answered before Remix, with everything app-server.ts gives every
// answer; and a request's abort signal fires only for a client that left before its answer.

const listen = async (server: http.Server) => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

describe("the tRPC route", () => {
  let database: TestDatabase;
  let server: http.Server;
  let base: string;
  beforeAll(async () => {
    database = await createTestDatabase();
    const real = (await import(
      pathToFileURL(path.join(projectRoot, "build", "index.js")).href
    )) as ServerBuild;
    // The Remix build has no tRPC route: Remix alone would answer /api/trpc/* with its 404.
    const trpcRoutes = Object.values(real.routes).filter((route) =>
      route?.path?.startsWith("api/trpc"),
    );
    expect(trpcRoutes).toEqual([]);
    const {
      logger: _l,
      requestId: _r,
      clientAddress: _c,
      cspNonce: _n,
      ...context
    } = await createTestLoadContext(database);
    server = createAppServer({
      context,
      logger: createLogger({ level: "silent", service: "web" }),
      build: real,
      publicDir: path.join(projectRoot, "public"),
      metrics: createHttpMetrics(),
      limitAuthRequests: createAuthRateLimiter(database.db),
    });
    base = await listen(server);
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await database.drop();
  });

  it("answers without Remix, with the request id and the strict security headers", async () => {
    const response = await fetch(`${base}/api/trpc/system.info`, {
      headers: { "x-request-id": "trpc-direct-1" },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-request-id")).toBe("trpc-direct-1");
    expect(response.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    const body = (await response.json()) as { result: { data: { json: { version: string } } } };
    expect(body.result.data.json.version).toBe("1.2.3");
  });

  it("still refuses a cross-site mutation with a cookie before tRPC sees it", async () => {
    const response = await fetch(`${base}/api/trpc/tokens.create`, {
      method: "POST",
      headers: { cookie: "caw_session=x", origin: "https://evil.example" },
      body: "{}",
    });
    expect(response.status).toBe(403);
    expect(response.headers.get("content-type")).toContain("application/problem+json");
  });
});

describe("a fetch Request's abort signal", () => {
  it("stays quiet once the answer was sent, and fires for a client gone before it", async () => {
    const signals: AbortSignal[] = [];
    const closed: Promise<void>[] = [];
    const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
      signals.push(toFetchRequest(req, res, new URL(req.url!, "http://127.0.0.1")).signal);
      closed.push(new Promise((resolve) => res.once("close", () => setImmediate(resolve))));
      // The first request is answered; the second never is (its client gives up).
      if (req.url === "/answered") res.end("ok");
    });
    const base = await listen(server);
    try {
      expect(await (await fetch(`${base}/answered`)).text()).toBe("ok");
      await expect(
        fetch(`${base}/abandoned`, { signal: AbortSignal.timeout(300) }),
      ).rejects.toThrow();
      await Promise.all(closed);
      expect(signals.map((signal) => signal.aborted)).toEqual([false, true]);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("a fetch Response written to node:http", () => {
  it("streams its body, and cancels an endless one once its client leaves", async () => {
    let canceled: (reason: unknown) => void = () => {};
    const cancellation = new Promise<unknown>((resolve) => (canceled = resolve));
    const server = http.createServer((_req, res) => {
      let tick = 0;
      const endless = new ReadableStream<Uint8Array>({
        async pull(controller) {
          await new Promise((resolve) => setTimeout(resolve, 5));
          controller.enqueue(new TextEncoder().encode(`data: ${tick++}\n\n`));
        },
        cancel: (reason) => canceled(reason),
      });
      void sendFetchResponse(res, new Response(endless, { headers: { "x-kind": "stream" } }));
    });
    const base = await listen(server);
    try {
      const controller = new AbortController();
      const response = await fetch(base, { signal: controller.signal });
      expect(response.headers.get("x-kind")).toBe("stream");
      const reader = response.body!.getReader();
      const { value } = await reader.read();
      expect(new TextDecoder().decode(value)).toContain("data: 0");
      controller.abort();
      expect(String(await cancellation)).toContain("the client went away");
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
