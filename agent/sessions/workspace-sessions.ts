import {
  maxSessions,
  sessionNameSchema,
  sessionOutputMaxLines,
  type SessionInfo,
  type SessionOutput,
  type SessionStatus,
} from "../../protocol/agent-sessions.ts";
import type { ShellChoice } from "../devcontainer.ts";
import {
  exitedAttachment,
  ptyAttachment,
  tmuxAttachment,
  type TerminalAttachment,
  type TmuxAttachment,
} from "../terminal/attachment.ts";
import type { SessionExit } from "../terminal/terminal-session.ts";
import { createPtySessions, plainTextOf } from "./pty-sessions.ts";
import { isTmuxInstalled, type Tmux } from "./tmux.ts";
import * as tmuxOps from "./tmux-sessions.ts";
import type { TmuxSession } from "./tmux-sessions.ts";

// The workspace's named sessions (SPEC §14, docs/adr/0014): tmux sessions that outlive the
// agent, or plain PTY shells while tmux is not installed. One list for the browser terminal,
// `caw` (SessionRegistry), the control plane's session API and the session report.

export class SessionError extends Error {
  override name = "SessionError";
  constructor(
    readonly status: 400 | 404 | 409,
    message: string,
  ) {
    super(message);
  }
}

export type WorkspaceSessionsOptions = {
  /** The workspace's tmux server; null: plain PTY shells only. */
  tmux: Tmux | null;
  /** What a new session runs now (the devcontainer may become ready later). */
  shells: () => ShellChoice;
  /** The login shell, which tmux runs the launcher with. */
  loginShell: string;
  cwd: string;
  /** Environment of tmux commands (tmux's own PATH) and of plain PTY shells. */
  environment: Record<string, string>;
  /** The whole set changed (names, statuses); debounced by `reportDelayMs`. */
  report?: (sessions: SessionInfo[]) => void;
  log: (message: string) => void;
  reportDelayMs?: number;
  /** How often tmux is read for sessions changed from inside (default 2 s). */
  refreshMs?: number;
  exitedRetentionMs?: number;
  now?: () => Date;
};

export type SessionSize = { cols: number; rows: number };
const defaultSize: SessionSize = { cols: 80, rows: 24 };

export type WorkspaceSessions = ReturnType<typeof createWorkspaceSessions>;

type Exited = { exit: SessionExit; replay: Buffer; startedAt: string };

export function createWorkspaceSessions(options: WorkspaceSessionsOptions) {
  const now = options.now ?? (() => new Date());
  const retentionMs = options.exitedRetentionMs ?? 60_000;
  const pty = createPtySessions({
    exitedRetentionMs: retentionMs,
    killGraceMs: 5_000,
    onInput: () => recordActivity(),
    onExit: () => void refresh(),
  });
  const attachments = new Map<string, TmuxAttachment>();
  const exited = new Map<string, Exited>();
  const notices = new Map<string, string>();
  /** Exits being handled, which an attach to the same name waits for. */
  const handling = new Map<string, Promise<void>>();
  /** Sockets opening a session, which the handling of its end waits for. */
  const opening = new Map<string, Promise<unknown>>();
  let tmuxSessions: TmuxSession[] = [];
  let lastActivityAt: Date | null = null;
  let reportedKey = "";
  let reportTimer: NodeJS.Timeout | undefined;
  let tmuxReady: Promise<boolean> | null = null;
  let tmuxCheckedAt = Number.NEGATIVE_INFINITY;
  let queue: Promise<unknown> = Promise.resolve();
  const stops: Array<() => void> = [];

  const recordActivity = () => void (lastActivityAt = now());
  /** One change at a time, so two creates never pick the same name. */
  const serially = <T>(work: () => Promise<T>): Promise<T> => {
    const next = queue.then(work, work);
    queue = next.catch(() => {});
    return next;
  };

  /** Whether tmux is there; once it is, its server runs and is watched. */
  const useTmux = async (): Promise<boolean> => {
    const { tmux } = options;
    if (!tmux) return false;
    if (!tmuxReady && performance.now() - tmuxCheckedAt >= 5_000) {
      tmuxCheckedAt = performance.now();
      tmuxReady = isTmuxInstalled(options.environment).then(async (installed) => {
        if (!installed) {
          tmuxReady = null; // asked again at the next session, at most every 5 s
          return false;
        }
        await tmux.ensureServer();
        const watcher = tmux.watch(() => void refresh());
        stops.push(() => watcher.stop());
        return true;
      });
      tmuxReady.catch((error: unknown) => {
        tmuxReady = null;
        options.log(`Could not start the sessions' tmux server: ${String(error)}`);
      });
    }
    return (await tmuxReady?.catch(() => false)) ?? false;
  };

  const list = (): SessionInfo[] =>
    [
      ...tmuxSessions.filter((session) => !session.exit).map((session) => session.info),
      ...pty.list(),
    ].sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.name.localeCompare(b.name));

  const scheduleReport = () => {
    const key = JSON.stringify(list().map(({ lastOutputAt: _, ...rest }) => rest));
    if (key === reportedKey || !options.report) return;
    reportedKey = key;
    clearTimeout(reportTimer);
    reportTimer = setTimeout(() => options.report?.(list()), options.reportDelayMs ?? 300);
    reportTimer.unref();
  };

  async function refresh(): Promise<void> {
    if (options.tmux && tmuxReady && (await useTmux())) {
      tmuxSessions = await tmuxOps.readTmuxSessions(options.tmux).catch((error: unknown) => {
        options.log(`Could not list the tmux sessions: ${String(error)}`);
        return tmuxSessions;
      });
      for (const session of tmuxSessions) {
        const { name, startedAt } = session.info;
        // A listing read before the end was handled must not handle it again.
        if (session.exit && exited.get(name)?.startedAt !== startedAt)
          void handleExit(name, session.exit, startedAt);
        for (const pane of session.deadPanes)
          void options.tmux.run(["kill-pane", "-t", pane]).catch(() => {});
      }
      if (tmuxSessions.some((session) => session.unreaped)) {
        await tmuxOps.nudgeTmuxReaper(options.tmux);
        setTimeout(() => void refresh(), 100).unref();
      }
    }
    scheduleReport();
  }

  /** The shell of a tmux session ended: tell its socket, keep the end a while, end the session. */
  function handleExit(name: string, exit: SessionExit, startedAt: string): Promise<void> {
    const tmux = options.tmux;
    if (!tmux) return Promise.resolve();
    const pending = handling.get(name) ?? finishExit(tmux, name, exit, startedAt);
    handling.set(name, pending);
    return pending;
  }

  async function finishExit(
    tmux: Tmux,
    name: string,
    exit: SessionExit,
    startedAt: string,
  ): Promise<void> {
    try {
      const replay = await tmuxOps.captureTmuxEnd(tmux, name).catch(() => Buffer.alloc(0));
      await opening.get(name)?.catch(() => {});
      await new Promise((resolve) => setImmediate(resolve)); // the socket starts its client
      await attachments.get(name)?.finish(exit);
      attachments.delete(name);
      exited.set(name, { exit, replay, startedAt });
      setTimeout(() => {
        if (exited.get(name)?.startedAt === startedAt) exited.delete(name);
      }, retentionMs).unref();
      await tmux.run(["kill-session", "-t", `=${name}`]).catch(() => {});
    } finally {
      handling.delete(name);
      void refresh();
    }
  }

  const find = (name: string) => {
    const session = tmuxSessions.find((entry) => entry.info.name === name && !entry.exit);
    if (session) return { kind: "tmux" as const, session };
    const shell = pty.get(name);
    return shell && !shell.terminal.exit ? { kind: "pty" as const, shell } : null;
  };
  const mustFind = (name: string) => {
    const found = find(name);
    if (!found)
      throw new SessionError(
        404,
        `There is no session named "${name}"; list them with GET /api/sessions or \`caw sessions\`.`,
      );
    return found;
  };
  /** A session by name, or by a name it had before a rename (its older shells still say it). */
  const resolve = (name: string) =>
    find(name)
      ? name
      : (tmuxSessions.find((entry) => entry.aliases.includes(name))?.info.name ?? name);

  const nextName = () => {
    // Ended sessions still in tmux (their end being handled) keep their names too.
    const taken = new Set([
      ...list().map((session) => session.name),
      ...tmuxSessions.map((session) => session.info.name),
      ...exited.keys(),
      ...handling.keys(),
    ]);
    for (let n = 1; ; n += 1) if (!taken.has(`shell-${n}`)) return `shell-${n}`;
  };

  async function create(requested?: string, size: SessionSize = defaultSize): Promise<SessionInfo> {
    return serially(async () => {
      await refresh();
      // A session of that name whose end is being handled is gone once that is done.
      if (requested !== undefined) await handling.get(requested);
      const name = requested === undefined ? nextName() : checkName(requested);
      if (find(name))
        throw new SessionError(
          409,
          `A session named "${name}" already exists; pick another name or open that one.`,
        );
      if (list().length >= maxSessions)
        throw new SessionError(
          409,
          `This workspace has ${maxSessions} sessions, the most it keeps; end one first.`,
        );
      exited.delete(name);
      const choice = options.shells();
      if (await useTmux()) {
        await tmuxOps.createTmuxSession(options.tmux!, {
          name,
          ...size,
          cwd: options.cwd,
          command: choice.launcher,
          shell: options.loginShell,
          environment: { CAW_SESSION: name },
        });
        if (choice.notice) notices.set(name, choice.notice);
        await refresh();
      } else {
        const env = { ...choice.shell.env, ...options.environment, CAW_SESSION: name };
        pty.create({ name, ...size, shell: { ...choice.shell, env }, notice: choice.notice });
        scheduleReport();
      }
      return infoOf(name);
    });
  }

  /** A session's info; one that ended at once (a command that exits) is still found here. */
  function infoOf(name: string): SessionInfo {
    const info =
      list().find((session) => session.name === name) ??
      tmuxSessions.find((session) => session.info.name === name)?.info ??
      pty.get(name)?.info;
    if (info) return info;
    throw new SessionError(404, `There is no session named "${name}".`);
  }

  return {
    /** Starts the tmux server (when tmux is there), finds its sessions, and keeps reading them. */
    async start(): Promise<void> {
      await useTmux();
      await refresh();
      const timer = setInterval(() => void refresh(), options.refreshMs ?? 2_000);
      timer.unref();
      stops.push(() => clearInterval(timer));
    },
    list,
    refresh,
    create,
    async rename(name: string, newName: string): Promise<SessionInfo> {
      return serially(async () => {
        checkName(newName);
        const found = mustFind(name);
        if (name === newName) return infoOf(name);
        if (find(newName))
          throw new SessionError(
            409,
            `A session named "${newName}" already exists; pick another name.`,
          );
        if (found.kind === "tmux")
          await tmuxOps.renameTmuxSession(options.tmux!, found.session, newName);
        else pty.rename(name, newName);
        const attachment = attachments.get(name);
        attachments.delete(name);
        if (attachment) attachments.set(newName, attachment);
        await refresh();
        return infoOf(newName);
      });
    },
    async end(name: string): Promise<void> {
      const found = mustFind(name);
      if (found.kind === "pty") pty.end(name);
      else await options.tmux!.run(["kill-session", "-t", `=${name}`]);
      await refresh();
    },
    async setStatus(
      name: string,
      status: SessionStatus | null,
      message: string | null,
    ): Promise<SessionInfo> {
      const target = resolve(name);
      const found = mustFind(target);
      if (found.kind === "pty") pty.setStatus(target, status, message, now());
      else await tmuxOps.setTmuxStatus(options.tmux!, target, status, message, now());
      await refresh();
      return infoOf(target);
    },
    async sessionOfPane(pane: string): Promise<string | null> {
      if (!options.tmux || !tmuxReady) return null;
      const name = await options.tmux
        .run(["display-message", "-p", "-t", pane, "#{session_name}"])
        .catch(() => "");
      return name || null;
    },
    async sendInput(name: string, text: string, enter: boolean): Promise<void> {
      const found = mustFind(name);
      recordActivity();
      if (found.kind === "pty") found.shell.terminal.write(Buffer.from(enter ? `${text}\r` : text));
      else await tmuxOps.sendTmuxKeys(options.tmux!, name, text, enter);
    },
    async readOutput(name: string, lines: number): Promise<SessionOutput> {
      const found = mustFind(name);
      const count = Math.max(1, Math.min(sessionOutputMaxLines, Math.floor(lines)));
      const raw =
        found.kind === "pty"
          ? plainTextOf(found.shell.terminal.readScrollback())
          : await tmuxOps.captureTmuxText(options.tmux!, name, count);
      const kept = raw
        .replace(/\s+$/, "")
        .split("\n")
        .map((line) => line.trimEnd())
        .slice(-count);
      const text = kept.join("\n");
      return { name, text, lines: text ? kept.length : 0 };
    },
    /** The browser's socket: attaches to `name` (made when missing) or to a new session. */
    async open(name: string | undefined, size: SessionSize): Promise<TerminalAttachment> {
      recordActivity();
      if (name !== undefined) checkName(name);
      if (name !== undefined) await handling.get(name);
      const gone = name === undefined ? undefined : exited.get(name);
      if (gone) return exitedAttachment(name!, size, gone.replay, gone.exit);
      const endedShell = name === undefined ? undefined : pty.get(name);
      if (endedShell?.terminal.exit) return ptyAttachment(name!, endedShell.terminal);
      const target = name !== undefined && find(name) ? name : (await create(name, size)).name;
      const found = find(target);
      if (found?.kind === "pty") return ptyAttachment(target, found.shell.terminal);
      // The shell may end before its first client attaches (a command that ends at once).
      const ended = async (error: unknown) => {
        await handling.get(target);
        const gone = exited.get(target);
        if (gone) return exitedAttachment(target, size, gone.replay, gone.exit);
        const shell = pty.get(target);
        if (shell) return ptyAttachment(target, shell.terminal);
        throw error;
      };
      if (!found) return ended(new SessionError(404, `The session "${target}" ended at once.`));
      const attaching = attachTmux(target, size);
      opening.set(target, attaching);
      return attaching.catch(ended).finally(() => {
        if (opening.get(target) === attaching) opening.delete(target);
      });
    },
    recordActivity,
    readActivity: () => ({ sessions: list().length, lastActivityAt }),
    /** Shows a notice (e.g. the idle warning) in every attached terminal. */
    notifyAll(message: string) {
      for (const attachment of attachments.values()) attachment.notify(message);
      for (const name of pty.names()) pty.get(name)?.terminal.notify(message);
    },
    /**
     * The agent stops: its browser clients end, tmux sessions stay (that is the point), plain
     * PTY shells end with it.
     */
    async close(): Promise<void> {
      for (const stop of stops) stop();
      clearTimeout(reportTimer);
      for (const attachment of attachments.values()) attachment.detach();
      attachments.clear();
      await pty.killAll();
    },
  };

  async function attachTmux(name: string, size: SessionSize): Promise<TerminalAttachment> {
    const tmux = options.tmux!;
    const replay = await tmuxOps.captureTmuxReplay(tmux, name, size.rows);
    const notice = notices.get(name) ?? null;
    notices.delete(name);
    const attachment = tmuxAttachment({
      name,
      ...size,
      client: {
        ...tmux.command(["-u", "attach-session", "-t", `=${name}`]),
        cwd: options.cwd,
        env: { ...options.environment, TERM: "xterm-256color" },
      },
      replay,
      notice,
      onInput: recordActivity,
      exitOf: () => exited.get(name)?.exit ?? null,
    });
    attachments.get(name)?.replace();
    attachments.set(name, attachment);
    const detach = attachment.detach.bind(attachment);
    attachment.detach = () => {
      if (attachments.get(name) === attachment) attachments.delete(name);
      detach();
    };
    return attachment;
  }
}

function checkName(name: string): string {
  const parsed = sessionNameSchema.safeParse(name);
  if (!parsed.success || parsed.data !== name)
    throw new SessionError(
      400,
      `"${name.slice(0, 60)}" is not a session name: ${parsed.error?.issues[0]?.message ?? "no spaces around it"}.`,
    );
  return name;
}
