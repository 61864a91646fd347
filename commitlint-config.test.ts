import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

// commitlint.config.js, as the commit-msg hook runs it (.husky/commit-msg): the real CLI.

const run = promisify(execFile);
const root = fileURLToPath(new URL(".", import.meta.url));
const cli = fileURLToPath(new URL("node_modules/@commitlint/cli/cli.js", import.meta.url));

async function lint(args: string[], message?: string) {
  // No colours: Vitest's workers force them on, and they split the rule names we look for.
  const env = { ...process.env, FORCE_COLOR: "0", NO_COLOR: "1" };
  const child = run(process.execPath, [cli, ...args], { cwd: root, env });
  if (message !== undefined) child.child.stdin!.end(message);
  return child.then(
    ({ stdout }) => ({ code: 0, output: stdout }),
    (error: { code: number; stdout: string }) => ({ code: error.code, output: error.stdout }),
  );
}

describe("commit messages", () => {
  it("takes a Conventional Commit, long subjects and proper nouns included", async () => {
    const subject = `fix(worker): ${"Cloudflare's block waits in the queue, ".repeat(10)}`.trim();
    expect(subject.length).toBeGreaterThan(300);
    expect(await lint([], `${subject}\n\nWhy: the body may quote a URL of any length.\n`)).toEqual({
      code: 0,
      output: "",
    });
    expect((await lint([], "docs: README and ROADMAP with issue #15")).code).toBe(0);
  });

  it("refuses a message without a type, and one over 500 characters, saying why", async () => {
    const untyped = await lint([], "Added the coverage thresholds");
    expect(untyped.code).toBe(1);
    expect(untyped.output).toContain("type may not be empty [type-empty]");
    const long = await lint([], `feat: ${"x".repeat(500)}`);
    expect(long.code).toBe(1);
    expect(long.output).toContain("[header-max-length]");
    expect((await lint([], "feature(web): an unknown type")).output).toContain("[type-enum]");
  });

  it("passes every commit of this repository's history", async () => {
    const { stdout } = await run("git", ["rev-list", "--max-parents=0", "HEAD"], { cwd: root });
    const first = stdout.trim().split("\n")[0]!;
    const history = await lint(["--from", first, "--to", "HEAD"]);
    expect(history.output).toBe("");
    expect(history.code).toBe(0);
  });
});
