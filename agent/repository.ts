/* eslint-disable security/detect-non-literal-fs-filename -- the workspace folder is the agent's WORKSPACE_DIR setting */
import { execFile } from "node:child_process";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { fileExists } from "./file-exists.ts";

const run = promisify(execFile);

type Git = (...args: string[]) => Promise<{ stdout: string }>;

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
  log: (message: string) => void;
};

export async function prepareRepository(input: RepositoryInput): Promise<"cloned" | "kept"> {
  const git = (...args: string[]) =>
    run("git", args, {
      cwd: input.workspaceDir,
      env: { ...input.environment, GIT_TERMINAL_PROMPT: "0" },
      maxBuffer: 16 * 1024 * 1024,
    });
  if (await fileExists(path.join(input.workspaceDir, ".git"))) {
    input.log("The workspace already holds a repository; leaving it as it is.");
    await configureCredentialHelper(git, input);
    return "kept";
  }
  await mkdir(input.workspaceDir, { recursive: true });
  input.log(`Cloning ${input.cloneUrl} (${input.branch}) into ${input.workspaceDir}.`);
  // init + fetch rather than clone: clone refuses a folder that is not empty.
  await git("init", "--quiet", "--initial-branch", input.branch);
  await configureCredentialHelper(git, input);
  await git("remote", "add", "origin", input.cloneUrl);
  const remoteBranch = `refs/remotes/origin/${input.branch}`;
  await git("fetch", "--quiet", "origin", `+refs/heads/${input.branch}:${remoteBranch}`);
  await git("checkout", "--quiet", "--track", "-B", input.branch, `origin/${input.branch}`);
  return "cloned";
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
