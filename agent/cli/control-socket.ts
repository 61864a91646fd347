import type { SessionInfo, SessionStatus } from "../../protocol/agent-sessions.ts";
import type { AgentConfig } from "../config.ts";

// The agent's end of the `caw` CLI (SPEC §14): a Unix socket that only root and the workspace
// user's group can reach, where `caw status` sets a session's AI-agent status, `caw sessions`
// lists them and `caw env` fetches the workspace's secrets for a new shell.

/** What the control socket needs of helper A's session manager. */
export type SessionRegistry = {
  list(): SessionInfo[];
  /** Sets (or with null clears) a session's status; rejects with a message when it is unknown. */
  setStatus(
    name: string,
    status: SessionStatus | null,
    message: string | null,
  ): Promise<SessionInfo>;
  /** The session a tmux pane (`%3`, from $TMUX_PANE) belongs to; null when none. Optional. */
  sessionOfPane?(pane: string): Promise<string | null>;
};

export type ControlSocketOptions = {
  socketPath: string;
  /** The workspace user's group: the only one besides root (and the agent's user) that may connect. */
  group: number;
  sessions: SessionRegistry;
  /** The workspace's secrets, fetched fresh each time (helper A passes `client.secrets`). */
  secrets: () => Promise<Record<string, string>>;
  log: (message: string) => void;
};

export type ControlSocket = { socketPath: string; close(): Promise<void> };

/**
 * Where the control socket lives: `$AGENT_RUNTIME_DIR/control.sock` on a VM (WORKSPACE_USER),
 * else `$STATE_DIR/run/control.sock`; a path too long for a Unix socket (108 bytes) moves to
 * `/tmp/caw-<uid>/<hash of the state folder>.sock`.
 */
export function controlSocketPathOf(config: AgentConfig): string {
  void config;
  throw new Error("not implemented yet");
}

/** Listens on `socketPath` (mode 0660, group `group`) until closed. */
export async function startControlSocket(options: ControlSocketOptions): Promise<ControlSocket> {
  void options;
  throw new Error("not implemented yet");
}
