import type { RawData, WebSocket } from "ws";
import { parseClientMessage, type ServerMessage } from "../../protocol/agent-protocol.ts";
import type { SessionManager } from "./session-manager.ts";
import type { SessionExit, TerminalSession } from "./terminal-session.ts";

// Joins one browser WebSocket to one terminal session (docs/agent-protocol.md): binary
// frames are terminal bytes both ways, text frames are JSON control messages.

/** Close code for a socket whose session was attached by a newer socket. */
export const replacedCloseCode = 4000;

export interface TerminalSocketTuning {
  /** How often the agent pings (default 30 s). */
  pingIntervalMs?: number;
  /** A socket silent for this long is dropped, counted in ping intervals (default 90 s). */
  dropAfterMs?: number;
  /** Output buffered for the socket above which the PTY is paused (default 1 MiB). */
  highWaterBytes?: number;
  /** Buffered output below which a paused PTY resumes (default 256 KiB). */
  lowWaterBytes?: number;
  /** How often a paused socket checks its buffer (default 10 ms). */
  drainPollMs?: number;
}

export interface TerminalSocketOptions extends TerminalSocketTuning {
  /** Re-attach to this session when it still exists; otherwise a new one starts. */
  sessionId?: string;
  cols: number;
  rows: number;
}

/** Serves `ws` until it closes or the shell exits; returns the session it is attached to. */
export function attachTerminalSocket(
  ws: WebSocket,
  manager: SessionManager,
  options: TerminalSocketOptions,
): TerminalSession {
  const existing = options.sessionId ? manager.get(options.sessionId) : undefined;
  const session = existing ?? manager.create({ cols: options.cols, rows: options.rows });
  manager.recordActivity();
  existing?.resize(options.cols, options.rows);
  // Everything up to `attach` runs in one tick, so no output can slip between the replay
  // and the live stream.
  const replay = existing ? existing.readScrollback() : Buffer.alloc(0);
  const { cols, rows } = session;
  sendMessage(ws, { type: "session", id: session.id, cols, rows, replayedBytes: replay.length });
  if (replay.length > 0) ws.send(replay, { binary: true });
  if (session.exit) {
    sendExit(ws, session.exit);
    return session;
  }

  const backpressure = createBackpressure(ws, session, options);
  const keepAlive = startKeepAlive(ws, options);
  const stop = () => {
    backpressure.stop();
    keepAlive.stop();
  };
  const detach = session.attach({
    data(chunk) {
      ws.send(chunk, { binary: true });
      backpressure.check();
    },
    exit(exit) {
      stop();
      sendExit(ws, exit);
    },
    notice(message) {
      sendMessage(ws, { type: "notice", message });
    },
    replace() {
      stop();
      ws.close(replacedCloseCode, "The session was attached elsewhere");
    },
  });
  ws.on("message", (data, isBinary) => {
    keepAlive.hear();
    if (isBinary) session.write(toBuffer(data));
    else handleControl(ws, session, toBuffer(data).toString("utf8"));
  });
  ws.on("pong", () => keepAlive.hear());
  // A socket error is followed by `close`, which is all that matters here.
  ws.on("error", () => {});
  ws.on("close", () => {
    stop();
    detach();
  });
  return session;
}

function handleControl(ws: WebSocket, session: TerminalSession, text: string) {
  const message = parseClientMessage(text);
  if (!message) {
    const hint = "Unknown control message; see docs/agent-protocol.md.";
    sendMessage(ws, { type: "error", message: hint });
  } else if (message.type === "resize") session.resize(message.cols, message.rows);
  else if (message.type === "ping") sendMessage(ws, { type: "pong", at: message.at });
}

function sendMessage(ws: WebSocket, message: ServerMessage) {
  ws.send(JSON.stringify(message));
}

function sendExit(ws: WebSocket, exit: SessionExit) {
  sendMessage(ws, { type: "exit", code: exit.code, signal: exit.signal });
  ws.close(1000, "The shell exited");
}

function toBuffer(data: RawData): Buffer {
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.isBuffer(data) ? data : Buffer.from(data);
}

/** Pauses the PTY while the socket has more than the high-water mark waiting to be sent. */
function createBackpressure(ws: WebSocket, session: TerminalSession, tuning: TerminalSocketTuning) {
  const high = tuning.highWaterBytes ?? 1024 * 1024;
  const low = tuning.lowWaterBytes ?? 256 * 1024;
  let poll: NodeJS.Timeout | undefined;
  const stop = () => {
    clearInterval(poll);
    poll = undefined;
  };
  return {
    check() {
      if (poll || ws.bufferedAmount <= high) return;
      session.pause();
      poll = setInterval(() => {
        if (ws.bufferedAmount > low) return;
        stop();
        session.resume();
      }, tuning.drainPollMs ?? 10);
    },
    stop,
  };
}

/**
 * Pings every interval and drops the socket after enough intervals without a frame from
 * the browser. Counting intervals rather than comparing clocks keeps a stalled event loop
 * from dropping healthy sockets whose answers are still unread.
 */
function startKeepAlive(ws: WebSocket, tuning: TerminalSocketTuning) {
  const intervalMs = tuning.pingIntervalMs ?? 30_000;
  const silentLimit = Math.max(1, Math.round((tuning.dropAfterMs ?? 90_000) / intervalMs));
  let heard = true;
  let silentIntervals = 0;
  const timer = setInterval(() => {
    silentIntervals = heard ? 0 : silentIntervals + 1;
    heard = false;
    if (silentIntervals >= silentLimit) ws.terminate();
    else sendMessage(ws, { type: "ping", at: Date.now() });
  }, intervalMs);
  return {
    hear() {
      heard = true;
    },
    stop: () => clearInterval(timer),
  };
}
