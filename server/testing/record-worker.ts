import { createDb } from "../../db/client.ts";
import { createJobRunner, type JobHandler } from "../jobs/runner.ts";
import { createLogger } from "../logger.ts";
import { onShutdownSignal } from "../process/shutdown.ts";

// A worker program for the runner's process tests: `record` writes the job id into the
// test's scratch table `job_runs`; `block` waits for its abort signal on the first attempt
// (so the test can kill the process under it) and records on later attempts.

const workerId = process.env.WORKER_ID ?? `record-${process.pid}`;
const logger = createLogger({ level: process.env.LOG_LEVEL ?? "info", service: workerId });
const database = createDb(process.env.DATABASE_URL!, { max: 4, applicationName: workerId });

const record: JobHandler = async (job) => {
  await database.sql`insert into job_runs (job_id, worker) values (${job.id}, ${workerId})`;
};

const block: JobHandler = async (job, context) => {
  if (job.attempts > 1) return record(job, context);
  await new Promise((_, reject) =>
    context.signal.addEventListener("abort", () => reject(context.signal.reason as Error)),
  );
};

const runner = createJobRunner({
  db: database.db,
  sql: database.sql,
  workerId,
  handlers: { record, block },
  concurrency: Number(process.env.CONCURRENCY ?? 4),
  leaseSeconds: Number(process.env.LEASE_SECONDS ?? 30),
  pollIntervalMs: Number(process.env.POLL_INTERVAL_MS ?? 1_000),
  logger,
});
await runner.start();
logger.info("record worker ready");

onShutdownSignal(logger, async () => {
  await runner.drain();
  await database.close();
});
