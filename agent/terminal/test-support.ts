import type { AddressInfo } from "node:net";
import os from "node:os";
import type { Server } from "node:http";
import { WebSocket } from "ws";
import type { ClientMessage, ServerMessage } from "../../protocol/agent-protocol.ts";
import type { SessionConsumer, SessionExit, ShellCommand } from "./terminal-session.ts";
import {
  createSessionManager,
  type SessionManager,
  type SessionManagerOptions,
} from "./session-manager.ts";
import { createTerminalServer, type TerminalServerOptions } from "./terminal-server.ts";

// Helpers for the terminal tests: a plain bash, a real server on loopback, and a real
// WebSocket client that records what arrives and lets a test wait for it.

export const testCookie = "test-session=ok";

/** bash without rc files, with a fixed prompt; `command` makes it run one and exit. */
export function bashShell(command?: string): ShellCommand {
  return {
    file: "bash",
    args: command ? ["--noprofile", "--norc", "-c", command] : ["--noprofile", "--norc"],
    cwd: os.tmpdir(),
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: os.tmpdir(),
      LANG: "C.UTF-8",
      PS1: "$ ",
    },
  };
}

export interface TestServer {
  server: Server;
  manager: SessionManager;
  /** `http://127.0.0.1:port` */
  origin: string;
  close(): Promise<void>;
}

export async function startTestServer(
  managerOptions: Partial<SessionManagerOptions> = {},
  serverOptions: Partial<TerminalServerOptions> = {},
): Promise<TestServer> {
  const manager = createSessionManager({ shell: bashShell(), ...managerOptions });
  const server = createTerminalServer({
    manager,
    authenticate: async (req) => (req.headers.cookie === testCookie ? { userId: "u1" } : null),
    renderPage: () => "<!doctype html><title>terminal</title>",
    readAsset: (name) => (name === "terminal.js" ? Buffer.from("console.log(1)") : null),
    health: () => ({ status: "ok", ...manager.readActivity() }),
    ...serverOptions,
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    manager,
    origin: `http://127.0.0.1:${port}`,
    async close() {
      await manager.killAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface TerminalClient {
  ws: WebSocket;
  messages: ServerMessage[];
  /** Output bytes received so far (only counted when `keepOutput` is false). */
  readonly outputBytes: number;
  /** Output received so far, decoded as UTF-8. */
  text(): string;
  type(text: string): void;
  control(message: ClientMessage): void;
  waitFor(what: string, predicate: () => boolean, timeoutMs?: number): Promise<void>;
  waitForText(text: string, timeoutMs?: number): Promise<void>;
  waitForMessage<T extends ServerMessage["type"]>(
    type: T,
  ): Promise<Extract<ServerMessage, { type: T }>>;
  /** Code of the close frame; 1006 when the connection just ended. */
  closed: Promise<number>;
  /** Binary frames and messages in arrival order, for ordering checks. */
  events: Array<{ kind: "output"; bytes: number } | { kind: "message"; type: string }>;
}

export interface ConnectOptions {
  session?: string;
  cols?: number;
  rows?: number;
  cookie?: string | null;
  origin?: string | null;
  keepOutput?: boolean;
  /** Answer the agent's pings (default true). */
  answerPings?: boolean;
}

export async function connectClient(
  serverOrigin: string,
  options: ConnectOptions = {},
): Promise<TerminalClient> {
  const client = openClient(serverOrigin, options);
  await new Promise<void>((resolve, reject) => {
    client.ws.once("open", () => resolve());
    client.ws.once("error", reject);
  });
  return client;
}

/** The HTTP status with which the agent refused an upgrade. */
export function readRefusalStatus(serverOrigin: string, options: ConnectOptions): Promise<number> {
  const { ws } = openClient(serverOrigin, options);
  return new Promise((resolve, reject) => {
    ws.once("open", () => reject(new Error("The upgrade was accepted.")));
    ws.once("error", (error) => {
      const status = /Unexpected server response: (\d+)/.exec(error.message)?.[1];
      if (status) resolve(Number(status));
      else reject(error);
    });
  });
}

/** The client without waiting for the handshake, for refused upgrades. */
export function openClient(serverOrigin: string, options: ConnectOptions = {}): TerminalClient {
  const query = new URLSearchParams({
    cols: String(options.cols ?? 80),
    rows: String(options.rows ?? 24),
  });
  if (options.session) query.set("session", options.session);
  const cookie = options.cookie === undefined ? testCookie : options.cookie;
  const origin = options.origin === undefined ? serverOrigin : options.origin;
  const ws = new WebSocket(`${serverOrigin.replace(/^http/, "ws")}/ws?${query}`, {
    headers: cookie ? { cookie } : {},
    ...(origin ? { origin } : {}),
  });
  return recordClient(ws, options);
}

function recordClient(ws: WebSocket, options: ConnectOptions): TerminalClient {
  const chunks: Buffer[] = [];
  const checks = new Set<() => void>();
  let outputBytes = 0;
  const client: TerminalClient = {
    ws,
    messages: [],
    events: [],
    get outputBytes() {
      return outputBytes;
    },
    text: () => Buffer.concat(chunks).toString("utf8"),
    type: (text) => ws.send(Buffer.from(text), { binary: true }),
    control: (message) => ws.send(JSON.stringify(message)),
    waitFor(what, predicate, timeoutMs = 30_000) {
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          checks.delete(check);
          reject(
            new Error(`Gave up waiting for ${what}; output so far: ${client.text().slice(-500)}`),
          );
        }, timeoutMs);
        const check = () => {
          if (!predicate()) return;
          clearTimeout(timer);
          checks.delete(check);
          resolve();
        };
        checks.add(check);
        check();
      });
    },
    waitForText: (text, timeoutMs) =>
      client.waitFor(`"${text}"`, () => client.text().includes(text), timeoutMs),
    async waitForMessage(type) {
      const find = () => client.messages.find((message) => message.type === type);
      await client.waitFor(`a ${type} message`, () => find() !== undefined);
      return find() as never;
    },
    closed: new Promise((resolve) => ws.once("close", (code) => resolve(code))),
  };
  ws.on("message", (data: Buffer, isBinary) => {
    if (isBinary) {
      outputBytes += data.length;
      if (options.keepOutput !== false) chunks.push(data);
      client.events.push({ kind: "output", bytes: data.length });
    } else {
      const message = JSON.parse(data.toString("utf8")) as ServerMessage;
      client.messages.push(message);
      client.events.push({ kind: "message", type: message.type });
      if (message.type === "ping" && options.answerPings !== false)
        client.control({ type: "pong", at: message.at });
    }
    for (const check of [...checks]) check();
  });
  ws.on("close", () => {
    for (const check of [...checks]) check();
  });
  ws.on("error", () => {});
  return client;
}

/** Polls `predicate` until it holds; the deadline only turns a hang into a failure. */
export async function waitUntil(what: string, predicate: () => boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`Gave up waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A consumer that records what a session delivers. */
export function recordConsumer(onData?: (chunk: Buffer) => void) {
  const chunks: Buffer[] = [];
  const record = {
    exit: null as SessionExit | null,
    replaced: false,
    notices: [] as string[],
    /** Bytes delivered when the exit arrived. */
    bytesAtExit: -1,
    text: () => Buffer.concat(chunks).toString("utf8"),
    consumer: {
      data(chunk: Buffer) {
        chunks.push(chunk);
        onData?.(chunk);
      },
      exit(exit: SessionExit) {
        record.exit = exit;
        record.bytesAtExit = Buffer.concat(chunks).length;
      },
      notice(message: string) {
        record.notices.push(message);
      },
      replace() {
        record.replaced = true;
      },
    } satisfies SessionConsumer,
  };
  return record;
}
