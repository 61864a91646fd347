import {
  sessionNameSchema,
  sessionStatuses,
  type SessionInfo,
  type SessionStatus,
} from "../../protocol/agent-sessions.ts";
import type { SessionExit } from "../terminal/terminal-session.ts";
import type { Tmux } from "./tmux.ts";

// The sessions of the workspace's tmux server, read and changed with tmux commands. What the
// agent must know after a restart lives in tmux itself: the name, tmux's own times, and the
// AI-agent status in user options (@caw-status, @caw-status-message, @caw-status-at).

export type TmuxSession = {
  info: SessionInfo;
  /** Names the session had before it was renamed: its older shells still say them. */
  aliases: string[];
  /** The shell's exit once every pane of the session has died; null while one runs. */
  exit: SessionExit | null;
  /** Dead panes of a session whose other panes still run (windows the user opened). */
  deadPanes: string[];
  /** A pane whose PTY closed but whose process tmux has not reaped yet. */
  unreaped: boolean;
};

/**
 * tmux 3.3a now and then misses a pane's SIGCHLD, leaving the shell a zombie whose status it
 * never learns. A job of its own (`run-shell true`) that ends makes it reap again, that one too.
 */
export async function nudgeTmuxReaper(tmux: Tmux): Promise<void> {
  await tmux.run(["run-shell", "true"]).catch(() => {});
}

// One line per pane; the status message last, so nothing in it can shift the other fields.
const paneFormat = [
  "#{session_name}",
  "#{session_created}",
  "#{window_activity}",
  "#{pane_id}",
  "#{pane_dead}",
  "#{pane_dead_status}",
  "#{pane_dead_signal}",
  "#{@caw-status}",
  "#{@caw-status-at}",
  "#{@caw-aliases}",
  "#{@caw-status-message}",
].join("\t");

/** Every session on the server with a name this product can use, in creation order. */
export async function readTmuxSessions(tmux: Tmux): Promise<TmuxSession[]> {
  const text = await tmux.run(["list-panes", "-a", "-F", paneFormat]).catch((error: unknown) => {
    // No server (yet, or any more): no sessions.
    if (/no server running|error connecting|No such file|no current target/i.test(String(error)))
      return "";
    throw error;
  });
  const sessions = new Map<
    string,
    { session: TmuxSession; live: number; lastDead?: SessionExit }
  >();
  for (const line of text.split("\n").filter(Boolean)) {
    const [name = "", created, activity, pane = "", dead, status, signal, ...rest] =
      line.split("\t");
    if (!sessionNameSchema.safeParse(name).success || name !== name.trim()) continue;
    let entry = sessions.get(name);
    if (!entry) {
      const [aiStatus = "", statusAt = "", aliases = "", ...message] = rest;
      const info = sessionInfoOf(name, created, activity, aiStatus, statusAt, message.join("\t"));
      entry = {
        session: {
          info,
          aliases: aliases.split(" ").filter(Boolean),
          exit: null,
          deadPanes: [],
          unreaped: false,
        },
        live: 0,
      };
      sessions.set(name, entry);
    }
    // tmux marks a pane dead when its PTY closes, and knows the status once it has reaped the
    // process (then the pane-died hook runs): until then the pane counts as running.
    if (dead === "1" && (status || signal)) {
      entry.session.deadPanes.push(pane);
      entry.lastDead = { code: Number(status) || 0, signal: signal ? Number(signal) : null };
    } else {
      entry.live += 1;
      if (dead === "1") entry.session.unreaped = true;
    }
  }
  return [...sessions.values()].map(({ session, live, lastDead }) =>
    live === 0 && lastDead ? { ...session, exit: lastDead, deadPanes: [] } : session,
  );
}

function sessionInfoOf(
  name: string,
  created: string | undefined,
  activity: string | undefined,
  status: string,
  statusAt: string,
  message: string,
): SessionInfo {
  const known = (sessionStatuses as readonly string[]).includes(status);
  return {
    name,
    startedAt: isoOfEpoch(created) ?? new Date(0).toISOString(),
    lastOutputAt: isoOfEpoch(activity),
    status: known ? (status as SessionStatus) : null,
    statusMessage: known && message ? message.slice(0, 200) : null,
    statusChangedAt:
      known && !Number.isNaN(Date.parse(statusAt)) ? new Date(statusAt).toISOString() : null,
  };
}

const isoOfEpoch = (seconds: string | undefined) =>
  seconds && /^\d+$/.test(seconds) ? new Date(Number(seconds) * 1000).toISOString() : null;

/** The target of a session's current pane; `=` makes tmux match the name exactly. */
export const paneOf = (name: string) => `=${name}:`;

export type NewTmuxSession = {
  name: string;
  cols: number;
  rows: number;
  cwd: string;
  /** What the first window runs (the shell launcher); also the default for new windows. */
  command: string;
  /** The user's login shell, which tmux runs commands with. */
  shell: string;
  environment: Record<string, string>;
};

export async function createTmuxSession(tmux: Tmux, session: NewTmuxSession): Promise<void> {
  const env = Object.entries(session.environment).flatMap(([key, value]) => [
    "-e",
    `${key}=${value}`,
  ]);
  await tmux.run([
    ...["set-option", "-g", "default-shell", session.shell, ";"],
    ...["set-option", "-g", "default-command", session.command, ";"],
    ...["new-session", "-d", "-s", session.name, "-c", session.cwd],
    ...["-x", String(session.cols), "-y", String(session.rows), ...env],
  ]);
}

/** Sets (or with null clears) the AI-agent status in the session's user options. */
export async function setTmuxStatus(
  tmux: Tmux,
  name: string,
  status: SessionStatus | null,
  message: string | null,
  at: Date,
): Promise<void> {
  const target = paneOf(name);
  if (status === null) {
    await tmux.run([
      ...["set-option", "-u", "-t", target, "@caw-status", ";"],
      ...["set-option", "-u", "-t", target, "@caw-status-message", ";"],
      ...["set-option", "-t", target, "@caw-status-at", at.toISOString()],
    ]);
    return;
  }
  const text = oneLine(message ?? "");
  await tmux.run([
    ...["set-option", "-t", target, "@caw-status", status, ";"],
    ...(text
      ? ["set-option", "-t", target, "@caw-status-message", text, ";"]
      : ["set-option", "-u", "-t", target, "@caw-status-message", ";"]),
    ...["set-option", "-t", target, "@caw-status-at", at.toISOString()],
  ]);
}

/**
 * A status message is one line of text: control characters become spaces, and a lone `;`
 * (tmux's command separator when it is a whole argument) gets company.
 */
const oneLine = (text: string) =>
  text
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is replaced
    .replace(/[\u0000-\u001f\u007f]/g, " ")
    .trim()
    .replace(/^;$/, "; ");

/** Types `text` literally into the session, then Enter when asked. */
export async function sendTmuxKeys(tmux: Tmux, name: string, text: string, enter: boolean) {
  const target = paneOf(name);
  const literal = text ? ["send-keys", "-t", target, "-l", "--", text] : [];
  const key = enter ? ["send-keys", "-t", target, "Enter"] : [];
  if (literal.length && key.length) await tmux.run([...literal, ";", ...key]);
  else if (literal.length || key.length) await tmux.run([...literal, ...key]);
}

/** The last `lines` lines of text in the session (history and screen), no escapes. */
export async function captureTmuxText(tmux: Tmux, name: string, lines: number): Promise<string> {
  return tmux.run(["capture-pane", "-p", "-J", "-S", String(-lines), "-t", paneOf(name)]);
}

/**
 * The session's history above the screen, with its colours, as the browser replays it before
 * the live stream (the attaching client then draws the screen itself). Rows of the screen's
 * height follow, pushing the history into xterm.js's scrollback before tmux clears the screen.
 */
/** All of an ended session's text with its colours (history and screen), to replay with its exit. */
export async function captureTmuxEnd(tmux: Tmux, name: string): Promise<Buffer> {
  const capture = () => tmux.run(["capture-pane", "-p", "-e", "-J", "-S", "-", "-t", paneOf(name)]);
  // tmux may know the status before it has parsed the last output: read until it holds still.
  let text = await capture();
  for (let tries = 0; tries < 20; tries += 1) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    const again = await capture();
    if (again === text) break;
    text = again;
  }
  return Buffer.from(`${text.replace(/\n/g, "\r\n")}\x1b[0m`);
}

export async function captureTmuxReplay(tmux: Tmux, name: string, rows: number): Promise<Buffer> {
  const target = paneOf(name);
  const answer = await tmux.run([
    ...["display-message", "-p", "-t", target, "#{history_size}", ";"],
    ...["capture-pane", "-p", "-e", "-J", "-S", "-", "-E", "-1", "-t", target],
  ]);
  const [size, ...lines] = answer.split("\n");
  const history = lines.join("\n");
  // With no history, -E -1 would still give the screen's first line.
  if (size === "0" || !history.trim()) return Buffer.alloc(0);
  return Buffer.from(`${history.replace(/\n/g, "\r\n")}\x1b[0m\r\n${"\r\n".repeat(rows)}`);
}

/** Renames the session, remembering the old name for the shells that still carry it. */
export async function renameTmuxSession(
  tmux: Tmux,
  session: TmuxSession,
  newName: string,
): Promise<void> {
  const aliases = [...session.aliases.filter((alias) => alias !== newName), session.info.name];
  await tmux.run([
    ...["rename-session", "-t", `=${session.info.name}`, newName, ";"],
    ...["set-option", "-t", paneOf(newName), "@caw-aliases", aliases.slice(-10).join(" "), ";"],
    // New windows of the session say its new name.
    ...["set-environment", "-t", `=${newName}`, "CAW_SESSION", newName],
  ]);
}
