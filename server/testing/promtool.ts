import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * promtool's verdict on a /metrics text: its problems, or "" when it accepts the text.
 * Undefined when promtool is not installed (CI installs it, .ci/run; callers insist on CI).
 */
export async function checkWithPromtool(text: string): Promise<string | undefined> {
  try {
    await run("promtool", ["--version"]);
  } catch {
    return undefined;
  }
  const child = execFile("promtool", ["check", "metrics"]);
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stdin?.end(text);
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  return code === 0 ? "" : output || `promtool exited with ${code}`;
}
