import { defaultScrollbackBytes } from "./ring-buffer.ts";
import {
  spawnTerminalSession,
  type ShellCommand,
  type TerminalSession,
} from "./terminal-session.ts";

// The terminal sessions (browser tabs) of this workspace, by random id. A session outlives
// its socket so a dropped browser can re-attach; an exited one stays a little while so a
// browser that reconnects right then still learns how the shell ended.

/**
 * The shell every new session runs, or a function asked at each new session (the devcontainer
 * may become ready while the agent runs), with a notice for that session's terminal.
 */
export type ShellSource = ShellCommand | (() => { shell: ShellCommand; notice?: string | null });

export interface SessionManagerOptions {
  shell: ShellSource;
  scrollbackBytes?: number;
  /** How long an exited session can still be attached to (default 60 s). */
  exitedRetentionMs?: number;
  /** Quiet time after the PTY exits before the exit is reported (default 25 ms). */
  exitQuietMs?: number;
  /** How often a paused session checks its shell is alive (default 25 ms). */
  livenessPollMs?: number;
  /** How long `killAll` waits after SIGHUP before SIGKILL (default 5 s). */
  killGraceMs?: number;
  now?: () => Date;
}

export interface SessionActivity {
  /** Sessions whose shell still runs. */
  sessions: number;
  /** Last terminal input or new connection; output does not count. */
  lastActivityAt: Date | null;
}

export interface SessionManager {
  create(size: { cols: number; rows: number }): TerminalSession;
  get(id: string): TerminalSession | undefined;
  list(): TerminalSession[];
  /** Records activity that is not terminal input, e.g. a browser connecting. */
  recordActivity(): void;
  readActivity(): SessionActivity;
  /** Shows a notice (e.g. the idle warning) in every attached terminal. */
  notifyAll(message: string): void;
  /** Hangs up every shell (SIGKILL after the grace time) and waits for their exits. */
  killAll(): Promise<void>;
}

export function createSessionManager(options: SessionManagerOptions): SessionManager {
  const now = options.now ?? (() => new Date());
  const retentionMs = options.exitedRetentionMs ?? 60_000;
  const sessions = new Map<string, TerminalSession>();
  const exitWaiters = new Map<TerminalSession, Array<() => void>>();
  let lastActivityAt: Date | null = null;

  const recordActivity = () => {
    lastActivityAt = now();
  };
  const handleExit = (session: TerminalSession) => {
    for (const resolve of exitWaiters.get(session) ?? []) resolve();
    exitWaiters.delete(session);
    setTimeout(() => sessions.delete(session.id), retentionMs).unref();
  };
  const waitForExit = (session: TerminalSession) =>
    new Promise<void>((resolve) => {
      if (session.exit) return resolve();
      exitWaiters.set(session, [...(exitWaiters.get(session) ?? []), resolve]);
    });
  const running = () => [...sessions.values()].filter((session) => !session.exit);

  return {
    create({ cols, rows }) {
      const choice =
        typeof options.shell === "function" ? options.shell() : { shell: options.shell };
      const session = spawnTerminalSession({
        shell: choice.shell,
        notice: choice.notice,
        cols,
        rows,
        scrollbackBytes: options.scrollbackBytes ?? defaultScrollbackBytes,
        exitQuietMs: options.exitQuietMs ?? 25,
        livenessPollMs: options.livenessPollMs ?? 25,
        onInput: recordActivity,
        onExit: handleExit,
      });
      sessions.set(session.id, session);
      return session;
    },
    get: (id) => sessions.get(id),
    list: () => [...sessions.values()],
    recordActivity,
    readActivity: () => ({ sessions: running().length, lastActivityAt }),
    notifyAll(message) {
      for (const session of running()) session.notify(message);
    },
    async killAll() {
      const targets = running();
      for (const session of targets) session.kill("SIGHUP");
      const stubborn = setTimeout(() => {
        for (const session of targets) session.kill("SIGKILL");
      }, options.killGraceMs ?? 5_000);
      await Promise.all(targets.map(waitForExit));
      clearTimeout(stubborn);
    },
  };
}
