import { createHash, createPrivateKey, randomBytes, X509Certificate } from "node:crypto";
import type { LookupFunction } from "node:net";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import type { PeerCertificate, TLSSocket } from "node:tls";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { sessions, workspaces } from "../../db/schema.ts";
import { startEngineHarness, type EngineHarness } from "../../e2e/support/engine.ts";
import { findFreePort } from "../../server/process/free-port.ts";
import { stopSessionServer } from "../../server/providers/local-agent-process.ts";
import { issueBootstrapToken } from "../../server/services/agents.ts";
import { startNodeProgram, type RunningProgram } from "../../server/testing/program.ts";
import { createCallerFactory } from "../../server/trpc/init.ts";
import { appRouter } from "../../server/trpc/root.ts";
import { tlsKeyFileOf } from "./tls-key.ts";

// AGENT_TLS=origin-ca end to end on loopback: the agent (run from source) gets its certificate
// from our web server, which gets it from the fake Cloudflare's Origin CA; a client that trusts
// only that CA reaches it as Cloudflare's edge would, by the workspace's host name (mapped to
// 127.0.0.1), and uses the terminal over wss. Then renewal and a restart.

let engine: EngineHarness;
let agent: RunningProgram;
let workspaceId: string;
let hostname: string;
let port: number;
let dataDir: string;
let origin: string;
const stateDir = () => path.join(dataDir, "state");

// Every name resolves to loopback, as the workspace's name resolves to its server for the edge.
const lookup: LookupFunction = (_name, options, callback) => {
  if (options.all) callback(null, [{ address: "127.0.0.1", family: 4 }]);
  else callback(null, "127.0.0.1", 4);
};

function startAgent(bootstrapToken = "spent-already") {
  return startNodeProgram("agent/main.ts", [], {
    CONTROL_PLANE_URL: engine.web.baseUrl,
    WORKSPACE_ID: workspaceId,
    BOOTSTRAP_TOKEN: bootstrapToken,
    AGENT_TLS: "origin-ca",
    AGENT_HOST: "127.0.0.1",
    AGENT_PORT: String(port),
    AGENT_TLS_CHECK_SECONDS: "1",
    WORKSPACE_DIR: path.join(dataDir, "workspace"),
    STATE_DIR: stateDir(),
  });
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 45_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}:\n${agent.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const readyReports = () => agent.output().split("Reported ready.").length - 1;

async function waitUntilReady(reportsBefore: number) {
  await waitFor("the agent to report ready", async () => {
    if (agent.child.exitCode !== null) throw new Error(`the agent exited:\n${agent.output()}`);
    return (
      readyReports() > reportsBefore &&
      (await engine.readWorkspace(workspaceId)).state === "running"
    );
  });
}

type Answer = {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  certificate: PeerCertificate;
};

/** A request as the edge makes it: by host name (SNI), trusting only the fake Origin CA. */
function request(
  pathname: string,
  options: { headers?: Record<string, string>; ca?: string | null; servername?: string } = {},
) {
  return new Promise<Answer>((resolve, reject) => {
    const outgoing = https.request(
      {
        host: hostname,
        port,
        path: pathname,
        lookup,
        agent: false,
        headers: options.headers,
        ...(options.ca === null
          ? {}
          : { ca: options.ca ?? engine.cloudflare.originCaCertificatePem }),
        ...(options.servername ? { servername: options.servername } : {}),
      },
      (response) => {
        const certificate = (response.socket as TLSSocket).getPeerCertificate();
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (body += chunk));
        response.on("end", () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body,
            certificate,
          }),
        );
      },
    );
    outgoing.on("error", reject);
    outgoing.end();
  });
}

/** A terminal link as the owner's browser gets it (`terminal.token`), redeemed for the cookie. */
async function terminalCookie(): Promise<string> {
  const sessionId = createHash("sha256").update(randomBytes(32)).digest("hex");
  const { user } = engine;
  await engine.database.db
    .insert(sessions)
    .values({ id: sessionId, userId: user.id, expiresAt: new Date(Date.now() + 3_600_000) });
  const caller = createCallerFactory(appRouter)({
    ...engine.context,
    request: new Request("http://localhost/api/trpc"),
    auth: { user, via: "session", sessionId, cookies: [] },
  });
  const { url } = await caller.terminal.token({ workspaceId });
  expect(url.startsWith(`${origin}/?token=`)).toBe(true);
  const entry = await request(new URL(url).pathname + new URL(url).search);
  expect(entry.status).toBe(200);
  return String(entry.headers["set-cookie"]).split(";")[0]!;
}

const servedSerial = async () => (await request("/health")).certificate.serialNumber;

beforeAll(async () => {
  engine = await startEngineHarness();
  // Short-lived certificates, so the renewal below comes within seconds.
  engine.cloudflare.tls.certificateLifetimeSeconds = 15;
  ({ id: workspaceId } = await engine.api.workspaces.create({
    name: "tls-agent",
    repository: "stand-in/sample",
    branch: "main",
  }));
  port = await findFreePort();
  hostname = `ws-${workspaceId}.${engine.cloudflare.zoneName}`;
  origin = `https://${hostname}:${port}`;
  await engine.database.db
    .update(workspaces)
    .set({ agentUrl: origin })
    .where(eq(workspaces.id, workspaceId));
  dataDir = await mkdtemp(path.join(os.tmpdir(), "caw-agent-tls-e2e-"));
  agent = startAgent(await issueBootstrapToken(engine.database.db, workspaceId));
  await waitUntilReady(0);
}, 90_000);

afterAll(async () => {
  await agent?.stop("SIGKILL");
  // The agent's tmux server outlives it by design (durable sessions): end it with the test.
  if (dataDir) await stopSessionServer(stateDir(), null);
  await engine?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe("an agent with AGENT_TLS=origin-ca", () => {
  it("serves HTTPS with an Origin CA certificate for its host name, and only then reports ready", async () => {
    const output = agent.output();
    expect(output.indexOf("Serving TLS with the certificate for")).toBeGreaterThan(-1);
    expect(output.indexOf("Serving TLS with the certificate for")).toBeLessThan(
      output.indexOf("Reported ready."),
    );
    const health = await request("/health");
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ status: "ok", workspace: workspaceId });
    expect(health.certificate.subjectaltname).toBe(`DNS:${hostname}`);
    const issued = engine.cloudflare.tls.issued;
    expect(new Set(issued.map((certificate) => certificate.hostnames.join()))).toEqual(
      new Set([hostname]),
    );
    expect(BigInt(`0x${health.certificate.serialNumber}`)).toBe(BigInt(issued.at(-1)!.id));
  });

  it("is trusted only through the Origin CA, and only for its own name", async () => {
    await expect(request("/health", { ca: null })).rejects.toThrow(
      /self.signed|unable to (get|verify)/i,
    );
    await expect(
      request("/health", { servername: `ws-other.${engine.cloudflare.zoneName}` }),
    ).rejects.toThrow(/does not match|altnames/i);
    // Nothing answers plain HTTP on the port.
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
  });

  it("keeps its key in STATE_DIR with mode 0600 and never sends it", async () => {
    const keyFile = tlsKeyFileOf(stateDir());
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    const keyPem = await readFile(keyFile, "utf8");
    const keyLines = keyPem.split("\n").filter((line) => line && !line.startsWith("-----"));
    const sent = JSON.stringify(engine.cloudflare.requests.map((entry) => entry.body ?? null));
    expect(sent).toContain("BEGIN CERTIFICATE REQUEST");
    for (const line of keyLines) expect(sent).not.toContain(line);
  });

  it("opens the terminal over wss with a link from the control plane", async () => {
    const terminal = await openTerminal(await terminalCookie());
    terminal.type("echo tls-$((6*7))\n");
    await waitFor("the shell's answer", () => terminal.output().includes("tls-42"));
    terminal.close();
  });

  it("renews its certificate before expiry and serves the new one without a restart", async () => {
    const terminal = await openTerminal(await terminalCookie());
    const firstSerial = await servedSerial();
    const pid = agent.child.pid;
    // From now on the fake issues its usual long-lived certificates, so renewals stop.
    engine.cloudflare.tls.certificateLifetimeSeconds = null;
    await waitFor("a renewed certificate", async () => (await servedSerial()) !== firstSerial);
    const renewed = await request("/health");
    expect(new Date(renewed.certificate.valid_to).getTime()).toBeGreaterThan(
      Date.now() + 86_400_000,
    );
    expect(agent.output()).toContain(`Renewed the TLS certificate for ${hostname}`);
    expect(agent.child.pid).toBe(pid);
    expect(agent.child.exitCode).toBeNull();
    // A socket opened with the old certificate carries on.
    terminal.type("echo still-$((20+1))\n");
    await waitFor("the old socket's answer", () => terminal.output().includes("still-21"));
    terminal.close();
  });

  it("reuses its key and certificate after a restart", async () => {
    const issuedBefore = engine.cloudflare.tls.issued.length;
    const serialBefore = await servedSerial();
    const keyBefore = await readFile(tlsKeyFileOf(stateDir()), "utf8");
    await agent.stop("SIGTERM");
    agent = startAgent();
    await waitUntilReady(0);
    expect(await servedSerial()).toBe(serialBefore);
    expect(engine.cloudflare.tls.issued).toHaveLength(issuedBefore);
    expect(await readFile(tlsKeyFileOf(stateDir()), "utf8")).toBe(keyBefore);
    const served = new X509Certificate(engine.cloudflare.tls.issued.at(-1)!.certificate);
    expect(served.checkPrivateKey(createPrivateKey(keyBefore))).toBe(true);
  });
});

/** The terminal WebSocket over wss, as a browser on the workspace's page opens it. */
async function openTerminal(cookie: string) {
  const ws = new WebSocket(`wss://${hostname}:${port}/ws`, {
    headers: { cookie },
    origin,
    ca: engine.cloudflare.originCaCertificatePem,
    lookup,
  });
  let output = "";
  ws.on("message", (data, isBinary) => {
    if (isBinary) output += (data as Buffer).toString("utf8");
  });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return {
    output: () => output,
    type: (text: string) => ws.send(Buffer.from(text), { binary: true }),
    close: () => ws.close(),
  };
}
