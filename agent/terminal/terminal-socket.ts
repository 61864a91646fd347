import type { RawData, WebSocket } from "ws";
import { parseClientMessage, type ServerMessage } from "../../protocol/agent-protocol.ts";
import type { TerminalAttachment } from "./attachment.ts";
import type { SessionExit } from "./terminal-session.ts";

// Joins one browser WebSocket to one terminal session (docs/agent-protocol.md): binary
// frames are terminal bytes both ways, text frames are JSON control messages.

/** Close code for a socket whose session was attached by a newer socket. */
export const replacedCloseCode = 4000;
/** Close code for a socket whose session could not be opened (a bad name, too many). */
export const refusedCloseCode = 4002;

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
  /** Attach to the session of this name (made when missing); none: a new session. */
  sessionName?: string;
  cols: number;
  rows: number;
}

/** Where sockets get their sessions (agent/sessions/workspace-sessions.ts). */
export interface TerminalSessionSource {
  open(name: string | undefined, size: { cols: number; rows: number }): Promise<TerminalAttachment>;
}

/**
 * Serves `ws` until it closes or the shell exits; resolves with what it is attached to, or
 * null when the session could not be opened (the socket is told why and closed).
 */
export async function attachTerminalSocket(
  ws: WebSocket,
  sessions: TerminalSessionSource,
  options: TerminalSocketOptions,
): Promise<TerminalAttachment | null> {
  // Frames that arrive while the session opens wait for it.
  const early: Array<{ data: RawData; isBinary: boolean }> = [];
  const hold = (data: RawData, isBinary: boolean) => early.push({ data, isBinary });
  ws.on("message", hold);
  ws.on("error", () => {}); // followed by `close`, which is all that matters here
  let attachment: TerminalAttachment;
  try {
    attachment = await sessions.open(options.sessionName, {
      cols: options.cols,
      rows: options.rows,
    });
  } catch (error) {
    sendMessage(ws, {
      type: "error",
      message: error instanceof Error ? error.message : String(error),
    });
    ws.close(refusedCloseCode, "The session could not be opened");
    return null;
  }
  ws.off("message", hold);
  if (ws.readyState !== ws.OPEN) {
    attachment.detach();
    return null;
  }
  serveAttachment(ws, attachment, options);
  for (const { data, isBinary } of early) ws.emit("message", data, isBinary);
  return attachment;
}

function serveAttachment(
  ws: WebSocket,
  attachment: TerminalAttachment,
  options: TerminalSocketOptions,
) {
  attachment.resize(options.cols, options.rows);
  // Everything from here to `start` runs in one tick, so no output can slip between the
  // replay and the live stream.
  const replay = attachment.takeReplay();
  const { name, cols, rows } = attachment;
  sendMessage(ws, { type: "session", id: name, cols, rows, replayedBytes: replay.length });
  if (replay.length > 0) ws.send(replay, { binary: true });
  if (attachment.exit) return sendExit(ws, attachment.exit);

  const backpressure = createBackpressure(ws, attachment, options);
  const keepAlive = startKeepAlive(ws, options);
  const stop = () => {
    backpressure.stop();
    keepAlive.stop();
  };
  attachment.start({
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
    if (isBinary) attachment.write(toBuffer(data));
    else handleControl(ws, attachment, toBuffer(data).toString("utf8"));
  });
  ws.on("pong", () => keepAlive.hear());
  ws.on("close", () => {
    stop();
    attachment.detach();
  });
}

function handleControl(ws: WebSocket, session: TerminalAttachment, text: string) {
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
function createBackpressure(
  ws: WebSocket,
  session: TerminalAttachment,
  tuning: TerminalSocketTuning,
) {
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
