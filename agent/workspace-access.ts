import { isSea } from "node:sea";
import type { GitCredential, GitCredentialRequest } from "../protocol/agent-protocol.ts";
import { loginEnvironment, type AgentConfig } from "./config.ts";
import { credentialHelperCommand } from "./git-credential-helper.ts";
import { serveGitCredentials } from "./git-credential-socket.ts";
import { lookupWorkspaceUser, type WorkspaceUser } from "./workspace-user.ts";

// Who the person at the terminal is on this machine, and how their git gets credentials:
// - one-machine mode (no WORKSPACE_USER): the agent's own OS user; git's helper reads the
//   agent's state folder, which is that user's;
// - a VM (WORKSPACE_USER, agent as root): that user, with its login environment; git's helper
//   asks the root agent over its socket (git-credential-socket.ts), and the devcontainer gets
//   the socket and the agent binary mounted so git inside it works the same way.

export type WorkspaceAccess = {
  user: WorkspaceUser | null;
  /** The clean login environment shells, git and the devcontainer CLI run in. */
  environment: Record<string, string>;
  /** git's `credential.helper` value for the workspace's repository. */
  credentialHelper: string;
  /** Paths the devcontainer bind-mounts at the same place, for that helper. */
  mounts: string[];
  close(): Promise<void>;
};

export async function openWorkspaceAccess(input: {
  config: AgentConfig;
  cloneUrl: string;
  ask: (request: GitCredentialRequest) => Promise<GitCredential>;
  log: (message: string) => void;
}): Promise<WorkspaceAccess> {
  const { config, log } = input;
  // The single executable is its own helper; from source it is node with the entry script.
  const program = isSea()
    ? [process.execPath]
    : [process.execPath, ...resolvedImports(process.execArgv), process.argv[1]!];
  if (!config.WORKSPACE_USER) {
    return {
      user: null,
      environment: loginEnvironment(),
      credentialHelper: credentialHelperCommand(program, config.STATE_DIR),
      mounts: [],
      close: async () => {},
    };
  }
  const user = await lookupWorkspaceUser(config.WORKSPACE_USER);
  const socket = await serveGitCredentials({
    runtimeDir: config.AGENT_RUNTIME_DIR,
    gid: user.gid,
    cloneUrl: input.cloneUrl,
    ask: input.ask,
    log,
  }).catch((error: unknown) => {
    log(`No git credentials for ${user.username} (the terminal still works): ${String(error)}`);
    return null;
  });
  log(`Shells, git and the devcontainer run as ${user.username}.`);
  return {
    user,
    environment: loginEnvironment(undefined, user, { loginPath: true }),
    credentialHelper: credentialHelperCommand(program, socket?.socketPath ?? config.STATE_DIR),
    mounts: isSea() ? [process.execPath, config.AGENT_RUNTIME_DIR] : [config.AGENT_RUNTIME_DIR],
    close: async () => socket?.close(),
  };
}

/**
 * `--import tsx` as an absolute URL: git runs the helper in the workspace folder, where a bare
 * specifier does not resolve (the clone would fail for want of a credential).
 */
function resolvedImports(execArgv: readonly string[]): string[] {
  return execArgv.map((argument, index) =>
    execArgv[index - 1] === "--import" && !/^[./]|^file:/.test(argument)
      ? import.meta.resolve(argument)
      : argument,
  );
}
