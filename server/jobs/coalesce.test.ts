import { describe, expect, it } from "vitest";
import { createCoalescer } from "./coalesce.ts";

describe("createCoalescer", () => {
  it("sends a lone call at once, and the calls made meanwhile together in one batch", async () => {
    const batches: number[][] = [];
    let release = () => {};
    const double = createCoalescer(async (items: number[]) => {
      batches.push(items);
      if (batches.length === 1) await new Promise<void>((resolve) => (release = resolve));
      return items.map((item) => item * 2);
    });
    const first = double(1);
    expect(batches).toEqual([[1]]);
    const later = [double(2), double(3), double(4)];
    release();
    expect(await Promise.all([first, ...later])).toEqual([2, 4, 6, 8]);
    expect(batches).toEqual([[1], [2, 3, 4]]);
  });

  it("fails every call of a failed batch, and goes on with the next", async () => {
    let calls = 0;
    const flaky = createCoalescer(async (items: string[]) => {
      calls++;
      // The second batch (b and c, made while the first was under way) fails.
      if (calls === 2) throw new Error("database away");
      return items.map((item) => item.toUpperCase());
    });
    const results = ["a", "b", "c"].map((item) =>
      flaky(item).catch((error: Error) => error.message),
    );
    expect(await Promise.all(results)).toEqual(["A", "database away", "database away"]);
    expect(await flaky("d")).toBe("D");
  });
});
