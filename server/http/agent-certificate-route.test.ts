import {
  createPublicKey,
  generateKeyPairSync,
  sign,
  X509Certificate,
  type KeyObject,
} from "node:crypto";
import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditLog, workspaces } from "../../db/schema.ts";
import { startEngineHarness, type EngineHarness } from "../../e2e/support/engine.ts";
import {
  encodeCertificateRequest,
  encodeRequestInfo,
  fromPem,
  toPem,
} from "../../protocol/certificate-request.ts";
import { readVersion } from "../process/version.ts";
import { issueBootstrapToken } from "../services/agents.ts";
import { bootstrapAgent } from "../testing/agent-kit.ts";
import { createTestLoadContext } from "../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { createTestUser } from "../testing/test-users.ts";
import { startTestWebServer } from "../testing/test-web-server.ts";

// POST /api/agent/certificate over the real web server, backed by the fake Cloudflare's
// Origin CA. The agent's own side (key, request, HTTPS, renewal) is in agent/tls/.

let engine: EngineHarness;
beforeAll(async () => {
  engine = await startEngineHarness();
});
afterAll(() => engine?.close());

function certificateRequest(names: { commonName: string; dnsNames: string[] }, key?: KeyObject) {
  const pair = key
    ? { privateKey: key, publicKey: createPublicKey(key) }
    : generateKeyPairSync("ec", { namedCurve: "P-256" });
  const info = encodeRequestInfo({
    ...names,
    subjectPublicKeyInfo: pair.publicKey.export({ type: "spki", format: "der" }),
  });
  const signature = sign("sha256", info, { key: pair.privateKey, dsaEncoding: "der" });
  return toPem("CERTIFICATE REQUEST", encodeCertificateRequest(info, signature));
}

const forHost = (hostname: string) =>
  certificateRequest({ commonName: hostname, dnsNames: [hostname] });

async function bootstrappedWorkspace(name: string) {
  const { id } = await engine.api.workspaces.create({
    name,
    repository: "stand-in/sample",
    branch: "main",
  });
  const bootstrapToken = await issueBootstrapToken(engine.database.db, id);
  const answer = await fetch(`${engine.web.baseUrl}/api/agent/bootstrap`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ bootstrapToken, agentVersion: await readVersion() }),
  });
  const body = (await answer.json()) as { agentToken: string; workspace: { hostname: string } };
  return { id, agentToken: body.agentToken, hostname: body.workspace.hostname };
}

const askCertificate = (baseUrl: string, agentToken: string | undefined, body: unknown) =>
  fetch(`${baseUrl}/api/agent/certificate`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(agentToken ? { authorization: `Bearer ${agentToken}` } : {}),
    },
    body: JSON.stringify(body),
  });

const ordersAtCloudflare = () =>
  engine.cloudflare.requests.filter((entry) => entry.path === "/client/v4/certificates");

describe("POST /api/agent/certificate", () => {
  it("gets an Origin CA certificate for exactly the workspace's host name and audits it", async () => {
    const { id, agentToken, hostname } = await bootstrappedWorkspace("tls-issue");
    expect(hostname).toBe(`ws-${id}.${engine.cloudflare.zoneName}`);
    const csr = forHost(hostname);
    const response = await askCertificate(engine.web.baseUrl, agentToken, { csr });
    expect(response.status).toBe(200);
    const { certificate, expiresAt } = (await response.json()) as Record<string, string>;
    const issued = new X509Certificate(certificate!);
    expect(
      issued.verify(new X509Certificate(engine.cloudflare.originCaCertificatePem).publicKey),
    ).toBe(true);
    expect(issued.subjectAltName).toBe(`DNS:${hostname}`);
    expect(new Date(expiresAt!).toISOString()).toBe(new Date(issued.validTo).toISOString());
    // Cloudflare got the request as the agent made it, for that one name, as ECDSA, for 30 days.
    expect(ordersAtCloudflare().at(-1)?.body).toEqual({
      csr,
      hostnames: [hostname],
      request_type: "origin-ecc",
      requested_validity: 30,
    });
    const [audit] = await engine.database.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.targetId, id), eq(auditLog.action, "workspace.certificate.issue")));
    expect(audit).toMatchObject({
      action: "workspace.certificate.issue",
      targetType: "workspace",
      details: {
        hostname,
        serial: engine.cloudflare.tls.issued.at(-1)?.id,
        expiresAt,
        by: "agent",
      },
    });
  });

  it("refuses a request for another host name, or with extra names, before asking Cloudflare", async () => {
    const { agentToken, hostname } = await bootstrappedWorkspace("tls-other");
    const other = await bootstrappedWorkspace("tls-victim");
    const before = ordersAtCloudflare().length;
    const attempts = [
      forHost(other.hostname),
      certificateRequest({ commonName: hostname, dnsNames: [hostname, other.hostname] }),
      certificateRequest({ commonName: other.hostname, dnsNames: [hostname] }),
      certificateRequest({ commonName: hostname, dnsNames: [] }),
      certificateRequest({ commonName: hostname, dnsNames: [`*.${engine.cloudflare.zoneName}`] }),
    ];
    for (const csr of attempts) {
      const response = await askCertificate(engine.web.baseUrl, agentToken, { csr });
      expect(response.status).toBe(400);
      expect(response.headers.get("content-type")).toBe("application/problem+json");
      const { detail } = (await response.json()) as { detail: string };
      expect(detail).toContain(`may ask only for its own host name, ${hostname}`);
    }
    expect(ordersAtCloudflare()).toHaveLength(before);
  });

  it("refuses what is not a signed ECDSA P-256 request", async () => {
    const { agentToken, hostname } = await bootstrappedWorkspace("tls-bad");
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    const good = forHost(hostname);
    const der = fromPem("CERTIFICATE REQUEST", good);
    der[der.length - 3]! ^= 0x01; // inside the signature's last integer
    const tampered = toPem("CERTIFICATE REQUEST", der);
    const cases: [unknown, RegExp][] = [
      [
        { csr: "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----" },
        /not a readable PKCS #10 request/,
      ],
      [{ csr: tampered }, /has a signature that does not match its key/],
      [
        { csr: `${good}-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n` },
        /exactly one PEM certificate request/,
      ],
      [
        { csr: certificateRequest({ commonName: hostname, dnsNames: [hostname] }, rsa) },
        /is signed with|other than ECDSA P-256/,
      ],
      [{ csr: "hello" }, /csr: expected a PEM certificate request/],
      [
        { csr: `-----BEGIN CERTIFICATE REQUEST-----${"A".repeat(9000)}` },
        /at most 8192 characters/,
      ],
      [{}, /csr/],
    ];
    for (const [body, pattern] of cases) {
      const response = await askCertificate(engine.web.baseUrl, agentToken, body);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { detail: string }).detail).toMatch(pattern);
    }
  });

  it("wants the agent's own token, and a workspace that is starting or running", async () => {
    const { id, agentToken, hostname } = await bootstrappedWorkspace("tls-auth");
    expect(
      (await askCertificate(engine.web.baseUrl, undefined, { csr: forHost(hostname) })).status,
    ).toBe(401);
    expect(
      (await askCertificate(engine.web.baseUrl, "cawa_unknown", { csr: forHost(hostname) })).status,
    ).toBe(401);
    await engine.database.db
      .update(workspaces)
      .set({ state: "stopping" })
      .where(eq(workspaces.id, id));
    const stopping = await askCertificate(engine.web.baseUrl, agentToken, {
      csr: forHost(hostname),
    });
    expect(stopping.status).toBe(409);
    expect(((await stopping.json()) as { detail: string }).detail).toContain(
      "The workspace is stopping",
    );
  });

  it("says so when Cloudflare cannot issue (the agent asks again later)", async () => {
    const { agentToken, hostname } = await bootstrappedWorkspace("tls-refused");
    // The SDK tries five times (maxRetries 4) before giving up.
    engine.cloudflare.faults.add({
      kind: "server-error",
      status: 503,
      times: 5,
      path: "/client/v4/certificates",
    });
    const response = await askCertificate(engine.web.baseUrl, agentToken, {
      csr: forHost(hostname),
    });
    expect(response.status).toBe(503);
    expect(((await response.json()) as { detail: string }).detail).toContain(
      "Could not issue an Origin CA certificate through Cloudflare's API",
    );
  });

  it("gives a workspace at most 10 certificates an hour", async () => {
    const { agentToken, hostname } = await bootstrappedWorkspace("tls-budget");
    const statuses: number[] = [];
    for (let count = 0; count < 11; count += 1)
      statuses.push(
        (await askCertificate(engine.web.baseUrl, agentToken, { csr: forHost(hostname) })).status,
      );
    expect(statuses).toEqual([...Array<number>(10).fill(200), 429]);
  });

  it("does not count what Cloudflare failed to issue against the hour", async () => {
    const { agentToken, hostname } = await bootstrappedWorkspace("tls-refund");
    const ask = async () =>
      (await askCertificate(engine.web.baseUrl, agentToken, { csr: forHost(hostname) })).status;
    for (let count = 0; count < 9; count += 1) expect(await ask()).toBe(200);
    // Two failed issues with one certificate of the hour left: both are given back.
    for (let count = 0; count < 2; count += 1) {
      engine.cloudflare.faults.add({
        kind: "server-error",
        status: 503,
        times: 5,
        path: "/client/v4/certificates",
      });
      expect(await ask()).toBe(503);
    }
    expect(await ask()).toBe(200);
  });
});

describe("POST /api/agent/certificate in the one-machine mode", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(() => database?.drop());

  it("answers 409: there is no Origin CA, agents serve plain HTTP on loopback", async () => {
    const context = { ...(await createTestLoadContext(database)), version: await readVersion() };
    const web = await startTestWebServer(context);
    try {
      context.env.PUBLIC_URL = web.baseUrl;
      const owner = await createTestUser(context, "local-owner");
      const { agentToken } = await bootstrapAgent(
        database.db,
        web.baseUrl,
        owner.id,
        "stand-in/sample",
      );
      const response = await askCertificate(web.baseUrl, agentToken, {
        csr: forHost("ws-x.localhost"),
      });
      expect(response.status).toBe(409);
      expect(((await response.json()) as { detail: string }).detail).toContain("AGENT_TLS=off");
    } finally {
      await web.close();
    }
  });
});
