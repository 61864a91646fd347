import { execFile } from "node:child_process";
import { stat } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAgentConfig } from "../config.ts";
import { createTestUser, skipUnlessRoot, type TestUser } from "../testing/test-users.ts";
import { commandAs } from "../workspace-user.ts";
import { controlSocketPathOf } from "./control-socket.ts";
import { isCliInvocation } from "./run-cli.ts";
import { runProgram, startCliHarness, type CliHarness } from "./testing/cli-harness.ts";

// `caw` as a shell runs it: the sh wrapper prepareCawCommand made, a real child process, the
// agent's real control socket (with an in-memory session registry behind it).

const run = promisify(execFile);
let harness: CliHarness;

beforeAll(async () => {
  harness = await startCliHarness({ sessions: ["claude", "build-1"], panes: { "%7": "build-1" } });
}, 60_000);
afterAll(async () => harness?.stop());

const shellEnvironment = (extra: Record<string, string> = {}) => ({
  PATH: "/usr/bin:/bin",
  CAW_CONTROL_SOCKET: harness.socket.socketPath,
  ...extra,
});
const caw = (args: string[], extra: Record<string, string> = {}, input = "") =>
  runProgram(harness.command.caw, args, shellEnvironment(extra), input);

describe("caw status", () => {
  it("sets the status and message of the session named by CAW_SESSION", async () => {
    const result = await caw(["status", "working", "fixing", "the", "tests"], {
      CAW_SESSION: "claude",
    });
    expect(result).toMatchObject({ code: 0, stdout: "claude: working (fixing the tests)\n" });
    expect(harness.registry.sessions.get("claude")).toMatchObject({
      status: "working",
      statusMessage: "fixing the tests",
    });
  });

  it("finds the session through $TMUX_PANE when CAW_SESSION is not set", async () => {
    const result = await caw(["status", "waiting"], { TMUX_PANE: "%7" });
    expect(result.code).toBe(0);
    expect(harness.registry.sessions.get("build-1")).toMatchObject({
      status: "waiting",
      statusMessage: null,
    });
  });

  it("says how to fix it outside a workspace session, an unknown session or status", async () => {
    const outside = await caw(["status", "done"]);
    expect(outside.code).toBe(1);
    expect(outside.stderr).toContain(
      "not inside a workspace session: run this in a terminal of the workspace",
    );
    const pane = await caw(["status", "done"], { TMUX_PANE: "%99" });
    expect(pane.stderr).toContain("Not inside a workspace session");
    const unknown = await caw(["status", "done"], { CAW_SESSION: "gone" });
    expect([unknown.code, unknown.stderr]).toEqual([
      1,
      "caw status: There is no session named gone.\n",
    ]);
    const status = await caw(["status", "busy"], { CAW_SESSION: "claude" });
    expect([status.code, status.stderr]).toEqual([
      2,
      "caw status: expected one of working, waiting, done, error; e.g. caw status working\n",
    ]);
  });

  it("as a hook, never fails the AI agent, and takes Claude Code's notification message", async () => {
    const notification = JSON.stringify({
      hook_event_name: "Notification",
      message: "Claude needs your permission to use Bash",
    });
    const hook = await caw(
      ["status", "waiting", "--hook"],
      { CAW_SESSION: "claude" },
      notification,
    );
    expect([hook.code, hook.stdout]).toEqual([0, ""]);
    expect(harness.registry.sessions.get("claude")?.statusMessage).toBe(
      "Claude needs your permission to use Bash",
    );
    const noAgent = await runProgram(harness.command.caw, ["status", "working", "--hook"], {
      PATH: "/usr/bin:/bin",
      CAW_SESSION: "claude",
      CAW_CONTROL_SOCKET: path.join(harness.folder, "nothing.sock"),
    });
    expect(noAgent.code).toBe(0);
    expect(noAgent.stderr).toContain("No workspace agent is listening at");
  });
});

describe("caw codex-notify", () => {
  it("sets done when a turn completes and ignores other notifications", async () => {
    await caw(["status", "working"], { CAW_SESSION: "build-1" });
    const other = await caw(["codex-notify", JSON.stringify({ type: "something-else" })], {
      CAW_SESSION: "build-1",
    });
    expect(other.code).toBe(0);
    expect(harness.registry.sessions.get("build-1")?.status).toBe("working");
    const turn = JSON.stringify({ type: "agent-turn-complete", "turn-id": "1" });
    expect((await caw(["codex-notify", turn], { CAW_SESSION: "build-1" })).code).toBe(0);
    expect(harness.registry.sessions.get("build-1")?.status).toBe("done");
  });
});

describe("caw sessions and caw env", () => {
  it("lists the sessions as a table and as JSON", async () => {
    const table = await caw(["sessions"]);
    expect(table.stdout.split("\n")[0]).toMatch(
      /^NAME\s+STARTED\s+LAST OUTPUT\s+STATUS\s+MESSAGE$/,
    );
    expect(table.stdout).toMatch(/^claude\s+\S+ ago\s+-\s+waiting\s+Claude needs/m);
    const json = JSON.parse((await caw(["sessions", "--json"])).stdout) as { name: string }[];
    expect(json.map((session) => session.name)).toEqual(["claude", "build-1"]);
  });

  it("prints exports that a shell evaluates back to exactly the secrets, and nothing else", async () => {
    harness.secrets.TRICKY = `it's "$HOME" \`id\`\nline two \\ end`;
    harness.secrets.OPENAI_API_KEY = "sk-test-123";
    const env = await caw(["env"]);
    expect(env.code).toBe(0);
    expect(env.stdout.split("\n").filter(Boolean)).toHaveLength(3); // TRICKY spans two lines
    const { stdout } = await run("/bin/sh", [
      "-c",
      'eval "$1"; printf "%s|%s" "$TRICKY" "$OPENAI_API_KEY"',
      "sh",
      env.stdout,
    ]);
    expect(stdout).toBe(`${harness.secrets.TRICKY}|sk-test-123`);
    expect(harness.logs.join("\n")).not.toContain("sk-test-123");
  });

  it("answers a request it does not understand with an error, not a crash", async () => {
    const answer = await new Promise<string>((resolve) => {
      const connection = net.createConnection(harness.socket.socketPath);
      let text = "";
      connection.on("data", (chunk) => (text += chunk.toString()));
      connection.on("end", () => resolve(text));
      connection.end('{"op":"rm -rf"}\n');
    });
    expect(JSON.parse(answer)).toMatchObject({ ok: false });
  });

  it("tells help and unknown commands apart", async () => {
    expect((await caw(["help"])).stdout).toContain("caw status working|waiting|done|error");
    const unknown = await caw(["frobnicate"]);
    expect([unknown.code, unknown.stderr]).toEqual([
      2,
      'caw: unknown command "frobnicate". Run `caw help` for the commands.\n',
    ]);
  });
});

describe("dispatch and the socket's place", () => {
  it("is the CLI when run as caw or with a CLI command first, else the agent", () => {
    expect(isCliInvocation(["/node", "/x/agent/main.ts"], "node")).toBe(false);
    expect(isCliInvocation(["/node", "/x/agent/main.ts", "git-credential"], "node")).toBe(false);
    expect(isCliInvocation(["/node", "/x/agent/main.ts", "status", "done"], "node")).toBe(true);
    expect(isCliInvocation(["/x/agent", "/x/agent", "caw", "env"], "/x/agent")).toBe(true);
    expect(isCliInvocation(["/x/agent", "/usr/local/bin/caw", "sessions"], "caw")).toBe(true);
  });

  it("uses the runtime folder on a VM, the state folder here, and /tmp when too long", () => {
    const base = {
      CONTROL_PLANE_URL: "http://127.0.0.1:9",
      WORKSPACE_ID: "00000000-0000-4000-8000-000000000012",
      BOOTSTRAP_TOKEN: "cawb_test",
    };
    const vm = readAgentConfig({ ...base, WORKSPACE_USER: "workspace" });
    expect(controlSocketPathOf(vm)).toBe("/run/cloud-ai-workspaces-agent/control.sock");
    const local = readAgentConfig({ ...base, STATE_DIR: "/var/lib/caw/ws-1" });
    expect(controlSocketPathOf(local)).toBe("/var/lib/caw/ws-1/run/control.sock");
    const deep = readAgentConfig({ ...base, STATE_DIR: `/data/${"x".repeat(120)}` });
    expect(controlSocketPathOf(deep, 1234)).toMatch(/^\/tmp\/caw-1234\/[0-9a-f]{16}\.sock$/);
  });
});

const skip = skipUnlessRoot();

describe.skipIf(skip)("who may connect", () => {
  let user: TestUser;
  let stranger: TestUser;
  let vm: CliHarness;

  beforeAll(async () => {
    [user, stranger] = await Promise.all([createTestUser(), createTestUser()]);
    vm = await startCliHarness({ group: user.gid });
  }, 60_000);
  afterAll(async () => {
    await vm?.stop();
    await Promise.all([user?.remove(), stranger?.remove()]);
  });

  it("lets the workspace user's group in, and no other user", async () => {
    const info = await stat(vm.socket.socketPath);
    expect([info.gid, info.mode & 0o777]).toEqual([user.gid, 0o660]);
    const folder = await stat(path.dirname(vm.socket.socketPath));
    expect([folder.gid, folder.mode & 0o777]).toEqual([user.gid, 0o750]);
    const asUser = (who: TestUser) => {
      const command = commandAs(who, vm.command.caw, ["status", "working"]);
      return runProgram(command.file, command.args, {
        PATH: "/usr/bin:/bin",
        HOME: who.homedir,
        CAW_SESSION: "claude",
        CAW_CONTROL_SOCKET: vm.socket.socketPath,
      });
    };
    const own = await asUser(user);
    expect([own.code, own.stderr]).toEqual([0, ""]);
    const other = await asUser(stranger);
    expect(other.code).not.toBe(0);
    expect(vm.registry.sessions.get("claude")?.status).toBe("working");
  });
});
