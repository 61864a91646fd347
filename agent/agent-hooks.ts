/* eslint-disable security/detect-non-literal-fs-filename -- the files are the workspace user's own ~/.claude and ~/.codex settings */
import { execFile } from "node:child_process";
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { quoteForShell } from "./cli/cli-output.ts";

const run = promisify(execFile);

// The hooks that make AI agents report by themselves (SPEC §14): Claude Code runs `caw status`
// on UserPromptSubmit and PreToolUse (working), Notification (waiting) and Stop (done); Codex
// runs `caw codex-notify '<json>'` when a turn completes. Merged into the user's own settings:
// their settings and hooks stay, ours are replaced on every agent start, never duplicated.
//
// On a VM the agent is root and the home is the workspace user's: writing there as root would
// follow whatever links the user put in place. So root runs `caw install-hooks` as the user,
// and the files are theirs like any they wrote.

export type AgentHooksInput = {
  /** The workspace user's home. */
  home: string;
  uid: number;
  gid: number;
  /** Absolute path of caw (prepareCawCommand's `caw`). */
  cawCommand: string;
};

export type AgentHooksResult = { claude: string; codex: string };

/**
 * Claude Code hooks in ~/.claude/settings.json (merged into the user's settings, ours replaced,
 * never duplicated) and Codex's notify in ~/.codex/config.toml (only when it has none).
 * Idempotent; the files belong to the user. Never throws for a file it cannot use: the answer
 * says what happened to each.
 */
export async function installAgentHooks(input: AgentHooksInput): Promise<AgentHooksResult> {
  if (process.getuid?.() !== 0 || input.uid === 0)
    return installAgentHooksHere(input.home, input.cawCommand);
  const identity = ["--reuid", String(input.uid), "--regid", String(input.gid), "--clear-groups"];
  const args = ["install-hooks", "--home", input.home, "--caw", input.cawCommand];
  const { stdout } = await run("/usr/bin/setpriv", [...identity, "--", input.cawCommand, ...args], {
    cwd: "/",
    // The cast only drops the project-wide NODE_ENV typing: caw does not need it.
    env: {
      HOME: input.home,
      PATH: "/usr/local/bin:/usr/bin:/bin",
      LANG: "C.UTF-8",
    } as object as NodeJS.ProcessEnv,
    timeout: 30_000,
  });
  const field = (name: string) =>
    stdout
      .split("\n")
      .find((line) => line.startsWith(`${name}: `))
      ?.slice(name.length + 2) ?? "no answer";
  return { claude: field("Claude Code"), codex: field("Codex") };
}

/** The same, as the user who owns `home` (the process's own user). */
export async function installAgentHooksHere(
  home: string,
  cawCommand: string,
): Promise<AgentHooksResult> {
  const [claude, codex] = await Promise.all([
    installClaudeHooks(path.join(home, ".claude", "settings.json"), cawCommand).catch(
      (error: unknown) => `not installed: ${String(error)}`,
    ),
    installCodexNotify(path.join(home, ".codex", "config.toml"), cawCommand).catch(
      (error: unknown) => `not installed: ${String(error)}`,
    ),
  ]);
  return { claude, codex };
}

const claudeHookStatuses = {
  UserPromptSubmit: "working",
  PreToolUse: "working",
  Notification: "waiting",
  Stop: "done",
} as const;

type HookGroup = { matcher?: string; hooks?: Array<{ type?: string; command?: string }> };

/** Ours: `<…caw> status <status> --hook`, whatever caw's path was when it was written. */
const isOurClaudeHook = (command: unknown) =>
  typeof command === "string" && /caw'? status (working|waiting|done|error) --hook$/.test(command);

async function installClaudeHooks(file: string, cawCommand: string): Promise<string> {
  const text = await readIfPresent(file);
  let settings: Record<string, unknown>;
  try {
    settings = text === null ? {} : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    return `skipped: ${file} is not valid JSON; fix it, then run \`caw install-hooks\``;
  }
  const hooks = settings.hooks ?? {};
  if (!isPlainObject(settings) || !isPlainObject(hooks))
    return `skipped: ${file} has no settings object with a "hooks" object; fix it, then run \`caw install-hooks\``;
  const merged: Record<string, unknown> = { ...hooks };
  for (const [event, status] of Object.entries(claudeHookStatuses)) {
    const groups = Array.isArray(merged[event]) ? (merged[event] as HookGroup[]) : [];
    const theirs = groups
      .map((group) => ({
        ...group,
        hooks: (group.hooks ?? []).filter((hook) => !isOurClaudeHook(hook.command)),
      }))
      .filter((group) => group.hooks.length > 0);
    const command = `${quoteForShell(cawCommand)} status ${status} --hook`;
    const ours: HookGroup = {
      ...(event === "PreToolUse" ? { matcher: "*" } : {}),
      hooks: [{ type: "command", command }],
    };
    merged[event] = [...theirs, ours];
  }
  const next = `${JSON.stringify({ ...settings, hooks: merged }, null, 2)}\n`;
  if (next === text) return "unchanged";
  await writeOwnFile(file, next);
  return `installed in ${file}`;
}

async function installCodexNotify(file: string, cawCommand: string): Promise<string> {
  const text = (await readIfPresent(file)) ?? "";
  const line = `notify = [${JSON.stringify(cawCommand)}, "codex-notify"]`;
  const lines = text.split("\n");
  // notify is a top-level key: only the lines before the first [table] header count.
  const firstTable = lines.findIndex((entry) => /^\s*\[/.test(entry));
  const topLevel = firstTable < 0 ? lines.length : firstTable;
  const index = lines.slice(0, topLevel).findIndex((entry) => /^\s*notify\s*=/.test(entry));
  if (index >= 0 && !/"codex-notify"\s*\]/.test(lines[index]!))
    return "kept your own notify program in config.toml (add `caw codex-notify` to it yourself)";
  if (index >= 0 && lines[index] === line) return "unchanged";
  if (index >= 0) lines[index] = line;
  else
    lines.unshift(
      "# Cloud AI Workspaces: a finished turn sets the session's status to done.",
      line,
    );
  await writeOwnFile(file, lines.join("\n").replace(/\n*$/, "\n"));
  return `installed in ${file}`;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

async function readIfPresent(file: string): Promise<string | null> {
  return readFile(file, "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return null;
    throw error;
  });
}

/** Replaced in one rename; keeps the file's mode, 0600 for a new one (settings may hold keys). */
async function writeOwnFile(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const mode = await stat(file).then(
    (info) => info.mode & 0o777,
    () => 0o600,
  );
  const partial = `${file}.caw-${process.pid}`;
  await writeFile(partial, text, { mode });
  await rename(partial, file);
}
