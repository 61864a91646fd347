/* eslint-disable security/detect-non-literal-fs-filename -- the workspace folder is the agent's WORKSPACE_DIR setting */
import { execFile } from "node:child_process";
import { lstat, mkdir, readdir, rm } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { fileExists } from "./file-exists.ts";
import { redactSecrets } from "./redact-secrets.ts";
import { commandAs, type WorkspaceUser } from "./workspace-user.ts";

const run = promisify(execFile);

type Git = (...args: string[]) => Promise<{ stdout: string; stderr?: string }>;

// Puts the workspace's repository into the workspace folder (SPEC §9). The folder may be a
// fresh volume (with lost+found) or hold an earlier clone (a start after a stop): in that
// case it is left exactly as the user left it.

export type RepositoryInput = {
  workspaceDir: string;
  cloneUrl: string;
  branch: string;
  /** The helper command; git asks it for the GitHub credential, for the clone URL's origin only. */
  credentialHelper: string;
  /** The environment git runs in: a clean login environment (config.ts loginEnvironment). */
  environment: NodeJS.ProcessEnv;
  /** WORKSPACE_USER: git runs as this user and the clone is theirs; null: the agent's own. */
  user?: WorkspaceUser | null;
  log: (message: string) => void;
  /** git's progress lines while it fetches (tokens redacted), for the boot steps. */
  progress?: (line: string) => void;
};

/** A clone that failed, with the end of git's own output (tokens taken out) to show. */
export class CloneError extends Error {
  constructor(
    message: string,
    /** The last lines git wrote, tokens redacted: what the workspace page shows. */
    readonly gitOutput: string,
  ) {
    super(message);
    this.name = "CloneError";
  }
}

export async function prepareRepository(input: RepositoryInput): Promise<"cloned" | "kept"> {
  const git = (...args: string[]) => {
    const command = commandAs(input.user ?? null, "git", args);
    return run(command.file, command.args, {
      cwd: input.workspaceDir,
      env: { ...input.environment, GIT_TERMINAL_PROMPT: "0" },
      maxBuffer: 16 * 1024 * 1024,
    });
  };
  if (input.user) await handOverWorkspace(input.workspaceDir, input.user, input.log);
  if (await fileExists(path.join(input.workspaceDir, ".git"))) {
    input.log("The workspace already holds a repository; leaving it as it is.");
    await configureCredentialHelper(git, input);
    return "kept";
  }
  await mkdir(input.workspaceDir, { recursive: true });
  input.log(`Cloning ${input.cloneUrl} (${input.branch}) into ${input.workspaceDir}.`);
  try {
    await cloneInto(git, input);
  } catch (error) {
    // No half-made clone: the next agent start (a restart, a Start) tries again from scratch
    // instead of keeping an empty repository as the user's.
    await rm(path.join(input.workspaceDir, ".git"), { recursive: true, force: true });
    const output = redactSecrets(tailOf((error as { stderr?: string }).stderr ?? String(error)));
    throw new CloneError(
      `Could not clone ${input.cloneUrl} (branch ${input.branch}): ${output || "git failed"}`,
      output,
    );
  }
  return "cloned";
}

/** init + fetch rather than clone: clone refuses a folder that is not empty. */
async function cloneInto(git: Git, input: RepositoryInput): Promise<void> {
  await git("init", "--quiet", "--initial-branch", input.branch);
  await configureCredentialHelper(git, input);
  await git("remote", "add", "origin", input.cloneUrl);
  const remoteBranch = `refs/remotes/origin/${input.branch}`;
  const fetched = await git(
    "fetch",
    "--progress",
    "origin",
    `+refs/heads/${input.branch}:${remoteBranch}`,
  );
  // git writes progress with carriage returns; the last state of each line is what counts.
  for (const line of progressLinesOf(fetched.stderr ?? "")) input.progress?.(redactSecrets(line));
  await git("checkout", "--quiet", "--track", "-B", input.branch, `origin/${input.branch}`);
}

/** The final state of each progress line ("Receiving objects: 100% (3/3), done."). */
export function progressLinesOf(stderr: string): string[] {
  return stderr
    .split("\n")
    .map(
      (line) =>
        line
          .split("\r")
          .filter((part) => part.trim())
          .at(-1)
          ?.trim() ?? "",
    )
    .filter(Boolean);
}

/** The last lines of git's output, at most ~1,500 characters: the reason is at the end. */
function tailOf(text: string): string {
  const lines = progressLinesOf(text);
  const tail: string[] = [];
  for (const line of lines.reverse()) {
    if (tail.join("\n").length + line.length > 1500) break;
    tail.unshift(line);
  }
  return tail.join("\n");
}

/**
 * Makes the workspace folder the user's, and with it a clone an older agent made as root (git
 * refuses a repository another user owns). lost+found stays root's, as fsck expects.
 */
async function handOverWorkspace(
  workspaceDir: string,
  user: WorkspaceUser,
  log: (message: string) => void,
): Promise<void> {
  await mkdir(workspaceDir, { recursive: true });
  const owner = `${user.uid}:${user.gid}`;
  if ((await lstat(workspaceDir)).uid !== user.uid) await run("chown", [owner, workspaceDir]);
  const repository = await lstat(path.join(workspaceDir, ".git")).catch(() => null);
  if (!repository || repository.uid === user.uid) return;
  log(`Handing the existing clone in ${workspaceDir} to ${user.username}.`);
  const entries = (await readdir(workspaceDir)).filter((name) => name !== "lost+found");
  const targets = entries.map((name) => path.join(workspaceDir, name));
  await run("chown", ["-R", "--no-dereference", owner, "--", ...targets]);
}

/**
 * Scopes the helper to the clone URL's origin, with the path git asks about (so the helper and
 * the control plane can refuse other repositories). Also moves a clone made by an older agent,
 * whose helper answered for every host, to the scoped form: its unscoped entry is removed.
 */
async function configureCredentialHelper(git: Git, input: RepositoryInput): Promise<void> {
  const origin = new URL(input.cloneUrl).origin;
  const legacy = await git("config", "--local", "--get-all", "credential.helper").then(
    (result) => result.stdout.split("\n").filter(Boolean),
    () => [] as string[], // exit 1: no such entry
  );
  for (const value of legacy.filter(isAgentHelper))
    await git("config", "--local", "--fixed-value", "--unset-all", "credential.helper", value);
  await git("config", "--local", `credential.${origin}.helper`, input.credentialHelper);
  await git("config", "--local", `credential.${origin}.useHttpPath`, "true");
}

// Ours look like `!'<program>' … 'git-credential' '<state dir>'`; a user's own helper stays.
const isAgentHelper = (value: string) =>
  value.startsWith("!") && value.includes(" 'git-credential' ");
