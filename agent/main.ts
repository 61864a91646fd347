import manifest from "../package.json" with { type: "json" };
import { runGitCredentialHelper } from "./git-credential-helper.ts";
import { runAgent } from "./run-agent.ts";

// The workspace agent (SPEC §9). `agent` runs it; `agent git-credential <state dir> <action>`
// is git's credential helper (git runs it while cloning and pushing). No top-level await:
// the single executable runs this as CommonJS.

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  if (command === "git-credential") await runGitCredentialHelper(rest[0] ?? "", rest[1] ?? "");
  // The agent is built with the control plane, so they share a version (checked at bootstrap).
  else await runAgent(manifest.version);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
