import { afterEach, describe, expect, it } from "vitest";
import type { SessionInfo } from "../../protocol/agent-sessions.ts";
import { startTestSessions, waitUntil, type TestSessions } from "../terminal/test-support.ts";
import { createWorkspaceSessions } from "./workspace-sessions.ts";

// The workspace's sessions on a real tmux server: what the agent must find again after a
// restart lives in tmux, and the plain PTY fallback behaves the same from outside.

let open: TestSessions[] = [];
afterEach(async () => {
  await Promise.all(open.map((test) => test.close()));
  open = [];
});

async function start(options: Parameters<typeof startTestSessions>[0] = {}) {
  const test = await startTestSessions(options);
  open.push(test);
  return test;
}

async function outputOf(sessions: TestSessions["sessions"], name: string, text: string) {
  for (let tries = 0; tries < 300; tries++) {
    const { text: output } = await sessions.readOutput(name, 50);
    if (output.includes(text)) return output;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`No "${text}" in ${name}.`);
}

describe("createWorkspaceSessions on tmux", () => {
  it("finds its sessions, their statuses and their running shells again after a restart", async () => {
    const test = await start();
    await test.sessions.create("build");
    await test.sessions.sendInput("build", "echo pid-$$", true);
    const before = await outputOf(test.sessions, "build", "pid-");
    await test.sessions.setStatus("build", "working", "compiling\tthe thing");
    await test.sessions.close(); // the agent goes; tmux stays

    const reports: SessionInfo[][] = [];
    const again = createWorkspaceSessions({
      tmux: test.tmux,
      shells: () => {
        throw new Error("no new session was asked for");
      },
      loginShell: "/bin/bash",
      cwd: "/",
      environment: {},
      log: () => {},
      report: (sessions) => reports.push(sessions),
      reportDelayMs: 10,
    });
    await again.start();
    const [found] = again.list();
    expect(found).toMatchObject({
      name: "build",
      status: "working",
      statusMessage: "compiling the thing",
    });
    expect(Date.parse(found!.statusChangedAt!)).not.toBeNaN();
    await waitUntil("the report", () => reports.length > 0);
    expect(reports[0]!.map((session) => session.name)).toEqual(["build"]);
    await again.sendInput("build", "echo again-pid-$$", true);
    const after = await outputOf(again, "build", "again-pid-");
    expect(/again-pid-(\d+)/.exec(after)![1]).toBe(/pid-(\d+)/.exec(before)![1]);
    await again.close();
  });

  it("names new sessions shell-N, keeps at most one per name and finds a renamed one by its old name", async () => {
    const { sessions } = await start();
    expect((await sessions.create()).name).toBe("shell-1");
    expect((await sessions.create()).name).toBe("shell-2");
    await expect(sessions.create("shell-1")).rejects.toMatchObject({ status: 409 });
    await sessions.rename("shell-1", "claude");
    // The shell started as shell-1 still says so in CAW_SESSION.
    expect((await sessions.setStatus("shell-1", "done", null)).name).toBe("claude");
    await sessions.end("claude");
    expect(sessions.list().map((session) => session.name)).toEqual(["shell-2"]);
    await expect(sessions.end("claude")).rejects.toMatchObject({ status: 404 });
  });

  it("reports a changed set once after the debounce, and not for output alone", async () => {
    const reports: SessionInfo[][] = [];
    const { sessions } = await start({ report: (list) => reports.push(list), reportDelayMs: 300 });
    await waitUntil("the first report (no sessions yet)", () => reports.length === 1);
    expect(reports[0]).toEqual([]);
    await sessions.create("a");
    await sessions.setStatus("a", "waiting", "needs input");
    await waitUntil("a report", () => reports.length > 1);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(reports).toHaveLength(2);
    expect(reports[1]![0]).toMatchObject({ name: "a", status: "waiting" });
    await sessions.sendInput("a", "echo out", true);
    await outputOf(sessions, "a", "out");
    await sessions.refresh();
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(reports).toHaveLength(2);
  });
});

describe("createWorkspaceSessions without tmux", () => {
  it("runs plain PTY shells with the same names, statuses and plain-text output", async () => {
    const { sessions } = await start({ useTmux: false });
    await sessions.create("plain");
    await sessions.sendInput("plain", "printf '\\033[31mred-%s\\033[0m\\n' $((6*7))", true);
    const text = await outputOf(sessions, "plain", "red-42");
    expect(text).not.toContain("\x1b");
    expect((await sessions.setStatus("plain", "error", "boom")).status).toBe("error");
    expect(sessions.list()).toHaveLength(1);
  });
});
