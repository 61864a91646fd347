import { existsSync } from "node:fs";
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { prepareCawCommand } from "./cli/caw-command.ts";
import { readAgentConfig } from "./config.ts";
import { installAgentHooks, installAgentHooksHere } from "./agent-hooks.ts";
import { createTestUser, skipUnlessRoot } from "./testing/test-users.ts";

// The hooks merged into a user's own Claude Code and Codex settings: theirs kept, ours once.

const caw = "/run/cloud-ai-workspaces-agent/bin/caw";
let home: string;
const claudeFile = () => path.join(home, ".claude", "settings.json");
const codexFile = () => path.join(home, ".codex", "config.toml");
const readJson = async () =>
  JSON.parse(await readFile(claudeFile(), "utf8")) as {
    hooks: Record<string, Array<{ matcher?: string; hooks: Array<{ command: string }> }>>;
    [key: string]: unknown;
  };

beforeEach(async () => {
  home = await mkdtemp(path.join(os.tmpdir(), "caw-hooks-"));
  return () => rm(home, { recursive: true, force: true });
});

describe("Claude Code hooks", () => {
  it("installs working, waiting and done hooks in a new settings file (0600)", async () => {
    const result = await installAgentHooksHere(home, caw);
    expect(result.claude).toContain("installed");
    const { hooks } = await readJson();
    expect(hooks.UserPromptSubmit?.[0]?.hooks[0]?.command).toBe(`'${caw}' status working --hook`);
    expect(hooks.PreToolUse?.[0]).toMatchObject({ matcher: "*" });
    expect(hooks.PreToolUse?.[0]?.hooks[0]?.command).toContain("status working --hook");
    expect(hooks.Notification?.[0]?.hooks[0]?.command).toContain("status waiting --hook");
    expect(hooks.Stop?.[0]?.hooks[0]?.command).toContain("status done --hook");
    expect((await stat(claudeFile())).mode & 0o777).toBe(0o600);
  });

  it("keeps the user's settings and hooks and never duplicates ours", async () => {
    await mkdir(path.dirname(claudeFile()), { recursive: true });
    const theirs = { matcher: "Bash", hooks: [{ type: "command", command: "./lint.sh" }] };
    await writeFile(
      claudeFile(),
      JSON.stringify({ model: "opus", hooks: { PreToolUse: [theirs], PostToolUse: [theirs] } }),
    );
    await installAgentHooksHere(home, caw);
    const first = await readFile(claudeFile(), "utf8");
    expect((await installAgentHooksHere(home, caw)).claude).toBe("unchanged");
    // A new caw path (another agent version) replaces ours rather than adding a second.
    await installAgentHooksHere(home, "/usr/local/bin/caw");
    const settings = await readJson();
    expect(settings.model).toBe("opus");
    expect(settings.hooks.PostToolUse).toEqual([theirs]);
    expect(settings.hooks.PreToolUse).toHaveLength(2);
    expect(settings.hooks.PreToolUse?.[0]).toEqual(theirs);
    expect(settings.hooks.PreToolUse?.[1]?.hooks[0]?.command).toBe(
      "'/usr/local/bin/caw' status working --hook",
    );
    expect(JSON.stringify(settings)).not.toContain(caw);
    expect(first).toContain(caw);
  });

  it("leaves a settings file that is not JSON alone and says how to fix it", async () => {
    await mkdir(path.dirname(claudeFile()), { recursive: true });
    await writeFile(claudeFile(), "{ not json");
    const result = await installAgentHooksHere(home, caw);
    expect(result.claude).toContain("not valid JSON");
    expect(await readFile(claudeFile(), "utf8")).toBe("{ not json");
  });
});

describe("Codex notify", () => {
  it("adds notify at the top level when there is none, once", async () => {
    await mkdir(path.dirname(codexFile()), { recursive: true });
    await writeFile(codexFile(), 'model = "gpt-5"\n\n[mcp_servers.x]\ncommand = "x"\n');
    await installAgentHooksHere(home, caw);
    expect((await installAgentHooksHere(home, caw)).codex).toBe("unchanged");
    const text = await readFile(codexFile(), "utf8");
    expect(text.match(/^notify = /gm)).toHaveLength(1);
    expect(text).toContain(`notify = ["${caw}", "codex-notify"]`);
    expect(text.indexOf("notify")).toBeLessThan(text.indexOf("[mcp_servers.x]"));
    expect(text).toContain('model = "gpt-5"');
  });

  it("keeps the user's own notify program", async () => {
    await mkdir(path.dirname(codexFile()), { recursive: true });
    const own = 'notify = ["python3", "/home/me/notify.py"]\n';
    await writeFile(codexFile(), own);
    expect((await installAgentHooksHere(home, caw)).codex).toContain("kept your own notify");
    expect(await readFile(codexFile(), "utf8")).toBe(own);
  });
});

const skip = skipUnlessRoot();
describe.skipIf(skip)("as root, for the workspace user", () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(() => Promise.all(cleanups.map((cleanup) => cleanup())));

  it("writes the files as the user, so they are the user's", async () => {
    const user = await createTestUser();
    cleanups.push(() => user.remove());
    const folder = await mkdtemp(path.join(os.tmpdir(), "caw-hooks-bin-"));
    cleanups.push(() => rm(folder, { recursive: true, force: true }));
    await chmod(folder, 0o711);
    const agentMain = fileURLToPath(new URL("./main.ts", import.meta.url));
    const config = readAgentConfig({
      CONTROL_PLANE_URL: "http://127.0.0.1:9",
      WORKSPACE_ID: "00000000-0000-4000-8000-000000000003",
      BOOTSTRAP_TOKEN: "x",
      STATE_DIR: path.join(folder, "state"),
    });
    // The user runs caw: the built agent copied here works from any checkout (a private one
    // too); without a build the source runs, and the checkout must be readable by others.
    let program = [process.execPath, "--import", import.meta.resolve("tsx"), agentMain];
    const builtAgent = fileURLToPath(
      new URL(`../dist/agent/agent-linux-${process.arch}`, import.meta.url),
    );
    if (existsSync(builtAgent)) {
      program = [path.join(folder, "agent")];
      await copyFile(builtAgent, program[0]!);
      await chmod(program[0]!, 0o755);
    }
    const command = await prepareCawCommand(config, { program });
    await chmod(path.join(folder, "state"), 0o711);
    const result = await installAgentHooks({
      home: user.homedir,
      uid: user.uid,
      gid: user.gid,
      cawCommand: command.caw,
    });
    expect(result.claude).toContain("installed");
    expect(result.codex).toContain("installed");
    for (const file of [".claude/settings.json", ".codex/config.toml", ".claude", ".codex"]) {
      const info = await stat(path.join(user.homedir, file));
      expect([info.uid, info.gid]).toEqual([user.uid, user.gid]);
    }
  });
});
