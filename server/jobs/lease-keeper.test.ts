import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { keepLease, type LeaseLoss } from "./lease-keeper.ts";

// The lease keeper with a simulated clock: another worker may take a job the moment its lease
// ends, so an unrenewable lease must stop the job before then, never after.

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function keep(renew: () => Promise<boolean>) {
  const losses: { loss: LeaseLoss; at: number }[] = [];
  const errors: unknown[] = [];
  const takenAt = Date.now();
  const stop = keepLease({
    leaseSeconds: 10,
    takenAt,
    renew,
    onLost: (loss) => losses.push({ loss, at: Date.now() - takenAt }),
    onRenewError: (error) => errors.push(error),
  });
  return { losses, errors, stop };
}

describe("keepLease", () => {
  it("keeps a lease that renews, for as long as it runs", async () => {
    const renew = vi.fn(async () => true);
    const { losses, stop } = keep(renew);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(losses).toEqual([]);
    expect(renew.mock.calls.length).toBeGreaterThanOrEqual(25);
    stop();
  });

  it("says 'not-ours' at once when a renewal is refused", async () => {
    const { losses } = keep(async () => false);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(losses).toEqual([{ loss: "not-ours", at: 2_000 }]);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(losses).toHaveLength(1);
  });

  it("stops a job whose renewals fail a quarter of a lease before the lease ends", async () => {
    const { losses, errors } = keep(async () => Promise.reject(new Error("database away")));
    await vi.advanceTimersByTimeAsync(7_400);
    expect(losses).toEqual([]);
    await vi.advanceTimersByTimeAsync(200);
    expect(losses).toEqual([{ loss: "expiring", at: 7_500 }]);
    expect(errors.length).toBeGreaterThan(0);
  });

  it("counts the lease from the last renewal that got through, not from when it was taken", async () => {
    let healthy = true;
    const { losses } = keep(async () => {
      if (healthy) return true;
      throw new Error("database away");
    });
    await vi.advanceTimersByTimeAsync(20_000);
    healthy = false;
    // Last successful renewal asked at 20 s: the lease ends at 30 s, the job stops at 27.5 s.
    await vi.advanceTimersByTimeAsync(7_400);
    expect(losses).toEqual([]);
    await vi.advanceTimersByTimeAsync(200);
    expect(losses).toEqual([{ loss: "expiring", at: 27_500 }]);
  });

  it("stops a job whose renewal hangs, without waiting for the hung request", async () => {
    const { losses } = keep(() => new Promise<boolean>(() => {}));
    await vi.advanceTimersByTimeAsync(7_500);
    expect(losses).toEqual([{ loss: "expiring", at: 7_500 }]);
  });

  it("reports nothing once stopped", async () => {
    const { losses, stop } = keep(async () => false);
    stop();
    await vi.advanceTimersByTimeAsync(30_000);
    expect(losses).toEqual([]);
  });
});
