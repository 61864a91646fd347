import { execFile, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

// The image scripts are run by hand (a cold image build takes 10+ minutes); shellcheck keeps
// them honest in every test run. CI installs shellcheck (.ci/run), so there it never skips.

const run = promisify(execFile);
const folder = fileURLToPath(new URL("./", import.meta.url));
const shellcheck = spawnSync("shellcheck", ["--version"], { stdio: "ignore" }).status === 0;

describe("image scripts", () => {
  it.skipIf(!shellcheck && !process.env.CI)("pass shellcheck", async () => {
    const scripts = ["make-local-base.sh", "smoke-test.sh"];
    const { stdout } = await run("shellcheck", ["--shell=bash", ...scripts], { cwd: folder });
    expect(stdout).toBe("");
  });
});
