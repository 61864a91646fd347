import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, copyFile, mkdtemp, rm, stat } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { SessionInfo, SessionStatus } from "../../protocol/agent-sessions.ts";
import { readAgentConfig } from "../config.ts";
import { createTestUser, skipUnlessRoot, type TestUser } from "../testing/test-users.ts";
import { prepareCawCommand } from "./caw-command.ts";
import {
  controlSocketPathOf,
  startControlSocket,
  type ControlSocket,
  type SessionRegistry,
} from "./control-socket.ts";

// The caw CLI against a real control socket: the CLI runs from source as a child process
// (through the sh wrapper prepareCawCommand makes), the agent's side is in this process with
// a stand-in session registry and secrets.

const execFileAsync = promisify(execFile);
const agentMain = fileURLToPath(new URL("../main.ts", import.meta.url));
const program = [process.execPath, "--import", import.meta.resolve("tsx"), agentMain];
const builtAgent = fileURLToPath(
  new URL(`../../dist/agent/agent-linux-${process.arch}`, import.meta.url),
);
const secretValue = `s3cr'et "$(touch /tmp/pwned)" \n line2`;

let folder: string;
let socket: ControlSocket;
let caw: string;
const logs: string[] = [];
let sessions: Map<string, SessionInfo>;
let secrets: () => Promise<Record<string, string>>;

const session = (name: string): SessionInfo => ({
  name,
  startedAt: "2026-01-01T00:00:00.000Z",
  lastOutputAt: null,
  status: null,
  statusMessage: null,
  statusChangedAt: null,
});

const registry: SessionRegistry = {
  list: () => [...sessions.values()],
  async setStatus(name: string, status: SessionStatus | null, message: string | null) {
    const found = sessions.get(name);
    if (!found) throw new Error(`There is no session ${name}; \`caw sessions\` lists them.`);
    const next = { ...found, status, statusMessage: message, statusChangedAt: found.startedAt };
    sessions.set(name, next);
    return next;
  },
  sessionOfPane: async (pane) => (pane === "%7" ? "claude" : null),
};

async function runCaw(args: string[], env: Record<string, string> = {}, input?: string) {
  const running = execFileAsync(caw, args, {
    env: {
      PATH: process.env.PATH,
      CAW_CONTROL_SOCKET: socket.socketPath,
      ...env,
    } as object as NodeJS.ProcessEnv,
  });
  if (input !== undefined) running.child.stdin?.end(input);
  return running.then(
    (done) => ({ code: 0, stdout: done.stdout, stderr: done.stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({
      code: error.code,
      stdout: error.stdout,
      stderr: error.stderr,
    }),
  );
}

beforeAll(async () => {
  folder = await mkdtemp(path.join(os.tmpdir(), "caw-control-"));
  await chmod(folder, 0o711);
  const config = readAgentConfig({
    CONTROL_PLANE_URL: "http://127.0.0.1:9",
    WORKSPACE_ID: "00000000-0000-4000-8000-000000000001",
    BOOTSTRAP_TOKEN: "x",
    STATE_DIR: path.join(folder, "state"),
  });
  ({ caw } = await prepareCawCommand(config, { program }));
  socket = await startControlSocket({
    socketPath: controlSocketPathOf(config),
    group: process.getgid!(),
    sessions: registry,
    secrets: () => secrets(),
    log: (message) => logs.push(message),
  });
});

afterAll(async () => {
  await socket?.close();
  await rm(folder, { recursive: true, force: true });
});

beforeEach(() => {
  sessions = new Map([["claude", session("claude")]]);
  secrets = async () => ({ ANTHROPIC_API_KEY: secretValue, OTHER: "plain" });
});

describe("caw over the control socket", () => {
  it("sets the status of the session named by CAW_SESSION, with a message", async () => {
    const result = await runCaw(["status", "working", "writing", "tests"], {
      CAW_SESSION: "claude",
    });
    expect(result).toMatchObject({ code: 0, stdout: "claude: working (writing tests)\n" });
    expect(sessions.get("claude")).toMatchObject({
      status: "working",
      statusMessage: "writing tests",
    });
  });

  it("finds the session from $TMUX_PANE when CAW_SESSION is not set", async () => {
    const result = await runCaw(["status", "done"], { TMUX_PANE: "%7" });
    expect(result.code).toBe(0);
    expect(sessions.get("claude")?.status).toBe("done");
  });

  it("prefers the pane to CAW_SESSION, which a renamed session's shell still has from before", async () => {
    const result = await runCaw(["status", "waiting"], {
      CAW_SESSION: "old-name",
      TMUX_PANE: "%7",
    });
    expect(result.code).toBe(0);
    expect(sessions.get("claude")?.status).toBe("waiting");
  });

  it("says how to fix it outside a session, for an unknown session or status", async () => {
    const outside = await runCaw(["status", "working"]);
    expect(outside.code).toBe(1);
    expect(outside.stderr).toContain("not inside a workspace session: run this in a terminal");
    const unknown = await runCaw(["status", "working"], { CAW_SESSION: "nope" });
    expect(unknown).toMatchObject({ code: 1 });
    expect(unknown.stderr).toContain("There is no session nope");
    const bad = await runCaw(["status", "busy"], { CAW_SESSION: "claude" });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("expected one of working, waiting, done, error");
  });

  it("lists the sessions as a table and as JSON", async () => {
    await registry.setStatus("claude", "waiting", "needs your permission");
    const table = await runCaw(["sessions"]);
    expect(table.stdout).toMatch(/^NAME\s+STARTED\s+LAST OUTPUT\s+STATUS\s+MESSAGE\n/);
    expect(table.stdout).toMatch(/claude\s+\S+ ago\s+-\s+waiting\s+needs your permission/);
    const json = await runCaw(["sessions", "--json"]);
    expect(JSON.parse(json.stdout)).toEqual([sessions.get("claude")]);
  });

  it("prints the secrets as exports that a shell evaluates to the exact values", async () => {
    const result = await runCaw(["env"]);
    expect(result.code).toBe(0);
    const { stdout } = await execFileAsync("/bin/sh", [
      "-c",
      'eval "$1"; printf "%s" "$ANTHROPIC_API_KEY"',
      "sh",
      result.stdout,
    ]);
    expect(stdout).toBe(secretValue);
    await expect(stat("/tmp/pwned")).rejects.toThrow();
    expect(logs.join("\n")).not.toContain("s3cr");
  });

  it("tells the shell in one line when the secrets cannot be had, without the values", async () => {
    secrets = async () => {
      throw new Error("The control plane answered 503.");
    };
    const result = await runCaw(["env"]);
    expect(result).toMatchObject({ code: 1, stdout: "" });
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toContain("no workspace secrets in this shell");
  });

  it("turns Codex's agent-turn-complete into done and ignores other notifications", async () => {
    await registry.setStatus("claude", "working", null);
    const other = await runCaw(["codex-notify", JSON.stringify({ type: "something-else" })], {
      CAW_SESSION: "claude",
    });
    expect(other.code).toBe(0);
    expect(sessions.get("claude")?.status).toBe("working");
    const done = await runCaw(
      ["codex-notify", JSON.stringify({ type: "agent-turn-complete", "turn-id": "1" })],
      { CAW_SESSION: "claude" },
    );
    expect(done.code).toBe(0);
    expect(sessions.get("claude")?.status).toBe("done");
  });

  it("takes Claude Code's Notification message from the hook's stdin, quietly", async () => {
    const hook = JSON.stringify({ hook_event_name: "Notification", message: "Claude waits" });
    const result = await runCaw(["status", "waiting", "--hook"], { CAW_SESSION: "claude" }, hook);
    expect(result).toMatchObject({ code: 0, stdout: "" });
    expect(sessions.get("claude")).toMatchObject({
      status: "waiting",
      statusMessage: "Claude waits",
    });
  });

  it("never fails a hook, and says where no agent listens", async () => {
    const env = { CAW_SESSION: "claude", CAW_CONTROL_SOCKET: path.join(folder, "none.sock") };
    const hook = await runCaw(["status", "working", "--hook"], env, "");
    expect(hook.code).toBe(0);
    expect(hook.stderr).toContain("No workspace agent is listening at");
    expect((await runCaw(["status", "working"], env)).code).toBe(1);
  });

  it("answers a request that is not JSON, too large or unknown with an error, one per connection", async () => {
    const ask = (text: string) =>
      new Promise<string>((resolve, reject) => {
        const connection = net.createConnection(socket.socketPath);
        let answer = "";
        connection.on("data", (chunk) => (answer += chunk.toString()));
        connection.on("end", () => resolve(answer));
        connection.on("error", reject);
        connection.write(text);
      });
    expect(JSON.parse(await ask("not json\n"))).toMatchObject({ ok: false });
    expect(JSON.parse(await ask(`${"x".repeat(20_000)}`))).toMatchObject({
      ok: false,
      error: expect.stringContaining("at most"),
    });
    expect(JSON.parse(await ask('{"op":"delete-everything"}\n'))).toMatchObject({ ok: false });
    const [first] = (await ask('{"op":"sessions"}\n{"op":"env"}\n')).trim().split("\n");
    expect(JSON.parse(first!)).toMatchObject({ ok: true, sessions: [expect.anything()] });
  });

  it("keeps the socket to its owner and group (0660 in a 0750 folder)", async () => {
    expect((await stat(socket.socketPath)).mode & 0o777).toBe(0o660);
    expect((await stat(path.dirname(socket.socketPath))).mode & 0o777).toBe(0o750);
  });
});

describe("controlSocketPathOf", () => {
  const base = {
    CONTROL_PLANE_URL: "http://127.0.0.1:9",
    WORKSPACE_ID: "00000000-0000-4000-8000-000000000001",
    BOOTSTRAP_TOKEN: "x",
  };
  it("is in the runtime folder on a VM and in the state folder otherwise", () => {
    expect(controlSocketPathOf(readAgentConfig({ ...base, WORKSPACE_USER: "workspace" }))).toBe(
      "/run/cloud-ai-workspaces-agent/control.sock",
    );
    expect(controlSocketPathOf(readAgentConfig({ ...base, STATE_DIR: "/srv/ws/state" }))).toBe(
      "/srv/ws/state/run/control.sock",
    );
  });
  it("moves to a short per-workspace path under /tmp when the path is too long", () => {
    const long = (dir: string) =>
      controlSocketPathOf(
        readAgentConfig({ ...base, STATE_DIR: `/srv/${dir}/${"d".repeat(100)}` }),
        1000,
      );
    expect(long("a")).toMatch(/^\/tmp\/caw-1000\/[0-9a-f]{16}\.sock$/);
    expect(long("a")).not.toBe(long("b"));
    expect(Buffer.byteLength(long("a"))).toBeLessThan(108);
  });
});

const skip = skipUnlessRoot();
describe.skipIf(skip)("as root, with the workspace user's group", () => {
  let user: TestUser;
  let stranger: TestUser;
  let rootSocket: ControlSocket;

  // The workspace user runs caw, so it must be able to read it: the built agent, copied into the
  // test's own folder, works wherever the checkout is (a private folder included); without a
  // build, the source runs, and the checkout must be readable by other users.
  let userCaw = "";

  beforeAll(async () => {
    [user, stranger] = await Promise.all([createTestUser(), createTestUser()]);
    userCaw = caw;
    if (existsSync(builtAgent)) {
      const copy = path.join(folder, "agent");
      await copyFile(builtAgent, copy);
      await chmod(copy, 0o755);
      const config = readAgentConfig({
        CONTROL_PLANE_URL: "http://127.0.0.1:9",
        WORKSPACE_ID: "00000000-0000-4000-8000-000000000001",
        BOOTSTRAP_TOKEN: "x",
        STATE_DIR: path.join(folder, "built-state"),
      });
      ({ caw: userCaw } = await prepareCawCommand(config, { program: [copy] }));
    }
    rootSocket = await startControlSocket({
      socketPath: path.join(folder, "vm-run", "control.sock"),
      group: user.gid,
      sessions: registry,
      secrets: () => secrets(),
      log: (message) => logs.push(message),
    });
  });
  afterAll(async () => {
    await rootSocket?.close();
    await Promise.all([user?.remove(), stranger?.remove()]);
  });

  const runAs = (who: TestUser) =>
    execFileAsync(
      "/usr/bin/setpriv",
      [
        ...["--reuid", String(who.uid), "--regid", String(who.gid), "--init-groups"],
        userCaw,
        "sessions",
      ],
      {
        env: {
          PATH: process.env.PATH,
          CAW_CONTROL_SOCKET: rootSocket.socketPath,
        } as object as NodeJS.ProcessEnv,
      },
    ).then(
      (done) => ({ code: 0, stderr: done.stderr }),
      (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
    );

  it("lets the workspace user in and keeps another user out, saying why", async () => {
    expect((await runAs(user)).code).toBe(0);
    const refused = await runAs(stranger);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/permission denied|No workspace agent/);
  });
});
