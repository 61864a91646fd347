import { hostname } from "node:os";
import { createDb } from "../../db/client.ts";
import { readMigrationJournal } from "../../db/migrate.ts";
import { createKeyring } from "../crypto/envelope.ts";
import { readSettingsOrExit, requireDatabaseUrl, requireEncryptionKeys } from "../env.ts";
import { createWorkerMetrics } from "../http/metrics.ts";
import { defaultBackoff } from "../jobs/queue.ts";
import { createJobRunner } from "../jobs/runner.ts";
import { createLogger } from "../logger.ts";
import { createDrainSwitch } from "../process/draining.ts";
import { onShutdownSignal } from "../process/shutdown.ts";
import { readVersion } from "../process/version.ts";
import { describeWorkspaceAccess } from "../providers/local-isolation.ts";
import { createReadinessCheck } from "../services/health.ts";
import { readInstallationId } from "../services/system.ts";
import { createJobHandlers, failJobWorkspace } from "./job-handlers.ts";
import { periodicIntervalsOf, schedulePeriodicJobs } from "./periodic-jobs.ts";
import { startWorkerHttp, type WorkerHttp } from "./worker-http.ts";

// The worker program (SPEC §3, §7): runs jobs from the Postgres queue. Any number of workers
// may run at once; SIGTERM drains (/readyz turns 503, no new jobs are taken, the running ones
// finish or are handed back). /healthz, /readyz and /metrics are on WORKER_PORT.

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
const metrics = createWorkerMetrics();
const drainSwitch = createDrainSwitch(
  createReadinessCheck(database.sql, await readMigrationJournal()),
  "The worker is draining (it was asked to stop): it takes no new jobs and exits once its running jobs finished or were handed back.",
);
let probes: WorkerHttp | undefined;
// Set once the runner starts (after the probe port); the shutdown handler may come first.
const startup: { runner?: ReturnType<typeof startRunner> } = {};

// Registered before start-up finishes, so a Ctrl-C that arrives meanwhile still drains. Past
// the grace, aborted handlers get 5 s to settle and LISTEN 2 s to end (runner.ts): the
// deadline leaves room for those and the database's close.
onShutdownSignal(
  logger,
  async () => {
    drainSwitch.begin();
    const running = await startup.runner?.catch(() => undefined);
    running?.stop();
    await running?.drain();
    await probes?.close();
    await database.close();
    logger.info("worker stopped");
  },
  { deadlineMs: (env.WORKER_DRAIN_GRACE_SECONDS + 20) * 1000 },
);

// The probe port first: a worker that cannot serve it stops before it takes any job.
try {
  probes = await startWorkerHttp({
    port: env.WORKER_PORT,
    host: env.HOST,
    checkReadiness: drainSwitch.checkReadiness,
    registry: metrics.registry,
    logger,
  });
} catch (error) {
  logger.fatal({ err: error }, (error as Error).message);
  process.exit(1);
}
startup.runner = startRunner();
await startup.runner;
logger.info(
  { workerId, concurrency: env.WORKER_CONCURRENCY, port: probes.port, host: env.HOST },
  "worker ready",
);
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
      observeOutboundRequest: metrics.observeOutboundRequest,
    }),
    concurrency: env.WORKER_CONCURRENCY,
    leaseSeconds: env.JOB_LEASE_SECONDS,
    drainGraceMs: env.WORKER_DRAIN_GRACE_SECONDS * 1000,
    pollIntervalMs: 5_000,
    logger,
    backoff: { ...defaultBackoff, baseMs: env.JOB_BACKOFF_BASE_MS },
    onFinalFailure: (job, error) => failJobWorkspace(db, job, error),
    onJobSettled: metrics.observeJob,
  });
  await runner.start();
  const periodic = schedulePeriodicJobs(db, logger, periodicIntervalsOf(env));
  return { drain: runner.drain, stop: periodic.stop };
}
