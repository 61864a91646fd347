import { afterEach, describe, expect, it } from "vitest";
import { createSessionManager, type SessionManager } from "./session-manager.ts";
import type { ShellCommand } from "./terminal-session.ts";
import { bashShell, recordConsumer, waitUntil } from "./test-support.ts";

const size = { cols: 80, rows: 24 };
let managers: SessionManager[] = [];

function startManager(...args: Parameters<typeof createSessionManager>) {
  const manager = createSessionManager(...args);
  managers.push(manager);
  return manager;
}

afterEach(async () => {
  await Promise.all(managers.map((manager) => manager.killAll()));
  managers = [];
});

describe("createSessionManager", () => {
  it("reports the exit code only after every byte of output", async () => {
    const manager = startManager({
      shell: bashShell("head -c 300000 /dev/zero | tr '\\0' Z; exit 7"),
    });
    const session = manager.create(size);
    const record = recordConsumer();
    session.attach(record.consumer);
    await waitUntil("the exit", () => record.exit !== null);
    expect(record.exit).toEqual({ code: 7, signal: null });
    expect(record.bytesAtExit).toBe(300_000);
    expect(record.text()).toMatch(/^Z+$/);
    expect(session.exit).toEqual({ code: 7, signal: null });
  });

  it("delivers the end of the output when the shell exits while the session is paused", async () => {
    const shell = bashShell("printf start; sleep 0.3; head -c 2000 /dev/zero | tr '\\0' Z");
    const manager = startManager({ shell });
    const session = manager.create(size);
    // Pauses at the first bytes and never resumes: the shell ends while nobody reads.
    const record = recordConsumer(() => session.pause());
    session.attach(record.consumer);
    await waitUntil("the exit", () => record.exit !== null);
    expect(record.text()).toMatch(/^startZ+$/);
    expect(record.text()).toHaveLength(2005);
  });

  it("records the signal that ended a shell", async () => {
    const manager = startManager({ shell: bashShell() });
    const session = manager.create(size);
    const record = recordConsumer();
    session.attach(record.consumer);
    await waitUntil("a prompt", () => record.text().includes("$ "));
    session.kill("SIGKILL");
    await waitUntil("the exit", () => record.exit !== null);
    expect(record.exit?.signal).toBe(9);
  });

  it("keeps scrollback, and hands output to the latest consumer only", async () => {
    const manager = startManager({ shell: bashShell() });
    const session = manager.create(size);
    const first = recordConsumer();
    const detachFirst = session.attach(first.consumer);
    session.write("echo one-$((40+2))\r");
    await waitUntil("the first echo", () => first.text().includes("one-42"));
    const second = recordConsumer();
    session.attach(second.consumer);
    expect(first.replaced).toBe(true);
    detachFirst(); // late detach of a replaced consumer must not detach the new one
    session.write("echo two-$((40+2))\r");
    await waitUntil("the second echo", () => second.text().includes("two-42"));
    expect(first.text()).not.toContain("two-42");
    expect(session.readScrollback().toString()).toMatch(/one-42[\s\S]*two-42/);
  });

  it("counts input and connections as activity, but not output", async () => {
    let tick = 0;
    const manager = startManager({ shell: bashShell(), now: () => new Date(++tick * 1000) });
    const session = manager.create(size);
    expect(manager.readActivity()).toEqual({ sessions: 1, lastActivityAt: null });
    manager.recordActivity();
    expect(manager.readActivity().lastActivityAt).toEqual(new Date(1000));
    const record = recordConsumer();
    session.attach(record.consumer);
    session.write("sleep 0.2; echo la''ter\r");
    const typedAt = manager.readActivity().lastActivityAt;
    expect(typedAt).toEqual(new Date(2000));
    await waitUntil("the late output", () => record.text().includes("later"));
    expect(manager.readActivity().lastActivityAt).toEqual(typedAt);
  });

  it("asks a shell source at each new session and shows its notice to the first consumer only", async () => {
    let choice: { shell: ShellCommand; notice: string | null } = {
      shell: bashShell("echo first; sleep 5"),
      notice: "on the server for now",
    };
    const manager = startManager({ shell: () => choice });
    const first = manager.create(size);
    const record = recordConsumer();
    first.attach(record.consumer);
    await waitUntil("the first shell", () => record.text().includes("first"));
    expect(record.notices).toEqual(["on the server for now"]);
    const again = recordConsumer();
    first.attach(again.consumer);
    expect(again.notices).toEqual([]);
    choice = { shell: bashShell("echo second; sleep 5"), notice: null };
    const second = manager.create(size);
    const later = recordConsumer();
    second.attach(later.consumer);
    await waitUntil("the second shell", () => later.text().includes("second"));
    expect(later.notices).toEqual([]);
  });

  it("lists sessions, forgets exited ones a little later, and kills all", async () => {
    const manager = startManager({ shell: bashShell(), exitedRetentionMs: 50 });
    const sessions = [manager.create(size), manager.create(size), manager.create(size)];
    expect(new Set(sessions.map((session) => session.id)).size).toBe(3);
    expect(manager.list()).toHaveLength(3);
    expect(manager.get(sessions[1]!.id)).toBe(sessions[1]);
    sessions[0]!.write("exit 3\r");
    await waitUntil("the first exit", () => sessions[0]!.exit !== null);
    expect(manager.readActivity().sessions).toBe(2);
    await waitUntil("the exited session to go", () => !manager.get(sessions[0]!.id));
    await manager.killAll();
    expect(sessions.every((session) => session.exit !== null)).toBe(true);
    expect(manager.readActivity().sessions).toBe(0);
  });
});
