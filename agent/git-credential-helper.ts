import { createControlPlaneClient } from "./control-plane-client.ts";
import { readAgentState } from "./agent-state.ts";

// git's credential helper protocol (git-credential(1)): git runs
// `<agent> git-credential <state dir> get`, writes what it knows on stdin, and reads
// `key=value` lines back. The password is the workspace owner's GitHub token, asked from
// the control plane each time, so it is never stored on the VM.

/**
 * The `credential.helper` value that runs this agent as the helper. `program` is how to run
 * the agent: its own path when it is the single executable, node + its script otherwise.
 */
export function credentialHelperCommand(program: readonly string[], stateDir: string): string {
  return `!${[...program, "git-credential", stateDir].map(quoteForShell).join(" ")}`;
}

export async function runGitCredentialHelper(stateDir: string, action: string): Promise<void> {
  // store and erase: we keep nothing, so there is nothing to do.
  if (action !== "get") return;
  const state = await readAgentState(stateDir);
  if (!state) throw new Error("The agent has not bootstrapped yet; no git credentials.");
  const client = createControlPlaneClient(state.controlPlaneUrl, { attempts: 3 });
  client.useAgentToken(state.bootstrap.agentToken);
  const credential = await client.gitCredential();
  process.stdout.write(
    `protocol=${credential.protocol}\nhost=${credential.host}\nusername=${credential.username}\npassword=${credential.password}\n`,
  );
}

const quoteForShell = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;
