import manifest from "../package.json" with { type: "json" };
import { isCliInvocation, runCli } from "./cli/run-cli.ts";

// The workspace agent (SPEC §9). `agent` runs it; `agent git-credential <state dir> <action>`
// is git's credential helper (git runs it while cloning and pushing); run as `caw` (a symlink
// or wrapper of that name) or with a CLI command first (`agent status working`) it is the
// workspace's own CLI (SPEC §14). No top-level await: the single executable runs this as
// CommonJS. The agent and the credential helper are imported on demand, so `caw`, which runs
// on every Claude Code hook, does not load the terminal server, jose or node-pty.

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  if (isCliInvocation()) {
    const cliArgs = process.argv.slice(2);
    process.exitCode = await runCli(cliArgs[0] === "caw" ? cliArgs.slice(1) : cliArgs);
  } else if (command === "git-credential") {
    const { runGitCredentialHelper } = await import("./git-credential-helper.ts");
    await runGitCredentialHelper(rest[0] ?? "", rest[1] ?? "");
  } else {
    const { runAgent } = await import("./run-agent.ts");
    // The agent is built with the control plane, so they share a version (checked at bootstrap).
    await runAgent(manifest.version);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
