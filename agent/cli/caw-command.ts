/* eslint-disable security/detect-non-literal-fs-filename -- the paths come from the agent's own settings and its own executable */
import { chmod, lstat, mkdir, rename, rm, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { isSea } from "node:sea";
import type { AgentConfig } from "../config.ts";
import { quoteForShell } from "./cli-output.ts";

// `caw` on the PATH of every workspace shell (SPEC §14): the agent binary itself under the
// name caw. The single executable gets a symlink (it reads its own name, cli/run-cli.ts);
// from source (tests, development) an sh wrapper runs node with the entry script. On a VM the
// folder is AGENT_RUNTIME_DIR/bin (root:workspace 0750, also mounted into a devcontainer) and
// /usr/local/bin/caw points at it, since Debian's /etc/profile sets PATH anew for login shells.

export type CawCommand = {
  /** The folder with `caw` in it (prepend it to PATH); readable by the workspace user. */
  binDir: string;
  /** `<binDir>/caw`: absolute, for hooks and the shell launcher. */
  caw: string;
  /** How to run caw as argv. */
  program: string[];
  /** `<binDir>/bash-login.sh`: a login shell's startup files, then binDir back on PATH. */
  loginScript: string;
};

export const binDirOf = (config: AgentConfig) =>
  config.WORKSPACE_USER
    ? path.join(config.AGENT_RUNTIME_DIR, "bin")
    : path.join(config.STATE_DIR, "bin");

/**
 * How this process runs the agent: its own path when it is the single executable, else node
 * with its flags and the entry script (paths made absolute, so it works from any folder).
 */
export function currentAgentProgram(): string[] {
  if (isSea()) return [process.execPath];
  const flags = process.execArgv.map((flag, index, all) =>
    all[index - 1] === "--import" && !flag.startsWith("file:") && !flag.startsWith("/")
      ? import.meta.resolve(flag)
      : flag,
  );
  return [process.execPath, ...flags, path.resolve(process.argv[1] ?? "agent/main.ts")];
}

/** Makes `<binDir>/caw` (a symlink to the single executable, or an sh wrapper from source). */
export async function prepareCawCommand(
  config: AgentConfig,
  program: readonly string[] = currentAgentProgram(),
): Promise<CawCommand> {
  const binDir = binDirOf(config);
  await mkdir(binDir, { recursive: true, mode: 0o755 });
  await chmod(binDir, 0o755); // inside a 0750 folder on a VM: only root and the group get here
  const caw = path.join(binDir, "caw");
  const partial = `${caw}.partial-${process.pid}`;
  await rm(partial, { force: true });
  if (program.length === 1) await symlink(program[0]!, partial);
  else {
    const line = [...program, "caw"].map(quoteForShell).join(" ");
    await writeFile(partial, `#!/bin/sh\nexec ${line} "$@"\n`, { mode: 0o755 });
  }
  await rename(partial, caw);
  const loginScript = path.join(binDir, "bash-login.sh");
  await writeFile(loginScript, loginScriptText(binDir), { mode: 0o644 });
  await chmod(loginScript, 0o644);
  if (config.WORKSPACE_USER && process.getuid?.() === 0) await linkIntoUsrLocal(caw);
  return { binDir, caw, program: [caw], loginScript };
}

/** /usr/local/bin/caw → caw, unless something else of that name is there. */
async function linkIntoUsrLocal(caw: string): Promise<void> {
  const target = "/usr/local/bin/caw";
  const existing = await lstat(target).catch(() => null);
  if (existing && !existing.isSymbolicLink()) return;
  await mkdir(path.dirname(target), { recursive: true });
  const partial = `${target}.partial-${process.pid}`;
  await rm(partial, { force: true });
  await symlink(caw, partial);
  await rename(partial, target);
}

/**
 * What `bash -l` reads (/etc/profile, then the first of ~/.bash_profile, ~/.bash_login,
 * ~/.profile), then binDir back at the front of PATH: Debian's /etc/profile sets PATH anew,
 * which would drop it in the one-machine mode, where /usr/local/bin is not ours to write.
 */
function loginScriptText(binDir: string): string {
  const folder = quoteForShell(binDir);
  return `# Written by the Cloud AI Workspaces agent at every start: a login shell's startup files,
# then caw's folder on PATH. The shell launcher runs bash --rcfile <this file>.
if [ -r /etc/profile ]; then . /etc/profile; fi
for caw_profile in "$HOME/.bash_profile" "$HOME/.bash_login" "$HOME/.profile"; do
  if [ -r "$caw_profile" ]; then . "$caw_profile"; break; fi
done
unset caw_profile
case ":$PATH:" in
  *:${folder}:*) ;;
  *) PATH=${folder}:"$PATH"; export PATH ;;
esac
`;
}
