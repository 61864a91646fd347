import { once } from "node:events";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiToken, listApiTokens } from "../services/api-tokens.ts";
import { createTestLoadContext } from "../testing/test-context.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { createTestUser } from "../testing/test-users.ts";
import { startTestWebServer, type TestWebServer } from "../testing/test-web-server.ts";
import type { AuthenticatedUser } from "../auth/request-auth.ts";

// Oversized tRPC bodies and batches, sent to the real web server over raw sockets so the
// test controls exactly how much is sent and sees when the server answers and hangs up.

const limit = 1024 * 1024; // API_MAX_BODY_BYTES's default
const createPath = "/api/trpc/tokens.create";

let database: TestDatabase;
let web: TestWebServer;
let user: AuthenticatedUser;
let token: string;

beforeAll(async () => {
  database = await createTestDatabase();
  const context = await createTestLoadContext(database, {}, { API_TOKEN_LIMIT: "100" });
  web = await startTestWebServer(context);
  user = await createTestUser(context, "body-limit-user");
  ({ token } = await createApiToken(
    database.db,
    { userId: user.id, auditSubject: user.auditSubject },
    { name: "caller" },
    { limit: 100 },
  ));
});
afterAll(async () => {
  await web?.close();
  await database?.drop();
});

type Attack = {
  /** Request head lines after the request line (no blank line). */
  headers: string[];
  /** How many body bytes to offer; sending stops as soon as the server hangs up. */
  bytes: number;
  chunked: boolean;
  /** Keep the connection open after the last byte (the body never ends). */
  holdOpen?: boolean;
};

type Outcome = { status: number; head: string; sent: number; finishedSending: boolean };

/** Sends a tokens.create POST with a body of `bytes`, answering when the server answers. */
async function sendBody(attack: Attack): Promise<Outcome> {
  const socket = net.connect(Number(new URL(web.baseUrl).port), "127.0.0.1");
  await once(socket, "connect");
  socket.on("error", () => {}); // EPIPE/ECONNRESET once the server hangs up are expected
  let received = "";
  let sent = 0;
  let finishedSending = false;
  const answered = new Promise<void>((resolve) => {
    socket.on("data", (data: Buffer) => {
      received += data.toString("latin1");
      if (received.includes("\r\n\r\n")) resolve();
    });
  });
  const gone = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  const stopped = () => socket.destroyed || socket.writableEnded || received.length > 0;
  const head = [`POST ${createPath} HTTP/1.1`, "host: 127.0.0.1", ...attack.headers];
  if (attack.chunked) head.push("transfer-encoding: chunked");
  socket.write(`${head.join("\r\n")}\r\n\r\n`);
  // A JSON string that never closes: whatever part of it the server reads, it cannot succeed.
  const opening = Buffer.from('{"json":{"name":"');
  const filler = Buffer.alloc(64 * 1024, "a");
  while (!stopped() && sent < attack.bytes) {
    const piece =
      sent === 0 ? opening : filler.subarray(0, Math.min(filler.length, attack.bytes - sent));
    const frame = attack.chunked
      ? Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from("\r\n")])
      : piece;
    sent += piece.length;
    if (!socket.write(frame)) await Promise.race([once(socket, "drain"), answered, gone]);
  }
  if (sent >= attack.bytes) {
    finishedSending = true;
    if (attack.chunked && !attack.holdOpen) socket.write("0\r\n\r\n");
  }
  await answered;
  await Promise.race([gone, once(socket, "end")]);
  socket.destroy();
  const headText = received.split("\r\n\r\n")[0]!;
  return { status: Number(headText.split(" ")[1]), head: headText, sent, finishedSending };
}

const auth = () => [`authorization: Bearer ${token}`, "content-type: application/json"];

describe("tRPC request bodies over API_MAX_BODY_BYTES", () => {
  it("refuses a declared 200 MB body with 413 before reading it, and hangs up", async () => {
    const total = 200 * 1024 * 1024;
    const outcome = await sendBody({
      headers: [...auth(), `content-length: ${total}`],
      bytes: total,
      chunked: false,
    });
    expect(outcome.status).toBe(413);
    expect(outcome.head).toMatch(/^connection: close$/im);
    // A connection about to close promises no keep-alive.
    expect(outcome.head).not.toMatch(/^keep-alive:/im);
    expect(outcome.head).toMatch(/application\/problem\+json/i);
    // The answer came while the client still had most of its body to send.
    expect(outcome.finishedSending).toBe(false);
    expect(outcome.sent).toBeLessThan(total / 2);
  });

  it("answers a declared oversize before a single body byte is sent", async () => {
    const outcome = await sendBody({
      headers: [...auth(), `content-length: ${limit + 1}`],
      bytes: 0,
      chunked: false,
    });
    expect(outcome.status).toBe(413);
    expect(outcome.sent).toBe(0);
  });

  it("cuts off a chunked body (no Content-Length) once it passes the limit", async () => {
    // One byte over the limit, and the body never ends: only counting can catch it.
    const outcome = await sendBody({
      headers: auth(),
      bytes: limit + 1,
      chunked: true,
      holdOpen: true,
    });
    expect(outcome.status).toBe(413);
    expect(outcome.head).toMatch(/^connection: close$/im);
  });

  it("cuts off a 200 MB chunked body long before it is all sent", async () => {
    const total = 200 * 1024 * 1024;
    const outcome = await sendBody({ headers: auth(), bytes: total, chunked: true });
    expect(outcome.status).toBe(413);
    expect(outcome.finishedSending).toBe(false);
    expect(outcome.sent).toBeLessThan(total / 2);
  });

  it("still serves a body under the limit", async () => {
    const response = await fetch(`${web.baseUrl}${createPath}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ json: { name: "x".repeat(90) } }),
    });
    expect(response.status).toBe(200);
  });
});

describe("tRPC batches over API_MAX_BATCH_CALLS", () => {
  const batch = (calls: number) =>
    fetch(`${web.baseUrl}/api/trpc/${Array(calls).fill("tokens.create").join(",")}?batch=1`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(
        Object.fromEntries(
          Array.from({ length: calls }, (_, index) => [index, { json: { name: `b${index}` } }]),
        ),
      ),
    });
  const tokenCount = async () =>
    (await listApiTokens(database.db, { userId: user.id, auditSubject: user.auditSubject })).length;

  it("refuses a 21-call batch whole: not one token is made", async () => {
    const before = await tokenCount();
    const response = await batch(21);
    expect(response.status).toBe(400);
    const text = await response.text();
    expect(text).toContain("API_MAX_BATCH_CALLS");
    expect(text).toContain("smaller batches");
    expect(await tokenCount()).toBe(before);
  });

  it("runs a 20-call batch", async () => {
    const before = await tokenCount();
    const response = await batch(20);
    expect(response.status).toBe(200);
    expect(await tokenCount()).toBe(before + 20);
  });
});
