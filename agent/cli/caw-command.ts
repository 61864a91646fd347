/* eslint-disable security/detect-non-literal-fs-filename -- the folders come from the agent's own settings (STATE_DIR, AGENT_RUNTIME_DIR), never from a request */
import { chmod, mkdir, rename, rm, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { isSea } from "node:sea";
import type { AgentConfig } from "../config.ts";
import { quoteForShell } from "./cli-output.ts";

// `caw` on PATH in every workspace shell (SPEC §14). The CLI is the agent binary itself, so
// `<binDir>/caw` is a symlink to the single executable (main.ts sees its argv0 is `caw`), or,
// running from source (tests, development), a tiny sh wrapper running node with the entry
// script and `caw` as its first argument.
//
// binDir: `$AGENT_RUNTIME_DIR/bin` on a VM (the folder is root:<user's group> 0750, so the
// workspace user can read it; the devcontainer mounts AGENT_RUNTIME_DIR and the binary at the
// same paths), else `$STATE_DIR/bin` (the agent is the workspace's own OS user there). A login
// shell's /etc/profile resets PATH, so the shell launcher prepends binDir again after it; on
// a VM /usr/local/bin/caw (a symlink to ours) covers shells started any other way.

export type CawCommand = {
  /** The folder with `caw` in it (prepend it to PATH); readable by the workspace user. */
  binDir: string;
  /** `<binDir>/caw`: absolute, for hooks and the shell launcher. */
  caw: string;
  /** How to run caw as argv. */
  program: string[];
};

export type CawCommandOptions = {
  /** How to run the agent: the single executable, or node + its flags + main.ts (the default). */
  program?: readonly string[];
  /** On a VM (root), where a `caw` link also goes; null: none. Tests pass their own folder. */
  systemBinDir?: string | null;
};

/** Makes `<binDir>/caw` (a symlink to the single executable, or an sh wrapper from source). */
export async function prepareCawCommand(
  config: AgentConfig,
  options: CawCommandOptions = {},
): Promise<CawCommand> {
  const binDir = config.WORKSPACE_USER
    ? path.join(config.AGENT_RUNTIME_DIR, "bin")
    : path.join(config.STATE_DIR, "bin");
  const program = [...(options.program ?? agentProgram())];
  const caw = path.join(binDir, "caw");
  await mkdir(binDir, { recursive: true, mode: 0o755 });
  await chmod(binDir, 0o755);
  if (program.length === 1) await replaceWithSymlink(caw, program[0]!);
  else await replaceWithWrapper(caw, program);
  const systemBinDir = options.systemBinDir === undefined ? "/usr/local/bin" : options.systemBinDir;
  if (config.WORKSPACE_USER && systemBinDir && process.getuid?.() === 0)
    // Best effort: without it the launcher's PATH still finds caw in binDir.
    await replaceWithSymlink(path.join(systemBinDir, "caw"), caw).catch(() => {});
  return { binDir, caw, program: [caw] };
}

/** The single executable runs as itself; from source, node with its flags and the entry script. */
function agentProgram(): string[] {
  return isSea()
    ? [process.execPath]
    : [process.execPath, ...process.execArgv, path.resolve(process.argv[1]!)];
}

async function replaceWithSymlink(file: string, target: string): Promise<void> {
  const partial = `${file}.${process.pid}.partial`;
  await rm(partial, { force: true });
  await symlink(target, partial);
  await rename(partial, file);
}

async function replaceWithWrapper(file: string, program: readonly string[]): Promise<void> {
  const partial = `${file}.${process.pid}.partial`;
  const script = `#!/bin/sh\nexec ${program.map(quoteForShell).join(" ")} caw "$@"\n`;
  await writeFile(partial, script, { mode: 0o755 });
  await chmod(partial, 0o755);
  await rename(partial, file);
}
