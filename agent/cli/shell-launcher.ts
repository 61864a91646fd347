import { quoteForShell } from "./cli-output.ts";

// How a new shell gets the workspace's secrets (SPEC §14). tmux runs this string with `sh -c`
// for a new session and, as `default-command`, for every new window. It asks `caw env` (the
// agent, over the control socket, which asks the control plane fresh each time, so a changed
// secret reaches the next shell) and evals its exports, then replaces itself with the login
// shell. The values travel through a pipe into the shell's memory and environment: never
// argv (/proc/<pid>/cmdline is world-readable), never a file; /proc/<pid>/environ is readable
// only by the same user and root. If `caw env` fails, it has printed one line saying why and
// the shell starts anyway.
//
// The login shell runs the profile (`-l -c`), whose /etc/profile resets PATH, and then the
// interactive shell with binDir back in front: caw stays on PATH, the profile still applies.

const loginShell = '"${SHELL:-/bin/sh}"';

/** The inner part: after the profile, caw's folder first on PATH, then the interactive shell. */
function interactiveShell(binDir: string): string {
  return `PATH=${quoteForShell(binDir)}:"$PATH"; export PATH; exec ${loginShell} -i`;
}

/** `caw env` evaluated in this shell; its values never printed, a failure printed once. */
function secretsInto(caw: string): string {
  return `__caw_env="$(${quoteForShell(caw)} env)" && eval "$__caw_env"; unset __caw_env`;
}

/**
 * The shell command (one string: tmux runs it with `sh -c`) for `new-session` and for the
 * `default-command` of new windows: puts the workspace's secrets (`caw env`, fresh from the
 * agent) into the shell's environment, then runs the login shell. Secrets never reach argv.
 */
export function shellLauncher(input: { caw: string; binDir: string }): string {
  return `${secretsInto(input.caw)}; exec ${loginShell} -l -c ${quoteForShell(interactiveShell(input.binDir))}`;
}

/**
 * The same for a shell in the devcontainer: `devcontainer exec … sh -c '<launcher>'`, passing
 * CAW_SESSION and CAW_CONTROL_SOCKET (not secret) with --remote-env. `exec` is the CLI and its
 * arguments up to (not including) the command; `binDir`/`caw` must be mounted in the container.
 * Best effort: `caw` runs inside the container, so the container needs glibc (the agent is
 * Node's official Linux build) and its user must be able to reach the socket.
 */
export function devcontainerShellLauncher(input: {
  exec: readonly string[];
  caw: string;
  binDir: string;
  socketPath: string;
}): string {
  const inner = `${secretsInto(input.caw)}; exec ${loginShell} -l -c ${quoteForShell(interactiveShell(input.binDir))}`;
  const remoteEnv = [
    `--remote-env "CAW_SESSION=$CAW_SESSION"`,
    `--remote-env ${quoteForShell(`CAW_CONTROL_SOCKET=${input.socketPath}`)}`,
  ].join(" ");
  return `exec ${input.exec.map(quoteForShell).join(" ")} ${remoteEnv} /bin/sh -c ${quoteForShell(inner)}`;
}
