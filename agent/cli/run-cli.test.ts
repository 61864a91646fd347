import { describe, expect, it } from "vitest";
import { isCliInvocation, runCli, type CliIo } from "./run-cli.ts";

// The CLI's own decisions, in this process: when the binary is the CLI, and what it says
// before it ever reaches the agent. control-socket.test.ts runs caw as a real child process
// against a real socket; shell-launcher.test.ts runs it from a real tmux.

function fakeIo(environment: Partial<CliIo["environment"]> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    stdout: (text) => void out.push(text),
    stderr: (text) => void err.push(text),
    environment: {
      socketPath: "/nonexistent/caw-test/control.sock",
      session: null,
      pane: null,
      home: "/nonexistent",
      ...environment,
    },
    readHookInput: async () => null,
  };
  return { io, out: () => out.join(""), err: () => err.join("") };
}

describe("isCliInvocation", () => {
  it("is the CLI when run as caw or with a CLI command first, else the agent", () => {
    expect(isCliInvocation(["/node", "/x/agent/main.ts"], "node")).toBe(false);
    expect(isCliInvocation(["/node", "/x/agent/main.ts", "git-credential"], "node")).toBe(false);
    expect(isCliInvocation(["/node", "/x/agent/main.ts", "status", "done"], "node")).toBe(true);
    expect(isCliInvocation(["/node", "/x/agent/main.ts", "caw", "env"], "node")).toBe(true);
    // The single executable repeats how it was invoked in argv[1]: the caw symlink.
    expect(isCliInvocation(["/x/agent", "/usr/local/bin/caw"], "caw")).toBe(true);
    expect(isCliInvocation(["/x/agent", "/x/bin/caw", "--version"], "/x/bin/caw")).toBe(true);
    expect(isCliInvocation(["/x/agent", "/x/agent"], "/x/agent")).toBe(false);
  });
});

describe("runCli", () => {
  it("prints help, and refuses an unknown command with how to find the right one", async () => {
    const help = fakeIo();
    expect(await runCli(["help"], help.io)).toBe(0);
    expect(help.out()).toContain("caw status working|waiting|done|error [message…]");
    const unknown = fakeIo();
    expect(await runCli(["frobnicate"], unknown.io)).toBe(2);
    expect(unknown.err()).toBe(
      'caw: unknown command "frobnicate". Run `caw help` for the commands.\n',
    );
  });

  it("refuses a status it does not know, naming the ones it does", async () => {
    const run = fakeIo({ session: "claude" });
    expect(await runCli(["status", "busy"], run.io)).toBe(2);
    expect(run.err()).toBe(
      "caw status: expected one of working, waiting, done, error; e.g. caw status working\n",
    );
  });

  it("says how to fix it outside a workspace session, and a hook still succeeds", async () => {
    const plain = fakeIo();
    expect(await runCli(["status", "working"], plain.io)).toBe(1);
    expect(plain.err()).toBe(
      "caw status: not inside a workspace session: run this in a terminal of the workspace " +
        "(its shells set CAW_SESSION), or set CAW_SESSION to a session's name.\n",
    );
    const hook = fakeIo();
    expect(await runCli(["status", "working", "--hook"], hook.io)).toBe(0);
    expect(hook.err()).toContain("not inside a workspace session");
  });

  it("says where no agent listens", async () => {
    const run = fakeIo({ session: "claude" });
    expect(await runCli(["sessions"], run.io)).toBe(1);
    expect(run.err()).toContain(
      "No workspace agent is listening at /nonexistent/caw-test/control.sock: run this in a terminal",
    );
  });

  it("never fails Codex over a notification it cannot read, nor acts on one it ignores", async () => {
    const bad = fakeIo({ session: "claude" });
    expect(await runCli(["codex-notify", "{not json"], bad.io)).toBe(0);
    expect(bad.err()).toContain("expected Codex's notification JSON");
    // Any other type is ignored before the socket is asked (which here would fail loudly).
    const other = fakeIo({ session: "claude" });
    expect(await runCli(["codex-notify", '{"type":"approval-requested"}'], other.io)).toBe(0);
    expect(other.err()).toBe("");
  });
});
