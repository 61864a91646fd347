import { hostname } from "node:os";
import { createDb } from "../../db/client.ts";
import { createKeyring } from "../crypto/envelope.ts";
import { readSettingsOrExit, requireDatabaseUrl, requireEncryptionKeys } from "../env.ts";
import { defaultBackoff } from "../jobs/queue.ts";
import { createJobRunner } from "../jobs/runner.ts";
import { createLogger } from "../logger.ts";
import { onShutdownSignal } from "../process/shutdown.ts";
import { readVersion } from "../process/version.ts";
import { describeWorkspaceAccess } from "../providers/local-isolation.ts";
import { readInstallationId } from "../services/system.ts";
import { createJobHandlers, failJobWorkspace } from "./job-handlers.ts";
import { periodicIntervalsOf, schedulePeriodicJobs } from "./periodic-jobs.ts";

// The worker program (SPEC §3, §7): runs jobs from the Postgres queue. Any number of workers
// may run at once; SIGTERM drains (stop taking jobs, finish or hand back the running ones).

const { env, databaseUrl, encryptionKeys } = readSettingsOrExit((env) => ({
  env,
  databaseUrl: requireDatabaseUrl(env),
  encryptionKeys: requireEncryptionKeys(env),
}));
const logger = createLogger({ level: env.LOG_LEVEL, service: "worker" });
const database = createDb(databaseUrl, {
  max: env.DATABASE_POOL_SIZE ?? env.WORKER_CONCURRENCY + 2,
  applicationName: "caw-worker",
});
const workerId = `${hostname()}:${process.pid}`;
const db = database.db;

const started = startRunner();
// Registered before start-up finishes, so a Ctrl-C that arrives meanwhile still drains.
onShutdownSignal(logger, async () => {
  const running = await started.catch(() => undefined);
  running?.stop();
  await running?.drain();
  await database.close();
  logger.info("worker stopped");
});

await started;
logger.info({ workerId, concurrency: env.WORKER_CONCURRENCY }, "worker ready");
const access = describeWorkspaceAccess(env.WORKSPACE_PROVIDER);
if (access.notice) logger.warn(access.notice);

async function startRunner() {
  const runner = createJobRunner({
    db,
    sql: database.sql,
    workerId,
    handlers: createJobHandlers({
      db,
      keyring: await createKeyring(encryptionKeys),
      env,
      version: await readVersion(),
      installId: await readInstallationId(db),
      logger,
    }),
    concurrency: env.WORKER_CONCURRENCY,
    leaseSeconds: env.JOB_LEASE_SECONDS,
    drainGraceMs: env.WORKER_DRAIN_GRACE_SECONDS * 1000,
    pollIntervalMs: 5_000,
    logger,
    backoff: { ...defaultBackoff, baseMs: env.JOB_BACKOFF_BASE_MS },
    onFinalFailure: (job, error) => failJobWorkspace(db, job, error),
  });
  await runner.start();
  const periodic = schedulePeriodicJobs(db, logger, periodicIntervalsOf(env));
  return { drain: runner.drain, stop: periodic.stop };
}
