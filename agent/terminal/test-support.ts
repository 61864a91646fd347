import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import type { Server } from "node:http";
import { WebSocket } from "ws";
import type { ClientMessage, ServerMessage } from "../../protocol/agent-protocol.ts";
import { quoteForShell } from "../cli/cli-output.ts";
import type { ShellChoice } from "../devcontainer.ts";
import { createTmux, writeTmuxConfig, type Tmux } from "../sessions/tmux.ts";
import {
  createWorkspaceSessions,
  type WorkspaceSessions,
  type WorkspaceSessionsOptions,
} from "../sessions/workspace-sessions.ts";
import type { SessionConsumer, SessionExit, ShellCommand } from "./terminal-session.ts";
import { createTerminalServer, type TerminalServerOptions } from "./terminal-server.ts";

// Helpers for the terminal tests: a plain bash, the workspace's sessions on a real tmux server
// of the test's own (or plain PTYs), a real server on loopback, and a real WebSocket client
// that records what arrives and lets a test wait for it.

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

/** What a session runs: that bash, for tmux (a launcher string) and for a plain PTY. */
export function bashChoice(
  command?: string,
  notice: string | null = null,
  shell: ShellCommand = bashShell(command),
): ShellChoice {
  const variables = Object.entries(shell.env).map(
    ([name, value]) => `${name}=${quoteForShell(value)}`,
  );
  const launcher = `${variables.join(" ")} exec ${[shell.file, ...shell.args].map(quoteForShell).join(" ")}`;
  return { shell, launcher, notice, devcontainer: false };
}

export interface TestSessions {
  sessions: WorkspaceSessions;
  tmux: Tmux;
  logs: string[];
  close(): Promise<void>;
}

export type TestSessionsOptions = Partial<WorkspaceSessionsOptions> & {
  /** false: no tmux (the plain PTY fallback). */
  useTmux?: boolean;
};

/** The workspace's sessions on a tmux server of this test's own, in a temporary folder. */
export async function startTestSessions(options: TestSessionsOptions = {}): Promise<TestSessions> {
  const folder = await mkdtemp(path.join(os.tmpdir(), "caw-sessions-"));
  const { env } = bashShell();
  const logs: string[] = [];
  const log = (message: string) => void logs.push(message);
  const configFile = path.join(folder, "tmux.conf");
  await writeTmuxConfig(configFile, { historyLimit: 10_000 }, null);
  const tmux = createTmux({
    socketPath: path.join(folder, "tmux.sock"),
    configFile,
    user: null,
    environment: env,
    workspaceId: "00000000-test",
    log,
  });
  const sessions = createWorkspaceSessions({
    tmux: options.useTmux === false ? null : tmux,
    shells: () => bashChoice(),
    loginShell: "/bin/bash",
    cwd: os.tmpdir(),
    environment: env,
    log,
    ...options,
  });
  await sessions.start();
  return {
    sessions,
    tmux,
    logs,
    async close() {
      await sessions.close();
      await tmux.run(["kill-server"]).catch(() => {});
      await rm(folder, { recursive: true, force: true });
    },
  };
}

export interface TestServer extends TestSessions {
  server: Server;
  /** `http://127.0.0.1:port` */
  origin: string;
}

export async function startTestServer(
  sessionOptions: TestSessionsOptions = {},
  serverOptions: Partial<TerminalServerOptions> = {},
): Promise<TestServer> {
  const test = await startTestSessions(sessionOptions);
  const { sessions } = test;
  const server = createTerminalServer({
    sessions,
    authenticate: async (req) => (req.headers.cookie === testCookie ? { userId: "u1" } : null),
    renderPage: () => "<!doctype html><title>terminal</title>",
    readAsset: (name) => (name === "terminal.js" ? Buffer.from("console.log(1)") : null),
    health: () => ({ status: "ok", ...sessions.readActivity() }),
    ...serverOptions,
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    ...test,
    server,
    origin: `http://127.0.0.1:${port}`,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await test.close();
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
