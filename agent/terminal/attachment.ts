import {
  spawnTerminalSession,
  type SessionConsumer,
  type SessionExit,
  type ShellCommand,
  type TerminalSession,
} from "./terminal-session.ts";

// What a browser socket is joined to: one session seen through one client. For a tmux session
// that is a fresh `tmux attach` on a PTY of the browser's size (closing the socket ends only
// that client); for a plain PTY session (no tmux yet) the shell's own PTY.

export interface TerminalAttachment {
  /** The session's name. */
  readonly name: string;
  readonly cols: number;
  readonly rows: number;
  /** Set when the session had already ended before this socket came. */
  readonly exit: SessionExit | null;
  readonly paused: boolean;
  /** The scrollback to send before the live stream; taken right before `start`. */
  takeReplay(): Buffer;
  /** Starts the live stream to `consumer` (in the same tick as `takeReplay`). */
  start(consumer: SessionConsumer): void;
  write(input: Uint8Array): void;
  resize(cols: number, rows: number): void;
  pause(): void;
  resume(): void;
  /** The socket went away: ends this client only; the session stays. */
  detach(): void;
}

/** A session that ended before the socket came: its last screenful and its exit. */
export function exitedAttachment(
  name: string,
  size: { cols: number; rows: number },
  replay: Buffer,
  exit: SessionExit,
): TerminalAttachment {
  return {
    name,
    ...size,
    exit,
    paused: false,
    takeReplay: () => replay,
    start: (consumer) => consumer.exit(exit),
    write: () => {},
    resize: () => {},
    pause: () => {},
    resume: () => {},
    detach: () => {},
  };
}

function hangUp(client: TerminalSession | null) {
  if (!client) return;
  setTimeout(() => client.kill("SIGHUP"), hangUpAfterMs).unref();
  setTimeout(() => client.kill("SIGKILL"), hangUpAfterMs + 2_000).unref();
}

/** A plain PTY session (the fallback without tmux): replay from its ring buffer. */
export function ptyAttachment(name: string, session: TerminalSession): TerminalAttachment {
  let detach: (() => void) | null = null;
  return {
    name,
    get cols() {
      return session.cols;
    },
    get rows() {
      return session.rows;
    },
    get exit() {
      return session.exit;
    },
    get paused() {
      return session.paused;
    },
    takeReplay: () => session.readScrollback(),
    start(consumer) {
      detach = session.attach(consumer);
    },
    write: (input) => session.write(input),
    resize: (cols, rows) => session.resize(cols, rows),
    pause: () => session.pause(),
    resume: () => session.resume(),
    detach: () => detach?.(),
  };
}

export type TmuxAttachmentInput = {
  name: string;
  cols: number;
  rows: number;
  /** `tmux attach` as the workspace user, with its environment. */
  client: ShellCommand;
  replay: Buffer;
  /** A line for this socket, shown once (e.g. the devcontainer is not ready yet). */
  notice?: string | null;
  onInput: () => void;
  /** The shell's exit when the agent knows it (the client may end before `finish` is called). */
  exitOf: () => SessionExit | null;
  /** How long output must be quiet after the shell died before `exit` goes out (50 ms). */
  exitQuietMs?: number;
};

export type TmuxAttachment = TerminalAttachment & {
  /** The session's shell ended: deliver what is left of its output, then `exit`. */
  finish(exit: SessionExit): Promise<void>;
  /** A newer socket attached: this one is told (4000) and its client ends. */
  replace(): void;
  notify(message: string): void;
};

/** A session ended from outside (the API, `tmux kill-session`): its shell got SIGHUP. */
const hungUp: SessionExit = { code: 0, signal: 1 };

/**
 * Keys the browser sent may still wait in the client's PTY when its socket goes: the client gets
 * a moment to pass them on before it is hung up (SIGHUP makes a tmux client detach).
 */
const hangUpAfterMs = 250;

export function tmuxAttachment(input: TmuxAttachmentInput): TmuxAttachment {
  let client: TerminalSession | null = null;
  let consumer: SessionConsumer | null = null;
  let lastOutputAt = 0;
  let exit: SessionExit | null = null;
  // Keys typed before the client has drawn anything wait: until tmux has put its terminal in
  // raw mode, the line discipline would echo them, and may drop them at the switch.
  let held: Uint8Array[] | null = [];
  const release = () => {
    const waiting = held;
    held = null;
    for (const bytes of waiting ?? []) client?.write(bytes);
  };
  const deliverExit = (value: SessionExit) => {
    if (exit) return;
    exit = value;
    const current = consumer;
    consumer = null;
    current?.exit(value);
    client?.kill("SIGKILL");
  };
  return {
    name: input.name,
    get cols() {
      return client?.cols ?? input.cols;
    },
    get rows() {
      return client?.rows ?? input.rows;
    },
    exit: null,
    get paused() {
      return client?.paused ?? false;
    },
    takeReplay: () => input.replay,
    start(next) {
      consumer = next;
      if (input.notice) next.notice(input.notice);
      client = spawnTerminalSession({
        shell: input.client,
        cols: input.cols,
        rows: input.rows,
        scrollbackBytes: 1,
        exitQuietMs: 25,
        livenessPollMs: 25,
        onInput: input.onInput,
        onOutput: () => {
          lastOutputAt = performance.now();
          if (held) setImmediate(release);
        },
        // The client ends when its session does; the shell's own exit came first if it could.
        onExit: () => deliverExit(input.exitOf() ?? hungUp),
      });
      client.attach({
        data: (chunk) => (exit ? undefined : consumer?.data(chunk)),
        exit: () => deliverExit(input.exitOf() ?? hungUp),
        notice: (message) => consumer?.notice(message),
        replace: () => {},
      });
    },
    write: (bytes) => (held ? held.push(bytes) : client?.write(bytes)),
    resize: (cols, rows) => client?.resize(cols, rows),
    pause: () => client?.pause(),
    resume: () => client?.resume(),
    detach() {
      consumer = null;
      hangUp(client);
    },
    async finish(value) {
      // tmux drew the shell's last output to this client before the agent heard of the
      // death; wait until the client has been quiet a moment so none of it is cut off.
      const quietMs = input.exitQuietMs ?? 50;
      // A client that attached only now first draws the screen (lastOutputAt 0 until then).
      for (let waited = 0; waited < 2_000 && !exit; waited += 10) {
        if (lastOutputAt > 0 && performance.now() - lastOutputAt >= quietMs) {
          // After a busy stretch the timers run before the event loop reads what already
          // waits on the PTY: let it read once, and end only if nothing came.
          const seen = lastOutputAt;
          await new Promise((resolve) => setImmediate(resolve));
          if (lastOutputAt === seen) break;
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      deliverExit(value);
    },
    replace() {
      const current = consumer;
      consumer = null;
      current?.replace();
      hangUp(client);
    },
    notify: (message) => consumer?.notice(message),
  };
}
