import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";
import {
  accessEndedCloseCode,
  type ClientMessage,
  type ServerMessage,
} from "../../../protocol/agent-protocol.ts";
import { attachTouchKeys } from "./touch-keys.ts";
import {
  createWorkspaceFollower,
  readPageConfig,
  type WorkspaceFollower,
} from "./workspace-follow.ts";

// The browser side of the terminal (docs/agent-protocol.md), bundled by bundle-client.ts.
// The container's data-status (connecting|open|reconnecting|closed|exited|error) is what tests
// and the status line follow; data-workspace-state is the control plane's answer once the
// socket closed (workspace-follow.ts, ADR 0022).

type Status = "connecting" | "open" | "reconnecting" | "closed" | "exited" | "error";

// The session's name is in the page's address (`/?session=shell-1`), so a reload, a bookmark
// or a link from the control plane re-attaches to that session (SPEC §14).
const maxBackoffMs = 10_000;
// The agent pings every 30 s; three silent intervals mean the connection is dead even if
// the browser has not noticed.
const watchdogMs = 30_000;
const silenceLimitMs = 90_000;
const replacedCloseCode = 4000;
const refusedCloseCode = 4002;
const refusalShownMs = 4_000;

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
  const follower = startFollower(container, setStatus, () => connection);
  const connection = connectTerminal(term, setStatus, follower);
  const encoder = new TextEncoder();
  const refuse = createRefusalNotice(document.getElementById("terminal-refused"));
  const sendInput = (bytes: Uint8Array) => (connection.sendInput(bytes) ? undefined : refuse());
  const keysBar = document.getElementById("terminal-keys");
  const keys = keysBar
    ? attachTouchKeys(keysBar, term, (data) => sendInput(encoder.encode(data)))
    : null;
  term.onData((data) => sendInput(encoder.encode(keys ? keys.apply(data) : data)));
  // Mouse reports in X10 mode are bytes, not text: one char code per byte.
  term.onBinary((data) => sendInput(Uint8Array.from(data, (c) => c.charCodeAt(0))));
  term.onResize(({ cols, rows }) => connection.sendControl({ type: "resize", cols, rows }));
  term.onTitleChange((title) => (document.title = title || document.title));
  new ResizeObserver(() => fit.fit()).observe(container);
}

/**
 * Typing while disconnected is refused, visibly, and nothing is kept for later: keys typed
 * blind would reach a shell whose state the person can no longer see (or, after a stop, a
 * new shell), where replaying them could run something unintended.
 */
function createRefusalNotice(notice: HTMLElement | null) {
  let refused = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  return () => {
    refused += 1;
    if (!notice) return;
    notice.dataset.refused = String(refused);
    notice.textContent = `Not connected: what you typed was not sent (${refused} ${refused === 1 ? "key" : "keys"}).`;
    notice.hidden = false;
    clearTimeout(timer);
    timer = setTimeout(() => (notice.hidden = true), refusalShownMs);
  };
}

/** The follower of the workspace's state and its panel, when the agent said where to ask. */
function startFollower(
  container: HTMLElement,
  setStatus: (status: Status, text?: string) => void,
  connection: () => { hold: (held: boolean) => void },
): WorkspaceFollower | null {
  const config = readPageConfig(container);
  const panel = document.getElementById("terminal-workspace");
  const message = document.getElementById("terminal-workspace-message");
  const startButton = document.getElementById("terminal-start") as HTMLButtonElement | null;
  const back = document.getElementById("terminal-back") as HTMLAnchorElement | null;
  if (!config || !panel || !message || !startButton || !back) return null;
  const follower = createWorkspaceFollower(config, {
    show(view) {
      panel.hidden = view === null;
      if (!view) return delete container.dataset.workspaceState;
      container.dataset.workspaceState = view.state;
      message.textContent = view.message;
      startButton.hidden = !view.startable;
      startButton.disabled = false;
      const ended = view.state === "access-ended";
      const deleted = view.state === "deleted";
      back.textContent = ended
        ? "Open the terminal again"
        : deleted
          ? "Your workspaces"
          : "Workspace page";
      back.href = ended ? follower.launcherUrl() : follower.workspaceUrl(view.state);
    },
    setStatus,
    hold: (held) => connection().hold(held),
    currentSession,
  });
  startButton.addEventListener("click", () => {
    startButton.disabled = true;
    message.textContent = "Starting…";
    void follower.start();
  });
  return follower;
}

function connectTerminal(
  term: Terminal,
  setStatus: (status: Status, text?: string) => void,
  follower: WorkspaceFollower | null,
) {
  let socket: WebSocket | null = null;
  let attempt = 0;
  let finished = false;
  let held = false;
  let attached = false;
  let lastHeardAt = Date.now();

  /** Sends when the session is attached; false (nothing sent) otherwise. */
  const send = (data: string | Uint8Array): boolean => {
    if (!attached || socket?.readyState !== WebSocket.OPEN) return false;
    socket.send(data);
    return true;
  };
  const sendControl = (message: ClientMessage) => send(JSON.stringify(message));
  const handleClose = (code: number) => {
    socket = null;
    attached = false;
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
    follower?.disconnected();
    setTimeout(() => (held ? undefined : open()), delay);
  };
  const handleMessage = (message: ServerMessage) =>
    handleServerMessage(message, {
      term,
      setStatus,
      sendControl,
      attached: () => {
        attempt = 0;
        attached = true;
        follower?.connected();
      },
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
  return {
    sendInput: (bytes: Uint8Array) => send(bytes),
    sendControl: (message: ClientMessage) => void sendControl(message),
    /** While the workspace is not running there is no agent to reconnect to. */
    hold(value: boolean) {
      const resumed = held && !value;
      held = value;
      if (resumed && !socket && !finished) open();
    },
  };
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
