import { describe, expect, it } from "vitest";
import {
  estimateCost,
  hoursPerMonth,
  serverCost,
  volumeCost,
  type CostPeriod,
} from "./cost-estimate.ts";

const start = new Date("2026-05-01T00:00:00Z");
const hoursLater = (hours: number) => new Date(start.getTime() + hours * 3_600_000);

const server = (from: number, to: number | null, hourly: number | null): CostPeriod => ({
  resource: "server",
  sizeGb: null,
  priceHourly: hourly,
  priceMonthly: hourly === null ? null : 4,
  currency: "EUR",
  startedAt: hoursLater(from),
  endedAt: to === null ? null : hoursLater(to),
});
const volume: CostPeriod = {
  resource: "volume",
  sizeGb: 10,
  priceMonthly: 0.0524,
  priceHourly: null,
  currency: "EUR",
  startedAt: start,
  endedAt: null,
};

describe("cost estimate", () => {
  it("adds each server period at its own price, and the volume for all its time", () => {
    // Two starts, two orders at two prices: 3 h at 0.01, then 2 h (still running) at 0.02.
    const periods = [volume, server(0, 3, 0.01), server(10, null, 0.02)];
    const estimate = estimateCost(periods, hoursLater(12));
    const volumePart = (10 * 0.0524 * 12) / hoursPerMonth;
    expect(estimate.total).toBeCloseTo(3 * 0.01 + 2 * 0.02 + volumePart, 10);
    expect(estimate.serverHours).toBeCloseTo(5, 10);
    expect(estimate.perHourNow).toBeCloseTo(0.02 + (10 * 0.0524) / hoursPerMonth, 10);
    expect(estimate).toMatchObject({ currency: "EUR", complete: true });
  });

  it("costs only the volume while stopped", () => {
    const estimate = estimateCost([volume, server(0, 1, 0.01)], hoursLater(100));
    expect(estimate.perHourNow).toBeCloseTo((10 * 0.0524) / hoursPerMonth, 10);
  });

  it("never bills a server more than its monthly price per month", () => {
    expect(serverCost(10, 0.01, 4)).toBeCloseTo(0.1, 10);
    expect(serverCost(600, 0.01, 4)).toBe(4);
    expect(serverCost(hoursPerMonth + 10, 0.01, 4)).toBeCloseTo(4 + 0.1, 10);
    expect(serverCost(10, 0.01, null)).toBeCloseTo(0.1, 10);
  });

  it("prices a volume by size, GB-month and time", () => {
    expect(volumeCost(hoursPerMonth, 10, 0.05)).toBeCloseTo(0.5, 10);
    expect(volumeCost(0, 10, 0.05)).toBe(0);
  });

  it("says when a price is unknown, and has no currency for local workspaces", () => {
    expect(estimateCost([server(0, 2, null)], hoursLater(3))).toMatchObject({
      total: 0,
      serverHours: 2,
      complete: false,
    });
    const local = { ...server(0, 2, 0), currency: null, priceMonthly: 0 };
    expect(estimateCost([local], hoursLater(3))).toMatchObject({
      currency: null,
      total: 0,
      complete: true,
    });
    expect(estimateCost([], start)).toMatchObject({ currency: null, total: 0, perHourNow: 0 });
  });

  it("counts no time for a period that ends before it starts (a skewed clock)", () => {
    expect(estimateCost([server(5, 4, 0.01)], hoursLater(6)).total).toBe(0);
  });
});
