// `caw`: the workspace's own CLI (SPEC §14), the agent binary run as `caw …` (a symlink or the
// sh wrapper prepareCawCommand makes) or with a CLI command as its first argument.

export const cliCommands = ["status", "sessions", "env", "codex-notify", "help"] as const;

/** Whether this process was started as the CLI rather than as the agent. */
export function isCliInvocation(
  argv: readonly string[] = process.argv,
  argv0 = process.argv0,
): boolean {
  void argv;
  void argv0;
  return false;
}

/** Runs one CLI command; answers the exit code. `argv` is the arguments after `caw`. */
export async function runCli(argv: readonly string[]): Promise<number> {
  void argv;
  return 1;
}
