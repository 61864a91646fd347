/**
 * The shell command (one string: tmux runs it with `sh -c`) for `new-session` and for the
 * `default-command` of new windows: puts the workspace's secrets (`caw env`, fresh from the
 * agent) into the shell's environment, then runs the login shell. Secrets never reach argv.
 */
export function shellLauncher(input: { caw: string; binDir: string }): string {
  void input;
  throw new Error("not implemented yet");
}

/**
 * The same for a shell in the devcontainer: `devcontainer exec … sh -c '<launcher>'`, passing
 * CAW_SESSION and CAW_CONTROL_SOCKET (not secret) with --remote-env. `exec` is the CLI and its
 * arguments up to (not including) the command; `binDir`/`caw` must be mounted in the container.
 */
export function devcontainerShellLauncher(input: {
  exec: readonly string[];
  caw: string;
  binDir: string;
  socketPath: string;
}): string {
  void input;
  throw new Error("not implemented yet");
}
