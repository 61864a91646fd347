import { execFile } from "node:child_process";
import { connect } from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import type { ServerBuild } from "@remix-run/node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createTestLoadContext } from "../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { startTestWebServer } from "../testing/test-web-server.ts";
import { getTwiceOnOneConnection } from "../testing/keep-alive-probe.ts";
import { advertisedKeepAliveSeconds } from "../../protocol/http-keep-alive.ts";
import { createLogger } from "../logger.ts";
import { projectRoot } from "../testing/program.ts";
import { enqueueJob } from "../jobs/queue.ts";

const run = promisify(execFile);

const startServer = async (database: TestDatabase) => {
  const server = await startTestWebServer(await createTestLoadContext(database));
  return { base: server.baseUrl, close: server.close };
};

describe("the web server", () => {
  let database: TestDatabase;
  let server: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    database = await createTestDatabase();
    server = await startServer(database);
  });
  afterAll(async () => {
    await server.close();
    await database.drop();
  });

  it("answers /healthz and /readyz", async () => {
    const health = await fetch(`${server.base}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${server.base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, migrations: "current" });
  });

  it("renders the home page with security headers and a request id", async () => {
    const response = await fetch(`${server.base}/`, { headers: { "x-request-id": "trace-42" } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/html");
    expect(response.headers.get("x-request-id")).toBe("trace-42");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await response.text()).toContain("Cloud AI Workspaces");
  });

  it("replaces a request id that could forge log lines", async () => {
    const response = await fetch(`${server.base}/healthz`, {
      headers: { "x-request-id": "a\tb {}" },
    });
    expect(response.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers a request target that is no URL with 400, and goes on serving", async () => {
    const { port } = new URL(server.base);
    const statusLine = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), "127.0.0.1", () =>
        socket.write("GET http://[x/ HTTP/1.1\r\nHost: caw.example\r\nConnection: close\r\n\r\n"),
      );
      let answer = "";
      socket.on("data", (chunk) => (answer += String(chunk)));
      socket.on("close", () => resolve(answer.split("\r\n")[0] ?? ""));
      socket.on("error", reject);
    });
    expect(statusLine).toBe("HTTP/1.1 400 Bad Request");
    expect((await fetch(`${server.base}/healthz`)).status).toBe(200);
  });

  it("keeps an idle connection open well past the keep-alive it advertises", async () => {
    // A client that waits longer than the hint (a proxy, or undici with a stalled event loop)
    // must still be answered: the server closing first is what loses a request.
    const pause = (advertisedKeepAliveSeconds + 1.5) * 1000;
    const [first, second] = await getTwiceOnOneConnection(
      Number(new URL(server.base).port),
      "/healthz",
      pause,
    );
    expect(first).toMatch(/^HTTP\/1.1 200 /);
    expect(first).toMatch(new RegExp(`^keep-alive: timeout=${advertisedKeepAliveSeconds}$`, "im"));
    expect(first).toMatch(/^connection: keep-alive$/im);
    expect(second, "the server closed the idle connection").toMatch(/^HTTP\/1.1 200 /);
  }, 30_000);

  it("serves system.info over tRPC", async () => {
    const response = await fetch(`${server.base}/api/trpc/system.info`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { result: { data: { json: { version: string } } } };
    expect(body.result.data.json.version).toBe("1.2.3");
  });

  it("routes the agent download endpoints", async () => {
    const response = await fetch(`${server.base}/agent/version`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ version: "1.2.3" });
  });

  it("answers an unknown tRPC procedure with a 404 naming it", async () => {
    const response = await fetch(`${server.base}/api/trpc/nothing.here`);
    expect(response.status).toBe(404);
    expect(JSON.stringify(await response.json())).toContain("nothing.here");
  });

  it("serves built assets as immutable", async () => {
    const html = await (await fetch(`${server.base}/`)).text();
    const asset = html.match(/\/build\/[^"]+\.js/)?.[0];
    expect(asset).toBeDefined();
    const response = await fetch(`${server.base}${asset}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toContain("immutable");
  });

  it("exposes Prometheus metrics that promtool accepts", async () => {
    await enqueueJob(database.db, { kind: "test.metrics" });
    await fetch(`${server.base}/healthz`);
    const response = await fetch(`${server.base}/metrics`);
    expect(response.headers.get("content-type")).toContain("text/plain");
    const text = await response.text();
    expect(text).toMatch(
      /^http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+$/m,
    );
    expect(text).toContain("# TYPE http_request_duration_seconds histogram");
    expect(text).toMatch(/^caw_jobs\{kind="test.metrics",status="queued"\} 1$/m);
    expect(text).toMatch(/^caw_job_queue_depth 1$/m);
    const promtool = await findPromtool();
    // CI installs promtool (.ci/run); a developer machine without it still runs the checks above.
    if (!promtool) {
      expect(process.env.CI, "promtool must be installed in CI").toBeFalsy();
      return;
    }
    const child = execFile(promtool, ["check", "metrics"]);
    child.stdin?.end(text);
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code).toBe(0);
  });
});

describe("readiness with pending migrations", () => {
  it("answers 503 with the reason", async () => {
    const database = await createTestDatabase({ migrated: false });
    const server = await startServer(database);
    try {
      const response = await fetch(`${server.base}/readyz`);
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ ready: false, migrations: "pending" });
    } finally {
      await server.close();
      await database.drop();
    }
  });
});

describe("a page's render", () => {
  it("logs no error once the page is sent, not even when its stream timeout passes", async () => {
    const database = await createTestDatabase();
    const lines: string[] = [];
    const logger = createLogger({
      level: "info",
      service: "web",
      destination: { write: (line: string) => void lines.push(line) },
    });
    // The timeout app/entry.server.tsx gives a render, as the build the server runs has it.
    const build = (await import(
      pathToFileURL(path.join(projectRoot, "build", "index.js")).href
    )) as ServerBuild;
    const { streamTimeout } = build.entry.module as { streamTimeout?: number };
    expect(streamTimeout).toBeGreaterThan(0);
    const consoleErrors = vi.spyOn(console, "error");
    let consoleCalls: unknown[][] = [];
    const server = await startTestWebServer(await createTestLoadContext(database), logger);
    try {
      const page = await fetch(`${server.baseUrl}/`);
      expect(page.status).toBe(200);
      await page.text();
      // React 18 still listens to the render's abort signal after the stream closed.
      await new Promise((resolve) => setTimeout(resolve, streamTimeout! + 1_500));
    } finally {
      await server.close();
      await database.drop();
      consoleCalls = [...consoleErrors.mock.calls];
      consoleErrors.mockRestore();
    }
    const levels = new Set(["warn", "error", "fatal"]);
    const problems = lines.filter((line) =>
      levels.has((JSON.parse(line) as { level: string }).level),
    );
    expect(problems).toEqual([]);
    expect(consoleCalls).toEqual([]);
  }, 30_000);
});

async function findPromtool(): Promise<string | undefined> {
  try {
    await run("promtool", ["--version"]);
    return "promtool";
  } catch {
    return undefined;
  }
}

describe("the request log", () => {
  it("holds a line per request, with no credential or query string in it", async () => {
    const database = await createTestDatabase();
    const lines: string[] = [];
    const logger = createLogger({
      level: "info",
      service: "web",
      destination: { write: (line: string) => void lines.push(line) },
    });
    const server = await startTestWebServer(await createTestLoadContext(database), logger);
    const secrets = ["caw_bearer-secret-1", "session-secret-2", "query-secret-3"];
    try {
      for (const path of ["/api/trpc/system.info", "/api/trpc/workspaces.list", "/"]) {
        await fetch(`${server.baseUrl}${path}?input=${secrets[2]}&token=${secrets[2]}`, {
          headers: {
            authorization: `Bearer ${secrets[0]}`,
            cookie: `caw_session=${secrets[1]}`,
            "x-request-id": "log-check",
          },
        }).then((response) => response.arrayBuffer());
      }
    } finally {
      await server.close();
      await database.drop();
    }
    const requestLines = lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.msg === "request");
    expect(requestLines.map((line) => line.path)).toEqual([
      "/api/trpc/system.info",
      "/api/trpc/workspaces.list",
      "/",
    ]);
    expect(requestLines[0]).toMatchObject({ requestId: "log-check", method: "GET", status: 200 });
    // The request line skips redaction (ADR 0029): whatever field is added to it must not
    // carry what a caller sent.
    for (const secret of secrets) expect(lines.join("\n")).not.toContain(secret);
  });
});
