import { describe, expect, it } from "vitest";
import { createIdleMonitor, formatDuration, type IdleStop } from "./idle-monitor.ts";

const minute = 60_000;

/** A monitor on a fake clock: 30 min timeout, 5 min warning, 8 h longest working time. */
function setUp() {
  let clock = 0;
  let lastInput: number | null = null;
  let status: string | null = null;
  const warnings: string[] = [];
  const announced: (IdleStop | null)[] = [];
  const reasons: string[] = [];
  const monitor = createIdleMonitor({
    timeoutMs: 30 * minute,
    warningMs: 5 * minute,
    maxWorkingMs: 8 * 60 * minute,
    lastInputAt: () => (lastInput === null ? null : new Date(lastInput)),
    sessions: () => [{ status: null }, { status }],
    warn: (message) => void warnings.push(message),
    announce: (stop) => void announced.push(stop),
    reportIdle: async (reason) => void reasons.push(reason),
    now: () => clock,
  });
  /** Moves the clock to `minutes`, checking every minute on the way, as the agent does. */
  const runTo = async (minutes: number) => {
    while (clock < minutes * minute) {
      clock = Math.min(clock + minute, minutes * minute);
      await monitor.check();
    }
  };
  return {
    monitor,
    warnings,
    announced,
    reasons,
    runTo,
    typeAt: (minutes: number) => (lastInput = minutes * minute),
    setStatus: (value: string | null) => (status = value),
  };
}

describe("idle monitor", () => {
  it("warns once five minutes before, then reports idle once at the timeout", async () => {
    const idle = setUp();
    await idle.runTo(24);
    expect(idle.warnings).toEqual([]);
    await idle.runTo(27);
    expect(idle.warnings).toEqual([
      "This workspace stops at 00:30 UTC, in 5 minutes (idle for 30 min): its sessions end, " +
        "your files are kept. To keep it running, type anything in a terminal, or an AI agent " +
        "can run `caw status working`.",
    ]);
    expect(idle.announced).toEqual([{ at: new Date(30 * minute), reason: "idle for 30 min" }]);
    expect(idle.reasons).toEqual([]);
    await idle.runTo(40);
    expect(idle.reasons).toEqual(["idle for 30 min"]);
  });

  it("keeps a workspace with a working session alive past the timeout, with no input", async () => {
    const idle = setUp();
    idle.setStatus("working");
    await idle.runTo(6 * 60);
    expect(idle.reasons).toEqual([]);
    expect(idle.warnings).toEqual([]);
    expect(idle.monitor.announced()).toBeNull();
  });

  it("stops one timeout after the last working moment once the agent is done", async () => {
    const idle = setUp();
    idle.setStatus("working");
    await idle.runTo(100);
    idle.setStatus("done");
    await idle.runTo(129);
    expect(idle.reasons).toEqual([]);
    expect(idle.monitor.announced()).toEqual({
      at: new Date(130 * minute),
      reason: "idle for 30 min",
    });
    await idle.runTo(130);
    expect(idle.reasons).toEqual(["idle for 30 min"]);
  });

  it("counts from the last input when it is later than the last working moment", async () => {
    const idle = setUp();
    idle.setStatus("waiting");
    idle.typeAt(50);
    await idle.runTo(79);
    expect(idle.reasons).toEqual([]);
    await idle.runTo(80);
    expect(idle.reasons).toEqual(["idle for 30 min"]);
  });

  it("stops a session working with no input for the longest working time", async () => {
    const idle = setUp();
    idle.typeAt(10);
    idle.setStatus("working");
    await idle.runTo(8 * 60 + 5);
    expect(idle.warnings).toEqual([
      "This workspace stops at 08:10 UTC, in 5 minutes (an AI agent worked 8 h with no input): " +
        "its sessions end, your files are kept. To keep it running, type anything in a terminal.",
    ]);
    expect(idle.reasons).toEqual([]);
    await idle.runTo(8 * 60 + 10);
    expect(idle.reasons).toEqual(["an AI agent worked 8 h with no input"]);
  });

  it("input during a long working run starts the longest working time again", async () => {
    const idle = setUp();
    idle.setStatus("working");
    await idle.runTo(7 * 60);
    idle.typeAt(7 * 60);
    await idle.runTo(14 * 60);
    expect(idle.reasons).toEqual([]);
    await idle.runTo(15 * 60);
    expect(idle.reasons).toEqual(["an AI agent worked 8 h with no input"]);
  });

  it("activity after a warning calls the announced stop off, and warns again later", async () => {
    const idle = setUp();
    await idle.runTo(26);
    expect(idle.announced).toHaveLength(1);
    idle.setStatus("working");
    await idle.runTo(27);
    // A working session moves the coming stop to the runaway limit, far away: called off.
    expect(idle.announced).toEqual([
      { at: new Date(30 * minute), reason: "idle for 30 min" },
      null,
    ]);
    expect(idle.monitor.announced()).toBeNull();
    idle.setStatus(null);
    idle.typeAt(28);
    await idle.runTo(54);
    expect(idle.warnings).toHaveLength(2);
    expect(idle.announced.at(-1)).toEqual({ at: new Date(58 * minute), reason: "idle for 30 min" });
    await idle.runTo(58);
    expect(idle.reasons).toEqual(["idle for 30 min"]);
  });

  it("tries the report again at the next check when it failed", async () => {
    let calls = 0;
    let clock = 31 * minute;
    const monitor = createIdleMonitor({
      timeoutMs: 30 * minute,
      warningMs: 5 * minute,
      maxWorkingMs: 8 * 60 * minute,
      lastInputAt: () => new Date(0),
      sessions: () => [],
      warn: () => {},
      announce: () => {},
      reportIdle: async () => {
        calls += 1;
        if (calls === 1) throw new Error("control plane down");
      },
      now: () => clock,
    });
    await expect(monitor.check()).rejects.toThrow("control plane down");
    clock += minute;
    await monitor.check();
    await monitor.check();
    expect(calls).toBe(2);
  });
});

describe("formatDuration", () => {
  it("says durations as people do", () => {
    expect([30 * minute, 8 * 60 * minute, 90 * minute, 45_000].map(formatDuration)).toEqual([
      "30 min",
      "8 h",
      "1 h 30 min",
      "45 s",
    ]);
  });
});
