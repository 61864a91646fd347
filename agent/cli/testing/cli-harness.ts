/* eslint-disable security/detect-non-literal-fs-filename -- test helper: folders it made itself */
import { spawn } from "node:child_process";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { SessionInfo, SessionStatus } from "../../../protocol/agent-sessions.ts";
import { readAgentConfig, type AgentConfig } from "../../config.ts";
import { prepareCawCommand, type CawCommand } from "../caw-command.ts";
import {
  controlSocketPathOf,
  startControlSocket,
  type ControlSocket,
  type SessionRegistry,
} from "../control-socket.ts";

// A control socket with an in-memory session registry, and `caw` made from source (node +
// tsx + agent/main.ts), run as a real child process: what a workspace shell would run.

const agentMain = fileURLToPath(new URL("../../main.ts", import.meta.url));
export const sourceProgram = [process.execPath, "--import", import.meta.resolve("tsx"), agentMain];

export type FakeRegistry = SessionRegistry & { sessions: Map<string, SessionInfo> };

export function createFakeRegistry(names: string[], panes: Record<string, string> = {}) {
  const sessions = new Map<string, SessionInfo>(
    names.map((name) => [
      name,
      {
        name,
        startedAt: "2030-01-01T00:00:00.000Z",
        lastOutputAt: null,
        status: null,
        statusMessage: null,
        statusChangedAt: null,
      },
    ]),
  );
  const registry: FakeRegistry = {
    sessions,
    list: () => [...sessions.values()],
    async setStatus(name: string, status: SessionStatus | null, message: string | null) {
      const session = sessions.get(name);
      if (!session) throw new Error(`There is no session named ${name}.`);
      const next = {
        ...session,
        status,
        statusMessage: message,
        statusChangedAt: new Date().toISOString(),
      };
      sessions.set(name, next);
      return next;
    },
    sessionOfPane: async (pane: string) => panes[pane] ?? null,
  };
  return registry;
}

export type CliHarness = {
  folder: string;
  config: AgentConfig;
  command: CawCommand;
  socket: ControlSocket;
  registry: FakeRegistry;
  secrets: Record<string, string>;
  logs: string[];
  stop(): Promise<void>;
};

export async function startCliHarness(
  options: { group?: number; sessions?: string[]; panes?: Record<string, string> } = {},
): Promise<CliHarness> {
  const folder = await mkdtemp(path.join(os.tmpdir(), "caw-cli-"));
  await chmod(folder, 0o711); // other users pass through, as they do through /
  const config = readAgentConfig({
    CONTROL_PLANE_URL: "http://127.0.0.1:9",
    WORKSPACE_ID: "00000000-0000-4000-8000-000000000012",
    BOOTSTRAP_TOKEN: "cawb_test",
    STATE_DIR: path.join(folder, "state"),
  });
  const registry = createFakeRegistry(options.sessions ?? ["claude"], options.panes);
  const secrets: Record<string, string> = {};
  const logs: string[] = [];
  const socket = await startControlSocket({
    socketPath: controlSocketPathOf(config),
    group: options.group ?? process.getgid!(),
    sessions: registry,
    secrets: async () => ({ ...secrets }),
    log: (message) => void logs.push(message),
  });
  const command = await prepareCawCommand(config, sourceProgram);
  return {
    folder,
    config,
    command,
    socket,
    registry,
    secrets,
    logs,
    async stop() {
      await socket.close();
      await rm(folder, { recursive: true, force: true });
    },
  };
}

export type CliRun = { code: number | null; stdout: string; stderr: string };

/** Runs `file args` with exactly `env` (and stdin `input`), as a shell would. */
export function runProgram(
  file: string,
  args: readonly string[],
  env: Record<string, string>,
  input = "",
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: "/", env: env as NodeJS.ProcessEnv });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}
