import { quoteForShell } from "./cli-output.ts";

// How a new shell gets the workspace's secrets (SPEC §14). tmux runs this as the command of a
// new session and as `default-command` of new windows: `caw env` asks the agent over the
// control socket (the agent asks the control plane, fresh every time, so a changed secret
// reaches the next new shell), prints `export NAME='value'` lines into a pipe, and the shell
// evaluates them; then the login shell replaces it, keeping that environment. The values are
// never in an argv (/proc/<pid>/cmdline is world-readable), a file or tmux's own environment;
// /proc/<pid>/environ is readable only by the shell's own user and root. When `caw env`
// fails it prints a one-line warning and the shell starts without the secrets.

export type ShellLauncherInput = {
  /** caw as the shell sees it: prepareCawCommand's `caw`. */
  caw: string;
  /** prepareCawCommand's `loginScript`: the login shell's startup files, then caw on PATH. */
  loginScript: string;
};

/** The shell command (one string: tmux runs it with `sh -c`) for new sessions and windows. */
export function shellLauncher(input: ShellLauncherInput): string {
  return (
    `eval "$(${quoteForShell(input.caw)} env)"; ` +
    `exec /bin/bash --rcfile ${quoteForShell(input.loginScript)} -i`
  );
}

/**
 * The same for a shell in the devcontainer, where the host's environment does not reach:
 * `devcontainer exec … --remote-env CAW_SESSION=… /bin/sh -c '<launcher>'`, with `caw env`
 * run inside the container. `exec` is the CLI and its options up to (not including) the
 * command; caw, its login script and the socket must be mounted at the same paths (on a VM
 * AGENT_RUNTIME_DIR and the agent binary are). CAW_SESSION is expanded when the outer shell
 * runs, from the tmux session's environment; none of it is secret.
 */
export function devcontainerShellLauncher(
  input: ShellLauncherInput & { exec: readonly string[]; socketPath: string },
): string {
  const remoteEnv = [
    "--remote-env",
    '"CAW_SESSION=$CAW_SESSION"',
    "--remote-env",
    quoteForShell(`CAW_CONTROL_SOCKET=${input.socketPath}`),
  ];
  const inner = quoteForShell(shellLauncher(input));
  return `exec ${[...input.exec.map(quoteForShell), ...remoteEnv].join(" ")} /bin/sh -c ${inner}`;
}
