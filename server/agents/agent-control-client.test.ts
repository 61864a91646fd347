import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { AppError } from "../errors.ts";
import { callAgent } from "./agent-control-client.ts";

// SPEC §14 (ADR 0015): how the control plane's calls to an agent's session API turn the agent's
// answers into results or AppErrors, against a real HTTP server on loopback playing the agent.
// The JWT itself is checked against the JWKS in workspace-sessions.test.ts.

type Seen = { method: string; url: string; host: string; authorization: string; body: string };
let agent: Server;
let port: number;
let seen: Seen[] = [];
const answers: Record<string, { status: number; body: string } | "hang"> = {};

beforeAll(async () => {
  agent = createServer((req, res) => {
    void readBody(req).then((body) => {
      seen.push({
        method: req.method ?? "",
        url: req.url ?? "",
        host: req.headers.host ?? "",
        authorization: req.headers.authorization ?? "",
        body,
      });
      const answer = answers[`${req.method} ${req.url}`];
      if (answer === "hang") return;
      const { status, body: text } = answer ?? { status: 404, body: '{"error":"no such route"}' };
      res.writeHead(status, { "content-type": "application/json" }).end(text);
    });
  });
  await new Promise<void>((resolve) => agent.listen(0, "127.0.0.1", resolve));
  port = (agent.address() as AddressInfo).port;
});
afterAll(async () => {
  agent.closeAllConnections();
  await new Promise((resolve) => agent.close(resolve));
});

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => resolve(body));
  });
}

const named = z.object({ name: z.string() });
const call = (path: string, extra: Partial<Parameters<typeof callAgent>[0]> = {}) =>
  callAgent(
    { agentUrl: `http://ws-7.localhost:${port}`, token: "t0ken", method: "GET", path, ...extra },
    named,
  );

async function errorOf(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => null,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

describe("calls to an agent", () => {
  it("reaches a *.localhost agent on loopback with its Host, token and JSON body", async () => {
    seen = [];
    answers["PATCH /api/sessions/a%20b"] = { status: 200, body: '{"name":"c"}' };
    const answer = await call("/api/sessions/a%20b", { method: "PATCH", body: { name: "c" } });
    expect(answer).toEqual({ name: "c" });
    expect(seen).toEqual([
      {
        method: "PATCH",
        url: "/api/sessions/a%20b",
        host: `ws-7.localhost:${port}`,
        authorization: "Bearer t0ken",
        body: '{"name":"c"}',
      },
    ]);
  });

  it("passes on the agent's own reason with the matching code", async () => {
    answers["GET /api/sessions/missing"] = { status: 404, body: '{"error":"no session missing"}' };
    answers["GET /api/sessions/taken"] = { status: 409, body: '{"error":"the name is taken"}' };
    answers["GET /api/sessions/bad"] = { status: 400, body: '{"error":"name: too long"}' };
    const missing = await errorOf(call("/api/sessions/missing"));
    expect([missing.code, missing.message]).toEqual([
      "NOT_FOUND",
      "The workspace's agent: no session missing",
    ]);
    expect((await errorOf(call("/api/sessions/taken"))).code).toBe("CONFLICT");
    expect((await errorOf(call("/api/sessions/bad"))).code).toBe("BAD_REQUEST");
  });

  it("says so when the agent refuses our token, answers nonsense, or does not answer", async () => {
    answers["GET /api/sessions/refused"] = { status: 401, body: '{"error":"bad token"}' };
    answers["GET /api/sessions/odd"] = { status: 200, body: '{"unexpected":true}' };
    answers["GET /api/sessions/slow"] = "hang";
    expect((await errorOf(call("/api/sessions/refused"))).code).toBe("SERVICE_UNAVAILABLE");
    expect((await errorOf(call("/api/sessions/odd"))).message).toMatch(/form this control plane/);
    const slow = await errorOf(call("/api/sessions/slow", { timeoutMs: 200 }));
    expect(slow.message).toMatch(/did not answer \(timed out\)/);
    const gone = await errorOf(
      callAgent(
        { agentUrl: "http://127.0.0.1:9", token: "t", method: "GET", path: "/api/sessions" },
        named,
      ),
    );
    expect(gone.message).toMatch(/did not answer \(ECONNREFUSED\)/);
  });
});
