import http from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentControlAudience } from "../../protocol/agent-sessions.ts";
import { createControlAuth } from "../auth/control-auth.ts";
import { createJwksCache } from "../auth/jwks-cache.ts";
import { startTestServer, type TestServer } from "../terminal/test-support.ts";
import { createSessionApi } from "./session-api.ts";

// The control plane's session API on the agent: real tmux, real HTTP, JWTs signed here with a
// test key whose JWKS is served on loopback, as the control plane serves its own.

const workspaceId = "6f1c2b1e-0000-4000-8000-000000000001";
const issuer = "http://control-plane.test";
let agent: TestServer;
let jwksServer: http.Server;
let privateKey: CryptoKey;
let strangerKey: CryptoKey;

beforeAll(async () => {
  const pair = await generateKeyPair("RS256");
  privateKey = pair.privateKey;
  strangerKey = (await generateKeyPair("RS256")).privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "RS256", use: "sig" };
  jwksServer = http.createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, "127.0.0.1", resolve));
  const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks`;
  const authenticate = createControlAuth({
    workspaceId,
    issuer,
    jwks: createJwksCache({ jwksUrl }),
  });
  let api: ReturnType<typeof createSessionApi> | null = null;
  agent = await startTestServer({}, { handleApi: (req, res) => api!(req, res) });
  api = createSessionApi({ sessions: agent.sessions, authenticate, log: () => {} });
});
afterAll(async () => {
  await agent?.close();
  await new Promise((resolve) => jwksServer?.close(resolve));
});

async function token(
  claims: Record<string, unknown> = {},
  options: { key?: CryptoKey; seconds?: number; audience?: string } = {},
) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ workspace: workspaceId, ...claims })
    .setProtectedHeader({ alg: "RS256", kid: "k1" })
    .setIssuer(issuer)
    .setAudience(options.audience ?? agentControlAudience)
    .setSubject("user-1")
    .setIssuedAt(now)
    .setExpirationTime(now + (options.seconds ?? 60))
    .sign(options.key ?? privateKey);
}

async function call(method: string, path: string, body?: unknown, bearer?: string) {
  const response = await fetch(`${agent.origin}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${bearer ?? (await token())}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function outputOf(name: string, text: string) {
  for (let tries = 0; tries < 300; tries++) {
    const answer = await call("GET", `/api/sessions/${name}/output?lines=20`);
    if (String(answer.body.text).includes(text)) return answer.body;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`No "${text}" in ${name}'s output.`);
}

describe("the agent's session API", () => {
  it("creates, lists, types into, reads, renames and ends sessions", async () => {
    const created = await call("POST", "/api/sessions", { name: "claude" });
    expect(created).toMatchObject({ status: 201, body: { name: "claude", status: null } });
    expect((await call("POST", "/api/sessions", {})).body.name).toMatch(/^shell-\d+$/);
    expect((await call("POST", "/api/sessions", { name: "claude" })).status).toBe(409);
    const listed = await call("GET", "/api/sessions");
    expect((listed.body.sessions as Array<{ name: string }>).map((s) => s.name)).toContain(
      "claude",
    );

    expect(await call("POST", "/api/sessions/claude/input", { text: "echo hi-$((40+2))" })).toEqual(
      {
        status: 200,
        body: { ok: true },
      },
    );
    const output = await outputOf("claude", "hi-42");
    expect(output.text).not.toContain("\x1b"); // no escapes: cheap in tokens
    expect(String(output.text).endsWith("\n")).toBe(false); // trailing blank lines trimmed

    expect((await call("PATCH", "/api/sessions/claude", { name: "agent-1" })).body.name).toBe(
      "agent-1",
    );
    expect((await call("GET", "/api/sessions/claude/output")).status).toBe(404);
    expect(await call("DELETE", "/api/sessions/agent-1")).toEqual({
      status: 200,
      body: { name: "agent-1" },
    });
    expect((await call("DELETE", "/api/sessions/agent-1")).status).toBe(404);
  });

  it("refuses bad bodies, names, line counts and methods with a JSON error", async () => {
    expect((await call("POST", "/api/sessions", { name: "no spaces" })).status).toBe(400);
    expect((await call("POST", "/api/sessions/x/input", { text: 5 })).status).toBe(400);
    expect((await call("GET", "/api/sessions/x/output?lines=501")).status).toBe(400);
    expect((await call("PUT", "/api/sessions")).status).toBe(405);
    const big = await call("POST", "/api/sessions/x/input", { text: "x".repeat(200_000) });
    expect(big.status).toBe(413);
    expect(big.body.error).toMatch(/at most/);
  });

  it("refuses calls without a valid control token", async () => {
    const cases = {
      none: "",
      "another key": await token({}, { key: strangerKey }),
      "another workspace": await token({ workspace: "someone-else" }),
      "terminal audience": await token({}, { audience: "workspace-terminal" }),
      "lives too long": await token({}, { seconds: 600 }),
    };
    for (const [name, bearer] of Object.entries(cases)) {
      const answer = await call("GET", "/api/sessions", undefined, bearer || "-");
      expect(answer.status, name).toBe(401);
      expect(JSON.stringify(answer.body)).not.toContain(bearer || "-.-");
    }
  });
});
