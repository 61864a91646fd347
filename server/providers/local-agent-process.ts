import { spawn } from "node:child_process";
import { open } from "node:fs/promises";
import { agentEnvironment } from "../env.ts";
import type { WorkspaceAccount } from "./local-accounts.ts";
import type { LocalUserData } from "./local-agent.ts";

// Starting and stopping a local workspace's agent: the process a VM's systemd would run.

export type AgentProcessInput = {
  binary: string;
  userData: LocalUserData;
  port: number;
  workspaceFolder: string;
  stateDir: string;
  logFile: string;
  /** The workspace's own OS user; null runs it as this process's user. */
  account: WorkspaceAccount | null;
  idleTimeoutSeconds?: number;
};

/** Starts the agent detached, its output appended to `logFile`; answers its pid. */
export async function startAgentProcess(input: AgentProcessInput): Promise<number> {
  const { account, userData } = input;
  const log = await open(input.logFile, "a", 0o600);
  const child = spawn(input.binary, [], {
    env: agentEnvironment({
      CONTROL_PLANE_URL: userData.controlPlaneUrl,
      WORKSPACE_ID: userData.workspaceId,
      BOOTSTRAP_TOKEN: userData.bootstrapToken,
      AGENT_HOST: "127.0.0.1",
      AGENT_PORT: String(input.port),
      WORKSPACE_DIR: input.workspaceFolder,
      STATE_DIR: input.stateDir,
      ...(account ? accountEnvironment(account) : {}),
      ...(input.idleTimeoutSeconds
        ? { AGENT_IDLE_TIMEOUT_SECONDS: String(input.idleTimeoutSeconds) }
        : {}),
    }),
    cwd: input.workspaceFolder,
    stdio: ["ignore", log.fd, log.fd],
    // libuv drops root's supplementary groups along with the uid change.
    ...(account ? { uid: account.uid, gid: account.gid } : {}),
  });
  await log.close();
  child.once("error", () => {}); // reported below through the missing pid
  if (child.pid === undefined) throw new Error(`Could not start the agent ${input.binary}.`);
  child.unref();
  return child.pid;
}

/** What a login shell of the account expects: its own HOME, USER and shell. */
function accountEnvironment(account: WorkspaceAccount): Record<string, string> {
  return { HOME: account.home, USER: account.name, LOGNAME: account.name, SHELL: "/bin/bash" };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL if the process is still there after a few seconds. */
export async function stopProcess(pid: number): Promise<void> {
  if (!isAlive(pid)) return;
  process.kill(pid, "SIGTERM");
  for (let waited = 0; waited < 5000 && isAlive(pid); waited += 50)
    await new Promise((resolve) => setTimeout(resolve, 50));
  if (isAlive(pid)) process.kill(pid, "SIGKILL");
}
