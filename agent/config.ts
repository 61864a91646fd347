import { userInfo } from "node:os";
import { z } from "zod";

// The agent's settings, read once from its environment (on a VM: the env file cloud-init
// writes, loaded by systemd; in the one-machine mode: set by the local provider). This is
// the only place in agent/ that reads process.env.

const configSchema = z.object({
  CONTROL_PLANE_URL: z.url({ protocol: /^https?$/, error: "expected the control plane's URL" }),
  WORKSPACE_ID: z.uuid({ error: "expected the workspace id" }),
  BOOTSTRAP_TOKEN: z.string().min(1, { error: "expected the one-time bootstrap token" }),
  AGENT_HOST: z.string().min(1).default("0.0.0.0"),
  AGENT_PORT: z
    .string()
    .regex(/^\d+$/, { error: "expected a port number" })
    .transform(Number)
    .default(80),
  /**
   * `off`: plain HTTP (the one-machine mode, on loopback). `origin-ca`: HTTPS with a Cloudflare
   * Origin CA certificate the control plane gets for this workspace's host name (a VM behind
   * Cloudflare's proxy in Full (strict) mode; docs/adr/0010-tls-to-the-agent.md).
   */
  AGENT_TLS: z.enum(["off", "origin-ca"], { error: "expected off or origin-ca" }).default("off"),
  /** How often the agent checks whether its certificate is due for renewal (1 h); for tests. */
  AGENT_TLS_CHECK_SECONDS: z
    .string()
    .regex(/^[1-9]\d*$/, { error: "expected whole seconds, at least 1" })
    .transform(Number)
    .default(3600),
  WORKSPACE_DIR: z.string().min(1).default("/workspace"),
  /** Where the agent keeps its token and cookie secret (mode 0700). */
  STATE_DIR: z.string().min(1).default("/var/lib/cloud-ai-workspaces-agent"),
  /**
   * On a VM: the unprivileged OS user (`workspace`) that shells, git and the devcontainer CLI
   * run as while the agent stays root. Unset in the one-machine mode, where the agent itself
   * already runs as the workspace's own OS user.
   */
  WORKSPACE_USER: z
    .string()
    .regex(/^[a-z_][a-z0-9_-]{0,31}$/, { error: "expected an OS user name such as workspace" })
    .optional(),
  /** With WORKSPACE_USER: where the git credential socket lives (root and that user only). */
  AGENT_RUNTIME_DIR: z.string().min(1).default("/run/cloud-ai-workspaces-agent"),
  /** Overrides the workspace's idle timeout; for tests and demos only. */
  AGENT_IDLE_TIMEOUT_SECONDS: z
    .string()
    .regex(/^\d+$/, { error: "expected whole seconds" })
    .transform(Number)
    .optional(),
  /** Overrides the heartbeat interval (60 s); for tests only. */
  AGENT_HEARTBEAT_SECONDS: z
    .string()
    .regex(/^[1-9]\d*$/, { error: "expected whole seconds, at least 1" })
    .transform(Number)
    .optional(),
});

export type AgentConfig = z.output<typeof configSchema>;

export function readAgentConfig(
  source: Record<string, string | undefined> = process.env,
): AgentConfig {
  const result = configSchema.safeParse(source);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
  throw new Error(`Invalid agent settings:\n  - ${problems.join("\n  - ")}`);
}

// What a login shell inherits from the agent's environment: the path, the locale, and how this
// machine reaches the network (a proxy, a private CA for GitHub Enterprise), without which git
// would fail here. Everything else (the agent's settings, the env file's AGENT_SHA256 and
// VOLUME_ID, whatever systemd or the local provider set) stays out.
const inheritedNames = [
  "PATH",
  "LANG",
  "LC_ALL",
  "TZ",
  ...["HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"].flatMap((name) => [name, name.toLowerCase()]),
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
  "GIT_SSL_CAINFO",
];
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * The environment for shells and git: a clean login environment of the OS user the agent runs
 * as (HOME, USER, LOGNAME and SHELL from its account, as login(1) sets them), so tools that keep
 * state in ~ (git config --global, AI agent CLIs) work. For another account (WORKSPACE_USER,
 * while the agent is root) `loginPath` gives it the standard login PATH, not root's.
 */
export function loginEnvironment(
  source: Record<string, string | undefined> = process.env,
  account: { username: string; homedir: string; shell: string | null } = userInfo(),
  options: { loginPath?: boolean } = {},
): Record<string, string> {
  const inherited = inheritedNames.flatMap((name) => {
    const value = source[name];
    return value && !(options.loginPath && name === "PATH") ? [[name, value] as const] : [];
  });
  return {
    PATH: defaultPath,
    LANG: "C.UTF-8",
    ...Object.fromEntries(inherited),
    HOME: account.homedir,
    USER: account.username,
    LOGNAME: account.username,
    SHELL: account.shell || "/bin/bash",
  };
}

/** Where `caw` finds the agent on a VM when its shell did not say (CAW_CONTROL_SOCKET). */
export const defaultControlSocket = "/run/cloud-ai-workspaces-agent/control.sock";

export type CliEnvironment = {
  /** The agent's control socket: CAW_CONTROL_SOCKET, else the VM's. */
  socketPath: string;
  /** The session this shell runs in (CAW_SESSION), if the shell says. */
  session: string | null;
  /** tmux's pane id ($TMUX_PANE), for finding the session when CAW_SESSION is not set. */
  pane: string | null;
  /** HOME, where `caw install-hooks` puts the hooks. */
  home: string;
};

/** What the `caw` CLI reads from the shell it runs in (none of it is secret). */
export function readCliEnvironment(
  source: Record<string, string | undefined> = process.env,
): CliEnvironment {
  return {
    socketPath: source.CAW_CONTROL_SOCKET || defaultControlSocket,
    session: source.CAW_SESSION || null,
    pane: source.TMUX_PANE || null,
    home: source.HOME || "",
  };
}
