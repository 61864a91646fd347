// One statement for many callers (ADR 0026): the first call goes out at once; calls made
// while it is under way wait for it and then go out together, as one batch. A lone caller
// (a job enqueued on a quiet queue) waits for nobody; a worker draining a backlog sends one
// take and one complete statement per batch of jobs instead of per job.

type Waiter<Item, Result> = {
  item: Item;
  resolve: (result: Result) => void;
  reject: (error: unknown) => void;
};

/** `flush` answers one result per item, in order; its error is every caller's of that batch. */
export function createCoalescer<Item, Result>(
  flush: (items: Item[]) => Promise<Result[]>,
): (item: Item) => Promise<Result> {
  const waiting: Waiter<Item, Result>[] = [];
  let flushing = false;
  async function flushAll(): Promise<void> {
    flushing = true;
    while (waiting.length > 0) {
      const batch = waiting.splice(0);
      try {
        const results = await flush(batch.map((waiter) => waiter.item));
        batch.forEach((waiter, index) => waiter.resolve(results[index]!));
      } catch (error) {
        for (const waiter of batch) waiter.reject(error);
      }
    }
    flushing = false;
  }
  return (item) =>
    new Promise<Result>((resolve, reject) => {
      waiting.push({ item, resolve, reject });
      if (!flushing) void flushAll();
    });
}
