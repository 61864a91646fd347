import { execFile } from "node:child_process";
import { childEnvironment } from "../env.ts";

export type GitOptions = {
  cwd?: string;
  env?: Record<string, string>;
  /** Written to git's standard input (e.g. a fast-import stream). */
  input?: string;
};

/** Runs the git CLI and resolves with its stdout; rejects with its stderr in the message. */
export async function runGit(args: string[], options: GitOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      "git",
      args,
      {
        cwd: options.cwd,
        // The system and user git configuration (signing, hooks, default branch) must not
        // change what the stand-in does.
        env: childEnvironment({
          GIT_CONFIG_NOSYSTEM: "1",
          GIT_CONFIG_GLOBAL: "/dev/null",
          GIT_TERMINAL_PROMPT: "0",
          ...options.env,
        }),
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        if (error)
          reject(new Error(`git ${args[0] ?? ""} failed: ${stderr.trim() || error.message}`));
        else resolve(stdout);
      },
    );
    if (options.input === undefined) return;
    // A git that fails early closes its input; its exit status reports why, not EPIPE.
    child.stdin?.on("error", () => {});
    child.stdin?.end(options.input);
  });
}
