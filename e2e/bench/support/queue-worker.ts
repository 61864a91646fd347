import { createDb } from "../../../db/client.ts";
import { createJobRunner } from "../../../server/jobs/runner.ts";
import { createLogger } from "../../../server/logger.ts";
import { onShutdownSignal } from "../../../server/process/shutdown.ts";

// The worker the queue bench measures: our runner with one `noop` handler, configured as
// the worker program would be, so the figures include the runner's own costs (leases,
// logging, bookkeeping) and nothing else.

const concurrency = Number(process.env.CONCURRENCY ?? 10);
const logger = createLogger({ level: process.env.LOG_LEVEL ?? "info", service: "bench-worker" });
const database = createDb(process.env.DATABASE_URL!, {
  max: concurrency + 2,
  applicationName: "caw-bench-worker",
});
const runner = createJobRunner({
  db: database.db,
  sql: database.sql,
  workerId: `bench-${process.pid}`,
  handlers: { noop: async () => {} },
  concurrency,
  leaseSeconds: 30,
  pollIntervalMs: 2_000,
  logger,
});
await runner.start();

onShutdownSignal(logger, async () => {
  await runner.drain();
  await database.close();
});
