import { execFile } from "node:child_process";
import { constants } from "node:fs";
import { access } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import type { ShellCommand } from "./terminal/terminal-session.ts";
import { devcontainerShellLauncher, shellLauncher } from "./cli/shell-launcher.ts";
import { quoteForShell } from "./cli/cli-output.ts";
import { fileExists } from "./file-exists.ts";
import { redactSecrets } from "./redact-secrets.ts";
import { commandAs, type WorkspaceUser } from "./workspace-user.ts";

const run = promisify(execFile);

// SPEC §9: a repository with a devcontainer gets its terminals inside that container;
// otherwise a login shell in the workspace. On a VM the devcontainer CLI arrives with the
// toolchain, which installs in the background after the agent serves the terminal, and
// `devcontainer up` can take minutes (an image to pull or build). Neither may hold up the
// terminal: until the container is up, new terminals open on the server, with a notice.

export type ShellChoice = {
  /** What a plain PTY session runs (the fallback without tmux). */
  shell: ShellCommand;
  /** What a tmux session runs (as the workspace user already): one `sh -c` command string. */
  launcher: string;
  /** Shown once in the terminal when the shell is not where it will be later. */
  notice: string | null;
  devcontainer: boolean;
};

export type WorkspaceShellsInput = {
  workspaceDir: string;
  /** The login environment (config.ts loginEnvironment) of the user the shells run as. */
  environment: Record<string, string>;
  /** WORKSPACE_USER: shells and the devcontainer CLI run as this user; null: as the agent. */
  user: WorkspaceUser | null;
  /** On a VM the toolchain installs the CLI later: keep looking for it instead of giving up. */
  waitForToolchain: boolean;
  /** Paths bind-mounted at the same place into the container (the git credential helper). */
  mounts?: string[];
  /**
   * `caw` (prepareCawCommand) and the control socket: shells start through the shell launcher,
   * which puts the workspace's secrets in their environment and caw on PATH. Without it (tests)
   * they are plain login shells.
   */
  caw?: { caw: string; binDir: string; socketPath: string };
  log: (message: string) => void;
  /** Boot progress for the step "devcontainer" (optional: a failure is only recorded). */
  report?: (status: "started" | "done" | "failed", message: string, logTail?: string) => void;
  /** How often to look for the CLI while waiting (default 5 s). */
  pollMs?: number;
  /** Pauses before each retry of a failed `devcontainer up` (default 15 s, 60 s). */
  retryDelaysMs?: number[];
};

export type WorkspaceShells = {
  /** What a new terminal runs now. */
  current(): ShellChoice;
  /** Waits for the CLI and starts the devcontainer; resolves once settled, never rejects. */
  start(): Promise<void>;
  /** Stops waiting (the agent is shutting down). */
  stop(): void;
};

const onServer = "This terminal runs on the server, not in the devcontainer:";
export const shellNotices = {
  waiting: `${onServer} it starts once the workspace toolchain is installed. Open a new terminal then.`,
  starting: `${onServer} it is starting. Open a new terminal in a minute.`,
  failed: `${onServer} it did not start (the agent's log says why).`,
  missing: `${onServer} the devcontainer CLI is not installed.`,
};

export function createWorkspaceShells(input: WorkspaceShellsInput): WorkspaceShells {
  const environment = { ...input.environment, TERM: "xterm-256color" };
  const shellOf = (file: string, args: string[]): ShellCommand => ({
    ...commandAs(input.user, file, args),
    cwd: input.workspaceDir,
    env: environment,
  });
  const { caw } = input;
  // The plain PTY runs the same launcher as tmux does, through sh, as the workspace user.
  const launched = (launcher: string) =>
    caw ? shellOf("/bin/sh", ["-c", launcher]) : shellOf("/bin/bash", ["-l"]);
  const hostLauncher = caw ? shellLauncher(caw) : "exec /bin/bash -l";
  const onHost = (notice: string | null): ShellChoice => ({
    shell: launched(hostLauncher),
    launcher: hostLauncher,
    notice,
    devcontainer: false,
  });
  let choice = onHost(null);
  let stopped = false;
  const folder = ["--workspace-folder", input.workspaceDir];

  const start = async () => {
    const config = path.join(input.workspaceDir, ".devcontainer", "devcontainer.json");
    if (!(await fileExists(config))) return;
    const cli = await waitForCli(
      input,
      () => stopped,
      (notice) => (choice = onHost(notice)),
    );
    if (stopped) return;
    if (!cli) {
      input.log("The repository has a devcontainer, but the devcontainer CLI is not installed.");
      choice = onHost(shellNotices.missing);
      return;
    }
    choice = onHost(shellNotices.starting);
    input.report?.("started", "devcontainer up");
    const up = commandAs(input.user, cli, ["up", ...folder, ...mountOptions(input.mounts)]);
    const failure = await startContainer(input, up, () => stopped);
    if (failure !== null) {
      choice = onHost(shellNotices.failed);
      const message = `devcontainer up failed: ${failure.summary}`.slice(0, 500);
      input.report?.("failed", message, failure.output || undefined);
      return;
    }
    input.log("The devcontainer is up; new terminals open inside it.");
    input.report?.("done", "terminals open in the devcontainer");
    choice = devcontainerChoice(cli, folder, input.caw, shellOf);
  };
  return {
    current: () => choice,
    start: () => start().catch((error: unknown) => input.log(`Devcontainer: ${String(error)}`)),
    stop: () => void (stopped = true),
  };
}

function devcontainerChoice(
  cli: string,
  folder: string[],
  caw: WorkspaceShellsInput["caw"],
  shellOf: (file: string, args: string[]) => ShellCommand,
): ShellChoice {
  const exec = [cli, "exec", ...folder];
  if (!caw) {
    const launcher = `exec ${[...exec, "bash", "-l"].map(quoteForShell).join(" ")}`;
    return {
      shell: shellOf(cli, [...exec.slice(1), "bash", "-l"]),
      launcher,
      notice: null,
      devcontainer: true,
    };
  }
  const launcher = devcontainerShellLauncher({ exec, ...caw });
  return {
    shell: shellOf("/bin/sh", ["-c", launcher]),
    launcher,
    notice: null,
    devcontainer: true,
  };
}

async function waitForCli(
  input: WorkspaceShellsInput,
  stopped: () => boolean,
  announce: (notice: string) => void,
): Promise<string | null> {
  const searchPath = input.environment.PATH ?? "";
  for (let logged = false; ; logged = true) {
    const cli = await findOnPath("devcontainer", searchPath);
    if (cli || !input.waitForToolchain || stopped()) return cli;
    if (!logged) {
      input.log("The repository has a devcontainer; waiting for the toolchain's devcontainer CLI.");
      announce(shellNotices.waiting);
    }
    await sleep(input.pollMs ?? 5_000);
  }
}

/** `devcontainer up`, retried (Docker may still be starting); null once it succeeded, else why not. */
async function startContainer(
  input: WorkspaceShellsInput,
  up: { file: string; args: string[] },
  stopped: () => boolean,
): Promise<{ summary: string; output: string } | null> {
  const delays = input.retryDelaysMs ?? [15_000, 60_000];
  let failure = { summary: "the agent stopped", output: "" };
  for (let attempt = 0; attempt <= delays.length && !stopped(); attempt += 1) {
    input.log(`Starting the repository's devcontainer (devcontainer up, try ${attempt + 1}).`);
    try {
      await run(up.file, up.args, {
        cwd: input.workspaceDir,
        // Remix's types make NODE_ENV a required variable; the CLI does not need it.
        env: { ...input.environment } as unknown as NodeJS.ProcessEnv,
        maxBuffer: 64 * 1024 * 1024,
      });
      return null;
    } catch (error) {
      failure = { summary: describeFailure(error), output: outputTailOf(error) };
      input.log(`devcontainer up failed: ${failure.summary}`);
      if (attempt < delays.length) await sleep(delays[attempt]!);
    }
  }
  return failure;
}

// The CLI ends its output with a JSON line ({"outcome":"error","message":…}); the rest can
// be megabytes of build log.
function describeFailure(error: unknown): string {
  const { stdout, stderr, message } = error as {
    stdout?: string;
    stderr?: string;
    message?: string;
  };
  const last = (text?: string) => text?.trim().split("\n").at(-1)?.slice(0, 500);
  return last(stdout) || last(stderr) || String(message);
}

/** The CLI's last output (stderr, then stdout), at most 4 KB, tokens redacted: for the job log. */
function outputTailOf(error: unknown): string {
  const { stdout, stderr } = error as { stdout?: string; stderr?: string };
  const text = [stderr?.trim(), stdout?.trim()].filter(Boolean).join("\n");
  return redactSecrets(text.slice(-4096));
}

const mountOptions = (mounts: string[] = []) =>
  mounts.flatMap((mount) => ["--mount", `type=bind,source=${mount},target=${mount}`]);

async function findOnPath(name: string, searchPath: string): Promise<string | null> {
  for (const folder of searchPath.split(":").filter(Boolean)) {
    const candidate = path.join(folder, name);
    const executable = await access(candidate, constants.X_OK).then(
      () => true,
      () => false,
    );
    if (executable) return candidate;
  }
  return null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());
