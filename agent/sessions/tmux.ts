/* eslint-disable security/detect-non-literal-fs-filename -- the paths come from the agent's own settings (STATE_DIR, AGENT_RUNTIME_DIR), never from a request */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { chown, lstat, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { fileExists } from "../file-exists.ts";
import { commandAs, type WorkspaceUser } from "../workspace-user.ts";

const run = promisify(execFile);

// One tmux server per workspace (docs/adr/0014): its own socket and configuration file, run as
// the workspace user, so the sessions in it outlive the agent. On a VM the agent is root and
// every tmux command runs as the user through setpriv, like the shells; and the server starts
// in a systemd scope of its own, so restarting the agent's unit (which kills the unit's whole
// cgroup) leaves it alone.

export type Tmux = {
  readonly socketPath: string;
  /** `tmux -S <socket> <args>` as the workspace user; its trimmed stdout. */
  run(args: readonly string[]): Promise<string>;
  /** The argv of `tmux -S <socket> <args>` as the workspace user, for a PTY. */
  command(args: readonly string[]): { file: string; args: string[] };
  /** Starts the server when none is running (in its own scope when systemd is there). */
  ensureServer(): Promise<void>;
  /** Calls `onChange` whenever a hook signals (a pane died, a session came or went). */
  watch(onChange: () => void): { stop(): void };
};

export type TmuxOptions = {
  socketPath: string;
  configFile: string;
  user: WorkspaceUser | null;
  /** The tmux server's (and so every session's) environment: the login one, PATH with caw. */
  environment: Record<string, string>;
  /** The workspace id, for the systemd scope's name. */
  workspaceId: string;
  log: (message: string) => void;
};

/** The channel the configuration's hooks signal with `wait-for -S`. */
export const changeChannel = "caw-changed";

/** sun_path holds 108 bytes with its NUL; keep a margin. */
const maxSocketPathBytes = 100;

/**
 * Where the server's socket lives: `$AGENT_RUNTIME_DIR/tmux/tmux.sock` on a VM (a folder of
 * the workspace user's own under the runtime folder it may pass), else `$STATE_DIR/tmux/tmux.sock`
 * (one per workspace even when every workspace runs as the same OS user). A path too long for a
 * socket moves to `/tmp/caw-tmux-<uid>/<hash of the state folder>.sock`.
 */
export function tmuxSocketPathOf(
  config: { STATE_DIR: string; AGENT_RUNTIME_DIR: string; WORKSPACE_USER?: string },
  uid = process.getuid?.() ?? 0,
): string {
  const base = config.WORKSPACE_USER ? config.AGENT_RUNTIME_DIR : config.STATE_DIR;
  const preferred = path.join(base, "tmux", "tmux.sock");
  if (Buffer.byteLength(preferred) <= maxSocketPathBytes) return preferred;
  const hash = createHash("sha256").update(path.resolve(config.STATE_DIR)).digest("hex");
  return path.join("/tmp", `caw-tmux-${uid}`, `${hash.slice(0, 16)}.sock`);
}

/** Whether tmux is installed (on a VM the toolchain brings it after the agent starts). */
export async function isTmuxInstalled(environment: Record<string, string>): Promise<boolean> {
  return run("tmux", ["-V"], { env: environment as NodeJS.ProcessEnv, timeout: 10_000 }).then(
    () => true,
    () => false,
  );
}

export function createTmux(options: TmuxOptions): Tmux {
  const base = ["-S", options.socketPath, "-f", options.configFile];
  const command = (args: readonly string[]) => commandAs(options.user, "tmux", [...base, ...args]);
  const runTmux = async (args: readonly string[]) => {
    const { file, args: argv } = command(args);
    const { stdout } = await run(file, argv, {
      env: options.environment as NodeJS.ProcessEnv,
      timeout: 30_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout.replace(/\n+$/, "");
  };
  return {
    socketPath: options.socketPath,
    run: runTmux,
    command,
    async ensureServer() {
      const running = await runTmux(["list-sessions", "-F", "x"]).then(
        () => true,
        () => false,
      );
      // The configuration can be newer than the running server (an upgraded agent).
      if (running) return void (await runTmux(["source-file", options.configFile]));
      await prepareSocketFolder(path.dirname(options.socketPath), options.user);
      const start = command(["start-server"]);
      const scoped = await inOwnScope(start, options.workspaceId);
      await run(scoped.file, scoped.args, {
        env: options.environment as NodeJS.ProcessEnv,
        timeout: 30_000,
      });
      options.log(`Started the sessions' tmux server on ${options.socketPath}.`);
    },
    watch: (onChange) => watchChanges(command, options.environment, onChange),
  };
}

/**
 * systemd restarts the agent's unit by killing its cgroup; a transient scope of its own keeps
 * the tmux server out of it. Only as root with systemd running (a VM); elsewhere (the
 * one-machine mode) nothing kills the agent's descendants with it, and tmux's daemon has left
 * the agent's session and process group anyway.
 */
async function inOwnScope(
  start: { file: string; args: string[] },
  workspaceId: string,
): Promise<{ file: string; args: string[] }> {
  if (process.getuid?.() !== 0 || !(await fileExists("/run/systemd/system"))) return start;
  const unit = `cloud-ai-workspaces-tmux-${workspaceId.slice(0, 8)}-${Date.now().toString(36)}`;
  const scope = ["--scope", "--quiet", "--collect", `--unit=${unit}`, "--"];
  return { file: "systemd-run", args: [...scope, start.file, ...start.args] };
}

/** The socket's folder: the workspace user's own, mode 0700; refuses a link. */
async function prepareSocketFolder(folder: string, user: WorkspaceUser | null): Promise<void> {
  await mkdir(folder, { recursive: true, mode: 0o700 });
  const info = await lstat(folder);
  if (!info.isDirectory())
    throw new Error(`${folder} is not a folder; remove it so the agent can make it.`);
  if (user && info.uid !== user.uid) await chown(folder, user.uid, user.gid);
}

/**
 * One `tmux wait-for caw-changed` client at a time: the configuration's hooks signal it when a
 * pane dies or a session comes or goes (a signal nobody waits for is kept by tmux for the next
 * waiter, so none is lost), and a new waiter starts after each.
 */
function watchChanges(
  command: Tmux["command"],
  environment: Record<string, string>,
  onChange: () => void,
): { stop(): void } {
  let stopped = false;
  let child: ChildProcess | null = null;
  let failures = 0;
  const wait = () => {
    if (stopped) return;
    const { file, args } = command(["wait-for", changeChannel]);
    const current: ChildProcess = spawn(file, args, {
      env: environment as NodeJS.ProcessEnv,
      stdio: "ignore",
    });
    child = current;
    current.once("error", () => {});
    current.once("exit", (code: number | null) => {
      if (stopped) return;
      failures = code === 0 ? 0 : failures + 1;
      onChange();
      // A server that is gone answers at once: wait a little longer each time.
      setTimeout(wait, failures === 0 ? 0 : Math.min(5_000, 100 * 2 ** failures)).unref();
    });
  };
  wait();
  return {
    stop() {
      stopped = true;
      child?.kill();
    },
  };
}

export type TmuxConfigInput = { historyLimit: number };

/**
 * The server's configuration: the browser sees only the shell (no status line, no prefix key,
 * no alternate screen, so output scrolls into xterm.js's own scrollback), exited panes stay
 * until the agent has read their exit status, and hooks tell the agent when anything changes.
 * The shell and the command new windows run are set with `set-option` as arguments, never
 * quoted into this file.
 */
export function renderTmuxConfig(input: TmuxConfigInput): string {
  const signal = `'wait-for -S ${changeChannel}'`;
  return [
    "# Written by the Cloud AI Workspaces agent on every start; changes here are overwritten.",
    "set -g exit-empty off",
    "set -g status off",
    "set -g prefix None",
    "unbind-key C-b",
    "set -g escape-time 0",
    `set -g history-limit ${input.historyLimit}`,
    'set -g default-terminal "screen-256color"',
    "set -ga terminal-overrides ',*:smcup@:rmcup@'",
    "set -ga terminal-features ',xterm-256color:RGB'",
    "set -g set-titles on",
    'set -g set-titles-string "#{pane_title}"',
    "set -g remain-on-exit on",
    'set -g remain-on-exit-format ""',
    ...["pane-died", "session-created", "session-closed", "session-renamed"].map(
      (hook) => `set-hook -g ${hook} ${signal}`,
    ),
    "",
  ].join("\n");
}

/** Writes the configuration (readable by the workspace user, who runs tmux). */
export async function writeTmuxConfig(
  file: string,
  input: TmuxConfigInput,
  user: WorkspaceUser | null,
): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, renderTmuxConfig(input), { mode: 0o644 });
  if (user) await chown(file, 0, user.gid);
}
