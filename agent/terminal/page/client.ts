import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";
import {
  accessEndedCloseCode,
  type ClientMessage,
  type ServerMessage,
} from "../../../protocol/agent-protocol.ts";

// The browser side of the terminal (docs/agent-protocol.md), bundled by bundle-client.ts.
// The container's data-status (connecting|open|reconnecting|exited|error) is what tests
// and the status line follow.

type Status = "connecting" | "open" | "reconnecting" | "exited" | "error";

// The session's name is in the page's address (`/?session=shell-1`), so a reload, a bookmark
// or a link from the control plane re-attaches to that session (SPEC §14).
const maxBackoffMs = 10_000;
// The agent pings every 30 s; three silent intervals mean the connection is dead even if
// the browser has not noticed.
const watchdogMs = 30_000;
const silenceLimitMs = 90_000;
const replacedCloseCode = 4000;
const refusedCloseCode = 4002;

function startTerminal(container: HTMLElement, statusLine: HTMLElement | null) {
  const term = new Terminal({ cursorBlink: true, scrollback: 10_000 });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(container);
  fit.fit();
  term.focus();
  const setStatus = (status: Status, text = "") => {
    container.dataset.status = status;
    if (statusLine) statusLine.textContent = text;
  };
  const connection = connectTerminal(term, setStatus);
  const encoder = new TextEncoder();
  term.onData((data) => connection.sendInput(encoder.encode(data)));
  // Mouse reports in X10 mode are bytes, not text: one char code per byte.
  term.onBinary((data) => connection.sendInput(Uint8Array.from(data, (c) => c.charCodeAt(0))));
  term.onResize(({ cols, rows }) => connection.sendControl({ type: "resize", cols, rows }));
  term.onTitleChange((title) => (document.title = title || document.title));
  new ResizeObserver(() => fit.fit()).observe(container);
}

function connectTerminal(term: Terminal, setStatus: (status: Status, text?: string) => void) {
  let socket: WebSocket | null = null;
  let attempt = 0;
  let finished = false;
  let lastHeardAt = Date.now();

  const send = (data: string | Uint8Array) => {
    if (socket?.readyState === WebSocket.OPEN) socket.send(data);
  };
  const sendControl = (message: ClientMessage) => send(JSON.stringify(message));
  const handleClose = (code: number) => {
    socket = null;
    if (finished) return;
    if (code === replacedCloseCode) {
      finished = true;
      return setStatus("error", "This session was opened in another tab or window.");
    }
    if (code === refusedCloseCode) {
      finished = true;
      return setStatus("error", "The session could not be opened (the message above says why).");
    }
    if (code === accessEndedCloseCode) {
      finished = true;
      term.write(
        "\r\n\x1b[33m[Your terminal access ended. Open the terminal again from the control plane.]\x1b[0m\r\n",
      );
      return setStatus(
        "error",
        "Your terminal access ended; open the terminal again from the control plane.",
      );
    }
    const delay = Math.min(maxBackoffMs, 500 * 2 ** attempt) * (0.5 + Math.random() / 2);
    attempt += 1;
    setStatus("reconnecting", "Connection lost; reconnecting…");
    setTimeout(open, delay);
  };
  const handleMessage = (message: ServerMessage) =>
    handleServerMessage(message, {
      term,
      setStatus,
      sendControl,
      attached: () => (attempt = 0),
      finish: () => (finished = true),
    });
  const open = () => {
    const ws = new WebSocket(socketUrl(term));
    ws.binaryType = "arraybuffer";
    socket = ws;
    lastHeardAt = Date.now();
    ws.onmessage = (event: MessageEvent<string | ArrayBuffer>) => {
      lastHeardAt = Date.now();
      if (typeof event.data === "string") handleMessage(JSON.parse(event.data) as ServerMessage);
      else term.write(new Uint8Array(event.data));
    };
    ws.onclose = (event) => {
      if (socket === ws) handleClose(event.code);
    };
  };

  setInterval(() => {
    if (!socket || Date.now() - lastHeardAt < silenceLimitMs) return;
    const dead = socket;
    dead.onclose = null;
    dead.close();
    handleClose(1006);
  }, watchdogMs);
  open();
  return { sendInput: (bytes: Uint8Array) => send(bytes), sendControl };
}

interface MessageContext {
  term: Terminal;
  setStatus: (status: Status, text?: string) => void;
  sendControl: (message: ClientMessage) => void;
  attached: () => void;
  finish: () => void;
}

function handleServerMessage(message: ServerMessage, context: MessageContext) {
  const { term, setStatus } = context;
  if (message.type === "session") {
    context.attached();
    showSession(term, message.id, message.replayedBytes);
    setStatus("open");
  } else if (message.type === "exit") {
    context.finish();
    rememberSession(null);
    const how = message.signal ? `signal ${message.signal}` : `code ${message.code}`;
    term.write(`\r\n\x1b[2m[The shell exited with ${how}. Reload for a new one.]\x1b[0m\r\n`);
    setStatus("exited", `The shell exited with ${how}.`);
  } else if (message.type === "ping") context.sendControl({ type: "pong", at: message.at });
  else if (message.type === "notice" || message.type === "error")
    term.write(`\r\n\x1b[33m[${message.message}]\x1b[0m\r\n`);
}

function currentSession(): string | null {
  return new URLSearchParams(location.search).get("session");
}

/** Puts the session's name in the address (null takes it out), without a navigation. */
function rememberSession(name: string | null) {
  const url = new URL(location.href);
  if (name) url.searchParams.set("session", name);
  else url.searchParams.delete("session");
  history.replaceState(history.state, "", url);
}

/** Remembers the session; clears the screen before a replay or when the old shell is gone. */
function showSession(term: Terminal, id: string, replayedBytes: number) {
  const previous = currentSession();
  rememberSession(id);
  if (replayedBytes > 0) term.reset();
  else if (previous && previous !== id) {
    term.reset();
    term.write("\x1b[2m[The previous shell is gone; this is a new one.]\x1b[0m\r\n");
  }
}

function socketUrl(term: Terminal): string {
  const params = new URLSearchParams({ cols: String(term.cols), rows: String(term.rows) });
  const session = currentSession();
  if (session) params.set("session", session);
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/ws?${params}`;
}

const container = document.getElementById("terminal");
if (container) startTerminal(container, document.getElementById("terminal-status"));
