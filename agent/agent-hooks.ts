export type AgentHooksInput = {
  /** The workspace user's home. */
  home: string;
  uid: number;
  gid: number;
  /** Absolute path of caw (prepareCawCommand's `caw`). */
  cawCommand: string;
};

/**
 * Claude Code hooks in ~/.claude/settings.json (merged into the user's settings, ours replaced,
 * never duplicated) and Codex's notify in ~/.codex/config.toml (only when it has none).
 * Idempotent; the files belong to the user.
 */
export async function installAgentHooks(input: AgentHooksInput): Promise<void> {
  void input;
}
