import { RateLimiterDrizzle } from "rate-limiter-flexible";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb } from "../../db/client.ts";
import { rateLimits } from "../../db/schema.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import {
  blockSizeFor,
  createPointLeases,
  reserveThrough,
  type Reservation,
  type Reserve,
  type SpendPoints,
} from "./point-lease.ts";

// Point leases over the real store (RateLimiterDrizzle in PostgreSQL), with two limiter
// instances standing for two web processes, and over an in-memory fixed window with a fake
// clock for the cases that need time to pass.

/** Counts the reservations (statements) a lease makes. */
function counted(reserve: Reserve): Reserve & { calls: number } {
  const wrapped = Object.assign(
    async (key: string, points: number) => {
      wrapped.calls += 1;
      return reserve(key, points);
    },
    { calls: 0 },
  );
  return wrapped;
}

async function spendAll(spend: SpendPoints, key: string, attempts: number, cost = 1) {
  const answers = await Promise.all(Array.from({ length: attempts }, () => spend(key, cost)));
  return answers.filter((answer) => answer === undefined).length;
}

describe("point leases over PostgreSQL", () => {
  let database: TestDatabase;
  let prefix = 0;
  /** Two limiter instances over one table and prefix: two web processes. */
  const processes = (points: number, duration = 60) => {
    // Each test its own prefix, so no test sees another's counts.
    const keyPrefix = `lease-${++prefix}`;
    return [1, 2].map(() => {
      const limiter = new RateLimiterDrizzle({
        storeClient: database.db,
        schema: rateLimits,
        keyPrefix,
        points,
        duration,
      });
      const reserve = counted(reserveThrough(limiter));
      const spend = createPointLeases({ points, windowMs: duration * 1000, reserve });
      return Object.assign(spend, { reserve });
    });
  };

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it("never grants two processes more than the budget, and refuses at most one lease early", async () => {
    const [first, second] = processes(200);
    let granted = 0;
    for (let attempt = 0; attempt < 300; attempt++)
      if ((await (attempt % 2 ? first! : second!)("token", 1)) === undefined) granted += 1;
    expect(granted).toBeLessThanOrEqual(200);
    expect(granted).toBeGreaterThanOrEqual(200 - blockSizeFor(200));
  });

  it("holds the budget under concurrent spends of both processes, batches included", async () => {
    const [first, second] = processes(200);
    const spends = Array.from({ length: 150 }, (_, index) =>
      (index % 2 ? first! : second!)("token", 1 + (index % 3)),
    );
    const costs = Array.from({ length: 150 }, (_, index) => 1 + (index % 3));
    const answers = await Promise.all(spends);
    const granted = answers.reduce((sum, answer, index) => sum + (answer ? 0 : costs[index]!), 0);
    expect(costs.reduce((sum, cost) => sum + cost)).toBeGreaterThan(200);
    expect(granted).toBeLessThanOrEqual(200);
    // Batches of up to 3 may find a lease too small: at most a lease and a batch early per process.
    expect(granted).toBeGreaterThanOrEqual(200 - 2 * (blockSizeFor(200) + 2));
  });

  it("has room again once the window has ended", async () => {
    const [first, second] = processes(40, 2);
    expect(await spendAll(first!, "token", 30)).toBe(30);
    expect(await spendAll(second!, "token", 30)).toBeLessThanOrEqual(10);
    const refusal = await first!("token", 1);
    expect(refusal?.msBeforeNext).toBeGreaterThan(0);
    expect(refusal?.msBeforeNext).toBeLessThanOrEqual(2000);
    await new Promise((resolve) => setTimeout(resolve, (refusal?.msBeforeNext ?? 0) + 50));
    expect(await spendAll(second!, "token", 20)).toBe(20);
    expect(await spendAll(first!, "token", 20)).toBe(20);
  });

  it.each([1, 2, 7, 19])(
    "keeps a budget of %i exact: one statement per spend, the next one refused",
    async (points) => {
      const [first, second] = processes(points);
      for (let spend = 0; spend < points; spend++)
        expect(await (spend % 2 ? first! : second!)("token", 1)).toBeUndefined();
      expect(first!.reserve.calls + second!.reserve.calls).toBe(points);
      const refused = await (points % 2 ? first! : second!)("token", 1);
      expect(refused?.msBeforeNext).toBeGreaterThan(0);
      expect(await (points % 2 ? second! : first!)("token", 1)).toBeDefined();
    },
  );

  it("answers 50 concurrent spends of one key with a reservation per lease, not per spend", async () => {
    const [spend] = processes(200);
    expect(await spendAll(spend!, "token", 50)).toBe(50);
    expect(spend!.reserve.calls).toBeLessThanOrEqual(Math.ceil(50 / blockSizeFor(200)) + 1);
  });

  it("lets a database outage during a reservation reject the spend", async () => {
    const handle = createDb(database.url, { max: 1 });
    await handle.close();
    const limiter = new RateLimiterDrizzle({
      storeClient: handle.db,
      schema: rateLimits,
      points: 200,
      duration: 60,
    });
    const spend = createPointLeases({
      points: 200,
      windowMs: 60_000,
      reserve: reserveThrough(limiter),
    });
    await expect(spend("token", 1)).rejects.toThrow(/Failed query/);
  });
});

/** A fixed window per key, counted like RateLimiterDrizzle's upsert, on a clock we move. */
function memoryStore(windowMs: number) {
  const clock = { now: 1_000_000 };
  const rows = new Map<string, { points: number; expire: number }>();
  const reserve = async (key: string, points: number): Promise<Reservation> => {
    await Promise.resolve();
    const row = rows.get(key);
    if (!row || row.expire <= clock.now) rows.set(key, { points, expire: clock.now + windowMs });
    else row.points += points;
    const current = rows.get(key)!;
    return { consumedPoints: current.points, msBeforeNext: current.expire - clock.now };
  };
  return { clock, rows, reserve: counted(reserve) };
}

describe("point leases", () => {
  it("keeps what a short grant gave for smaller spends, and then refuses without a statement", async () => {
    const { clock, reserve } = memoryStore(60_000);
    const other = createPointLeases({
      points: 100,
      windowMs: 60_000,
      reserve,
      now: () => clock.now,
    });
    const spend = createPointLeases({
      points: 100,
      windowMs: 60_000,
      reserve,
      now: () => clock.now,
    });
    expect(await spendAll(other, "key", 97)).toBe(97);
    // The other process holds 3 points of its last lease of 5; we reserve 5 and get 0.
    expect(await spend("key", 5)).toBeDefined();
    expect(await spendAll(other, "key", 4)).toBe(3);
    const calls = reserve.calls;
    const refusal = await other("key", 1);
    expect(reserve.calls).toBe(calls);
    expect(refusal?.msBeforeNext).toBe(60_000);
  });

  it("spends a partial grant on smaller spends of the same window", async () => {
    const { clock, reserve } = memoryStore(60_000);
    const spend = createPointLeases({
      points: 100,
      windowMs: 60_000,
      reserve,
      now: () => clock.now,
    });
    await reserve("key", 97);
    expect(await spend("key", 5)).toBeDefined(); // granted 3 of 5
    expect(await spend("key", 2)).toBeUndefined();
    expect(await spend("key", 1)).toBeUndefined();
    expect(await spend("key", 1)).toBeDefined();
    expect(reserve.calls).toBe(2);
  });

  it("carries a lease's rest into the next block of the same window, not into the next window", async () => {
    const { clock, reserve, rows } = memoryStore(60_000);
    const spend = createPointLeases({
      points: 200,
      windowMs: 60_000,
      reserve,
      now: () => clock.now,
    });
    expect(await spend("key", 1)).toBeUndefined(); // lease 10, 9 left
    expect(await spend("key", 15)).toBeUndefined(); // 9 + 15 reserved, 9 left
    expect(await spendAll(spend, "key", 9)).toBe(9);
    expect(reserve.calls).toBe(2);
    expect(rows.get("key")!.points).toBe(25);
    clock.now += 59_999;
    expect(await spend("key", 1)).toBeUndefined(); // a new block: 9 left, window ends in 1 ms
    clock.now += 1;
    expect(await spend("key", 12)).toBeUndefined(); // the new window: 12 reserved, nothing carried
    const calls = reserve.calls;
    expect(await spend("key", 1)).toBeUndefined();
    expect(reserve.calls).toBe(calls + 1);
  });

  it("does not carry a lease's rest into a window the store started anew", async () => {
    const { clock, reserve, rows } = memoryStore(60_000);
    const spend = createPointLeases({
      points: 200,
      windowMs: 60_000,
      reserve,
      now: () => clock.now,
    });
    expect(await spend("key", 1)).toBeUndefined(); // lease 10, 9 left
    // The store's window restarts under the lease (another process's clock, or a reset).
    clock.now += 30_000;
    rows.delete("key");
    expect(await spend("key", 15)).toBeUndefined();
    const calls = reserve.calls;
    expect(await spend("key", 1)).toBeUndefined();
    expect(reserve.calls).toBe(calls + 1);
  });

  it("drops leases whose window ended once it holds many", async () => {
    const { clock, reserve } = memoryStore(1000);
    const spend = createPointLeases({ points: 100, windowMs: 1000, reserve, now: () => clock.now });
    for (let key = 0; key < 1100; key++) await spend(`key-${key}`, 1);
    expect(spend.heldLeases()).toBe(1100); // all in their window: none may go
    clock.now += 1000;
    for (let key = 0; key < 1100; key++) await spend(`later-${key}`, 1);
    // The sweep at 2048 leases dropped the 1100 ended ones, not one of the new ones.
    expect(spend.heldLeases()).toBe(1100);
  });

  it("fails every spend waiting on a reservation the store failed, and reserves again after", async () => {
    let failing = true;
    const { clock, reserve } = memoryStore(60_000);
    const spend = createPointLeases({
      points: 200,
      windowMs: 60_000,
      now: () => clock.now,
      reserve: async (key, points) => {
        if (failing) throw new Error("connection refused");
        return reserve(key, points);
      },
    });
    const spends = Array.from({ length: 5 }, () => spend("key", 1));
    for (const result of await Promise.allSettled(spends)) expect(result.status).toBe("rejected");
    failing = false;
    expect(await spend("key", 1)).toBeUndefined();
  });
});
