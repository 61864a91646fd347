import { describe, expect, it } from "vitest";
import { createIdleMonitor } from "./idle-monitor.ts";

function setUp() {
  let clock = 0;
  let lastActivity = 0;
  const warnings: string[] = [];
  let idleReports = 0;
  const monitor = createIdleMonitor({
    timeoutMs: 30 * 60_000,
    warningMs: 5 * 60_000,
    lastActivityAt: () => new Date(lastActivity),
    warn: (message) => void warnings.push(message),
    reportIdle: async () => void idleReports++,
    now: () => clock,
  });
  return {
    monitor,
    warnings,
    reports: () => idleReports,
    at: (minutes: number) => (clock = minutes * 60_000),
    typeAt: (minutes: number) => (lastActivity = minutes * 60_000),
  };
}

describe("idle monitor", () => {
  it("warns once five minutes before, then reports idle once at the timeout", async () => {
    const idle = setUp();
    idle.at(24);
    await idle.monitor.check();
    expect(idle.warnings).toEqual([]);
    idle.at(25);
    await idle.monitor.check();
    idle.at(27);
    await idle.monitor.check();
    expect(idle.warnings).toEqual([
      "This workspace stops in 5 minutes unless you type something. Your files are kept.",
    ]);
    expect(idle.reports()).toBe(0);
    idle.at(30);
    await idle.monitor.check();
    idle.at(31);
    await idle.monitor.check();
    expect(idle.reports()).toBe(1);
  });

  it("starts counting again after activity, warning again later", async () => {
    const idle = setUp();
    idle.at(26);
    await idle.monitor.check();
    idle.typeAt(28);
    idle.at(40);
    await idle.monitor.check();
    expect(idle.reports()).toBe(0);
    idle.at(54);
    await idle.monitor.check();
    expect(idle.warnings).toHaveLength(2);
    idle.at(58);
    await idle.monitor.check();
    expect(idle.reports()).toBe(1);
  });
});
