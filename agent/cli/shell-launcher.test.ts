import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAgentConfig } from "../config.ts";
import { prepareCawCommand, type CawCommand } from "./caw-command.ts";
import { controlSocketPathOf, startControlSocket, type ControlSocket } from "./control-socket.ts";
import { shellLauncher } from "./shell-launcher.ts";

// The launcher in a real tmux server: a new session's shell and a new window's shell get the
// workspace's secrets (fresh each time) in their environment, with caw on PATH after the login
// profile, and the secret is in no process's argv and no file.

const run = promisify(execFile);
const agentMain = fileURLToPath(new URL("../main.ts", import.meta.url));
const program = [process.execPath, "--import", import.meta.resolve("tsx"), agentMain];

let folder: string;
let tmuxSocket: string;
let control: ControlSocket;
let command: CawCommand;
let secrets: () => Promise<Record<string, string>>;
const logs: string[] = [];

const tmux = (...args: string[]) =>
  run("tmux", ["-S", tmuxSocket, "-f", "/dev/null", ...args], {
    env: {
      PATH: "/usr/bin:/bin",
      HOME: path.join(folder, "home"),
      SHELL: "/bin/bash",
      LANG: "C.UTF-8",
    } as object as NodeJS.ProcessEnv,
  }).then((result) => result.stdout.trim());

async function until<T>(probe: () => Promise<T | null>, what: string): Promise<T> {
  for (let attempt = 0; attempt < 300; attempt += 1) {
    const value = await probe().catch(() => null);
    if (value !== null) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Gave up waiting for ${what}`);
}

/** The pane's interactive shell (the launcher execs into it), once it is running. */
const interactiveShellOf = (target: string) =>
  until(async () => {
    const pid = await tmux("display-message", "-p", "-t", target, "#{pane_pid}");
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8");
    return cmdline === "/bin/bash\0-i\0" ? pid : null;
  }, `the interactive shell in ${target}`);

const environmentOf = async (pid: string) =>
  (await readFile(`/proc/${pid}/environ`, "utf8")).split("\0");

async function everyCmdline(): Promise<string> {
  const pids = (await readdir("/proc")).filter((name) => /^\d+$/.test(name));
  const lines = await Promise.all(
    pids.map((pid) => readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")),
  );
  return lines.join("\n");
}

async function everyFile(dir: string): Promise<string> {
  const entries = await readdir(dir, { withFileTypes: true });
  const texts = await Promise.all(
    entries.map(async (entry) => {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) return everyFile(file);
      return entry.isFile() ? readFile(file, "utf8") : "";
    }),
  );
  return texts.join("\n");
}

beforeAll(async () => {
  folder = await mkdtemp(path.join(os.tmpdir(), "caw-launcher-"));
  await chmod(folder, 0o711);
  await mkdir(path.join(folder, "home"));
  tmuxSocket = path.join(folder, "tmux.sock");
  const config = readAgentConfig({
    CONTROL_PLANE_URL: "http://127.0.0.1:9",
    WORKSPACE_ID: "00000000-0000-4000-8000-000000000002",
    BOOTSTRAP_TOKEN: "x",
    STATE_DIR: path.join(folder, "state"),
  });
  command = await prepareCawCommand(config, { program });
  control = await startControlSocket({
    socketPath: controlSocketPathOf(config),
    group: process.getgid!(),
    sessions: { list: () => [], setStatus: () => Promise.reject(new Error("unused")) },
    secrets: () => secrets(),
    log: (message) => logs.push(message),
  });
  const launcher = shellLauncher({ caw: command.caw, binDir: command.binDir });
  await tmux(
    ...["new-session", "-d", "-s", "main", "-x", "120", "-y", "30"],
    ...["-e", `CAW_CONTROL_SOCKET=${control.socketPath}`, "-e", "CAW_SESSION=main"],
    ...[";", "set-option", "-g", "default-command", launcher],
    ...[";", "set-option", "-g", "remain-on-exit", "on"],
    ";",
    "respawn-pane",
    "-k",
    "-t",
    "main",
    launcher,
  );
});

afterAll(async () => {
  await tmux("kill-server").catch(() => {});
  await control?.close();
  await rm(folder, { recursive: true, force: true });
});

describe("the shell launcher", () => {
  it("puts the secret in the shell's environment, never in a cmdline or a file", async () => {
    const value = `sk-${randomBytes(16).toString("hex")}`;
    secrets = async () => ({ ANTHROPIC_API_KEY: value });
    await tmux("respawn-pane", "-k", "-t", "main");
    const pid = await interactiveShellOf("main");
    expect(await environmentOf(pid)).toContain(`ANTHROPIC_API_KEY=${value}`);
    expect(await everyCmdline()).not.toContain(value);
    expect(await everyFile(folder)).not.toContain(value);
    expect(logs.join("\n")).not.toContain(value);
  });

  it("keeps caw on PATH after the login profile reset it", async () => {
    const out = path.join(folder, "which.txt");
    await interactiveShellOf("main");
    await tmux("send-keys", "-t", "main", `command -v caw > ${out}`, "Enter");
    const found = await until(
      async () => (await readFile(out, "utf8")).trim() || null,
      "command -v caw",
    );
    expect(found).toBe(command.caw);
  });

  it("gives a new window the secret as it is now, without restarting anything", async () => {
    const value = `changed-${randomBytes(8).toString("hex")}`;
    secrets = async () => ({ ANTHROPIC_API_KEY: value });
    await tmux("new-window", "-t", "main", "-n", "second");
    const pid = await interactiveShellOf("main:second");
    expect(await environmentOf(pid)).toContain(`ANTHROPIC_API_KEY=${value}`);
  });

  it("starts the shell with a one-line warning when the secrets cannot be fetched", async () => {
    secrets = async () => {
      throw new Error("The control plane answered 503.");
    };
    await tmux("new-window", "-t", "main", "-n", "third");
    const pid = await interactiveShellOf("main:third");
    expect((await environmentOf(pid)).some((entry) => entry.startsWith("ANTHROPIC_API_KEY="))).toBe(
      false,
    );
    const screen = await until(async () => {
      const text = await tmux("capture-pane", "-p", "-t", "main:third");
      return text.includes("no workspace secrets") ? text : null;
    }, "the warning");
    expect(screen).toContain("The control plane answered 503.");
  });
});
