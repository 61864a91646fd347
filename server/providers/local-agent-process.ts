import { execFile, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { open, readFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { agentEnvironment } from "../env.ts";
import type { WorkspaceAccount } from "./local-accounts.ts";
import type { LocalUserData } from "./local-agent.ts";

const run = promisify(execFile);

// Starting and stopping a local workspace's agent: the process a VM's systemd would run, under
// a small supervisor that restarts it as systemd's Restart=always would (docs/adr/0014), so a
// crashed or killed agent comes back to the sessions it left in tmux.

/**
 * sh, so nothing but the OS is needed: runs the agent ($1), restarts it 2 s after it ends,
 * and on SIGTERM passes the signal on, waits for the agent and ends without a restart.
 */
export const supervisorScript = [
  'trap \'stopping=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null\' TERM INT HUP',
  "stopping=",
  'while [ -z "$stopping" ]; do',
  '  "$1" & child=$!',
  '  wait "$child"; code=$?',
  // A trapped signal interrupts wait; wait on until the agent has really ended.
  '  while kill -0 "$child" 2>/dev/null; do wait "$child"; done',
  '  [ -n "$stopping" ] && break',
  `  printf '{"message":"The agent ended (%s); the supervisor restarts it in 2 s."}\\n' "$code"`,
  "  sleep 2",
  "done",
].join("\n");

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

/**
 * Starts the agent's supervisor detached (its own process group), their output appended to
 * `logFile`; answers the supervisor's pid.
 */
export async function startAgentProcess(input: AgentProcessInput): Promise<number> {
  const { account, userData } = input;
  const log = await open(input.logFile, "a", 0o600);
  const child = spawn("/bin/sh", ["-c", supervisorScript, supervisorName, input.binary], {
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
    detached: true,
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

const supervisorName = "caw-agent-supervisor";

/**
 * Whether `pid` is still an agent's supervisor. After a reboot (ADR 0024) a recorded pid may
 * belong to any process; where /proc tells, only our supervisor counts, so no stranger is
 * signalled.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(supervisorName);
  } catch {
    return true; // no /proc (macOS): the signal test is all there is
  }
}

/**
 * SIGTERM, then SIGKILL to its whole process group (the supervisor and its agent) if it is
 * still there after a few seconds.
 */
export async function stopProcess(pid: number): Promise<void> {
  if (!isAlive(pid)) return;
  process.kill(pid, "SIGTERM");
  for (let waited = 0; waited < 8000 && isAlive(pid); waited += 50)
    await new Promise((resolve) => setTimeout(resolve, 50));
  if (!isAlive(pid)) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    process.kill(pid, "SIGKILL"); // not a group leader (started by an older version)
  }
}

/**
 * Ends the workspace's tmux server, whose sessions outlive the agent by design: the agent
 * names its socket in `<state dir>/tmux-socket`. Run as the workspace's account when there is
 * one; without isolation every workspace shares this user, so the socket alone tells them apart.
 */
export async function stopSessionServer(
  stateDir: string,
  account: { uid: number; gid: number } | null,
): Promise<void> {
  const socket = await readFile(path.join(stateDir, "tmux-socket"), "utf8").then(
    (text) => text.trim(),
    () => "",
  );
  if (!socket) return;
  await run("tmux", ["-S", socket, "kill-server"], {
    timeout: 10_000,
    ...(account ? { uid: account.uid, gid: account.gid } : {}),
  }).catch(() => {}); // no server (any more), or no tmux
}
