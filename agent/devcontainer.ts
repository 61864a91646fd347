import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import type { ShellCommand } from "./terminal/terminal-session.ts";
import { fileExists } from "./file-exists.ts";

const run = promisify(execFile);

// SPEC §9: a repository with a devcontainer gets its terminals inside that container when
// the devcontainer CLI is on the machine; otherwise a login shell in the workspace.

export type ShellChoice = { shell: ShellCommand; devcontainer: boolean };

export async function chooseShell(input: {
  workspaceDir: string;
  environment: Record<string, string>;
  log: (message: string) => void;
}): Promise<ShellChoice> {
  const loginShell: ShellCommand = {
    file: "/bin/bash",
    args: ["-l"],
    cwd: input.workspaceDir,
    env: input.environment,
  };
  const config = path.join(input.workspaceDir, ".devcontainer", "devcontainer.json");
  if (!(await fileExists(config))) return { shell: loginShell, devcontainer: false };
  const cli = await findOnPath("devcontainer", input.environment.PATH ?? "");
  if (!cli) {
    input.log("The repository has a devcontainer, but the devcontainer CLI is not installed.");
    return { shell: loginShell, devcontainer: false };
  }
  const folder = ["--workspace-folder", input.workspaceDir];
  try {
    input.log("Starting the repository's devcontainer (devcontainer up).");
    // Remix's types make NODE_ENV a required variable; the CLI does not need it.
    const env = input.environment as unknown as NodeJS.ProcessEnv;
    await run(cli, ["up", ...folder], { env, maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    input.log(`devcontainer up failed; terminals open on the VM instead: ${String(error)}`);
    return { shell: loginShell, devcontainer: false };
  }
  return {
    shell: { ...loginShell, file: cli, args: ["exec", ...folder, "bash", "-l"] },
    devcontainer: true,
  };
}

async function findOnPath(name: string, searchPath: string): Promise<string | null> {
  for (const folder of searchPath.split(":").filter(Boolean)) {
    const candidate = path.join(folder, name);
    if (await fileExists(candidate)) return candidate;
  }
  return null;
}
