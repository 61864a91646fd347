import type { SessionInfo, SessionStatus } from "../../protocol/agent-sessions.ts";
import { defaultScrollbackBytes } from "../terminal/ring-buffer.ts";
import {
  spawnTerminalSession,
  type ShellCommand,
  type TerminalSession,
} from "../terminal/terminal-session.ts";

// The fallback while tmux is not installed (a VM whose toolchain is still coming): sessions are
// shells on the agent's own PTYs, with the same names, statuses and API, but they end with the
// agent. Each says so once in its terminal.

export const ptyFallbackNotice =
  "tmux is not installed yet, so this session is a plain shell: it ends if the workspace agent restarts. Sessions opened once tmux is there survive restarts.";

export type PtySession = {
  info: SessionInfo;
  terminal: TerminalSession;
};

export type PtySessionsOptions = {
  /** How long an exited session can still be attached to (60 s). */
  exitedRetentionMs: number;
  killGraceMs: number;
  onInput: () => void;
  /** A shell ended (and its output was delivered). */
  onExit: (name: string) => void;
};

export function createPtySessions(options: PtySessionsOptions) {
  const sessions = new Map<string, PtySession>();
  const exitWaiters = new Map<TerminalSession, () => void>();
  const live = () => [...sessions.values()].filter((session) => !session.terminal.exit);

  return {
    has: (name: string) => sessions.has(name),
    get: (name: string) => sessions.get(name),
    /** Live sessions' info. */
    list: (): SessionInfo[] => live().map((session) => session.info),
    names: () => [...sessions.keys()],
    create(input: {
      name: string;
      cols: number;
      rows: number;
      shell: ShellCommand;
      notice: string | null;
    }) {
      const notices = [ptyFallbackNotice, input.notice].filter(Boolean).join(" ");
      const now = new Date().toISOString();
      const session: PtySession = {
        info: {
          name: input.name,
          startedAt: now,
          lastOutputAt: null,
          status: null,
          statusMessage: null,
          statusChangedAt: null,
        },
        terminal: spawnTerminalSession({
          shell: input.shell,
          notice: notices,
          cols: input.cols,
          rows: input.rows,
          scrollbackBytes: defaultScrollbackBytes,
          exitQuietMs: 25,
          livenessPollMs: 25,
          onInput: options.onInput,
          onOutput: () => (session.info.lastOutputAt = new Date().toISOString()),
          onExit: (terminal) => {
            exitWaiters.get(terminal)?.();
            options.onExit(input.name);
            setTimeout(() => {
              if (sessions.get(input.name) === session) sessions.delete(input.name);
            }, options.exitedRetentionMs).unref();
          },
        }),
      };
      sessions.set(input.name, session);
      return session;
    },
    rename(name: string, newName: string) {
      const session = sessions.get(name);
      if (!session) return;
      sessions.delete(name);
      session.info.name = newName;
      sessions.set(newName, session);
    },
    end(name: string) {
      sessions.get(name)?.terminal.kill("SIGHUP");
      sessions.delete(name);
    },
    setStatus(name: string, status: SessionStatus | null, message: string | null, at: Date) {
      const session = sessions.get(name);
      if (!session) return;
      session.info.status = status;
      session.info.statusMessage = status ? message : null;
      session.info.statusChangedAt = status ? at.toISOString() : null;
    },
    /** Hangs up every shell (SIGKILL after the grace time) and waits for their exits. */
    async killAll() {
      const targets = live().map((session) => session.terminal);
      const exits = targets.map(
        (terminal) => new Promise<void>((resolve) => exitWaiters.set(terminal, resolve)),
      );
      for (const terminal of targets) terminal.kill("SIGHUP");
      const stubborn = setTimeout(() => {
        for (const terminal of targets) terminal.kill("SIGKILL");
      }, options.killGraceMs);
      await Promise.all(exits);
      clearTimeout(stubborn);
    },
  };
}

export type PtySessions = ReturnType<typeof createPtySessions>;

/** Terminal output as plain text: escape sequences and carriage returns gone, last `lines`. */
export function plainTextOf(bytes: Buffer): string {
  return (
    bytes
      .toString("utf8")
      // eslint-disable-next-line no-control-regex -- escape sequences are what is removed
      .replace(/\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]/g, "")
      .replace(/\r+\n/g, "\n")
      .split("\n")
      .map((line) => line.slice(line.lastIndexOf("\r") + 1))
      .join("\n")
  );
}
