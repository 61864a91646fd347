import { RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";

/**
 * Point leases: a process reserves a budget's points from the shared store in blocks and
 * spends them locally, so most spends cost no statement (ADR 0026, "What is left", item 1).
 *
 * Exactness: every point spent locally was granted by the store in the window it is spent
 * in, and the store grants at most `points` per window, so all processes together never
 * allow more than the budget. What a process holds and does not spend is lost to the key's
 * other processes for that window: they may be refused up to (processes − 1) × blockSize
 * points early, never allowed too many.
 */

/**
 * A lease is 1/20th (5 %) of the budget: large enough that a busy key reserves once per 20
 * spends instead of every spend, small enough that the points idle in other processes'
 * leases (lost to the caller until the window ends) stay a small share of the budget.
 */
export const leasesPerBudget = 20;

/** What the store answered to one reservation, whether it had room or not. */
export type Reservation = { consumedPoints: number; msBeforeNext: number };

/**
 * Adds `points` to the key's count in the shared store and answers the count, as the
 * rate-limiter-flexible stores do (the points are counted even when over the budget).
 * It rejects only when the store cannot be reached.
 */
export type Reserve = (key: string, points: number) => Promise<Reservation>;

/** Undefined when the spend fits; otherwise how long until the key's window ends. */
export type SpendPoints = (
  key: string,
  cost: number,
) => Promise<{ msBeforeNext: number } | undefined>;

/** A SpendPoints that can say how many leases it holds (for tests of the sweep). */
export type PointLeases = SpendPoints & { heldLeases: () => number };

export type PointLeaseOptions = {
  /** The budget per window and key. */
  points: number;
  /** The store's window, to tell a reservation in the lease's window from one in the next. */
  windowMs: number;
  reserve: Reserve;
  /** Points reserved at once; default max(1, floor(points / leasesPerBudget)). */
  blockSize?: number;
  now?: () => number;
};

type Lease = {
  remaining: number;
  windowEndsAt: number;
  /** The store counted the whole budget in this window: what the lease lacks, nobody has. */
  exhausted: boolean;
};

/** Leases are swept of ended windows once the map doubles past this (amortised O(1)). */
const minimumSweepSize = 1024;

export function blockSizeFor(points: number): number {
  return Math.max(1, Math.floor(points / leasesPerBudget));
}

export function createPointLeases(options: PointLeaseOptions): PointLeases {
  const { points, windowMs, reserve, now = Date.now } = options;
  const blockSize = options.blockSize ?? blockSizeFor(points);
  const leases = new Map<string, Lease>();
  // One reservation per key at a time: concurrent spends wait for it instead of each reserving.
  const inFlight = new Map<string, Promise<void>>();
  let sweepAt = minimumSweepSize;

  function leaseOf(key: string, at: number): Lease | undefined {
    const lease = leases.get(key);
    if (lease && lease.windowEndsAt <= at) leases.delete(key);
    return lease && lease.windowEndsAt > at ? lease : undefined;
  }

  function sweep(at: number) {
    if (leases.size < sweepAt) return;
    for (const [key, lease] of leases) if (lease.windowEndsAt <= at) leases.delete(key);
    sweepAt = Math.max(minimumSweepSize, 2 * leases.size);
  }

  async function reserveBlock(key: string, cost: number): Promise<void> {
    const block = Math.max(cost, blockSize);
    const { consumedPoints, msBeforeNext } = await reserve(key, block);
    const at = now();
    // The store counted `block` on top of what others had: only the part under the budget is ours.
    const granted = Math.min(block, Math.max(0, points - (consumedPoints - block)));
    const windowEndsAt = at + msBeforeNext;
    // Read at completion: spends that fitted meanwhile took from it. Its points are only good in
    // their own window; two windows' ends are at least a window apart.
    const previous = leaseOf(key, at);
    const sameWindow = previous && Math.abs(previous.windowEndsAt - windowEndsAt) < windowMs / 2;
    const carried = sameWindow ? previous.remaining : 0;
    leases.set(key, {
      remaining: carried + granted,
      windowEndsAt,
      exhausted: consumedPoints >= points,
    });
    sweep(at);
  }

  function reservationFor(key: string, cost: number): Promise<void> {
    const pending = inFlight.get(key);
    if (pending) return pending;
    const started = reserveBlock(key, cost).finally(() => inFlight.delete(key));
    inFlight.set(key, started);
    return started;
  }

  const spend: SpendPoints = async (key, cost) => {
    for (;;) {
      const at = now();
      const lease = leaseOf(key, at);
      if (lease && lease.remaining >= cost) {
        lease.remaining -= cost;
        return undefined;
      }
      if (lease?.exhausted) return { msBeforeNext: lease.windowEndsAt - at };
      // A store outage rejects here, for this spend and every one waiting on the reservation.
      await reservationFor(key, cost);
    }
  };
  return Object.assign(spend, { heldLeases: () => leases.size });
}

/** Reserve through a rate-limiter-flexible limiter, whose refusal carries the same count. */
export function reserveThrough(limiter: RateLimiterAbstract): Reserve {
  return async (key, points) => {
    try {
      return await limiter.consume(key, points);
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return rejection;
      throw rejection;
    }
  };
}
