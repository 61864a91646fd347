import { describe, expect, it } from "vitest";
import { formatHourly, formatMoney, formatMonthly } from "./money.ts";

describe("money", () => {
  it("shows hourly prices with the digits that tell them apart", () => {
    expect(formatHourly(0.0059, "EUR")).toBe("€0.0059/h");
    expect(formatHourly(0.4012, "EUR")).toBe("€0.401/h");
    expect(formatMonthly(3.5581, "EUR")).toBe("€3.56/month");
    expect(formatMoney(12.345, "USD")).toBe("$12.35");
  });
});
