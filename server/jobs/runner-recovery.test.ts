import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createDb, type DatabaseHandle } from "../../db/client.ts";
import { migrateDatabase } from "../../db/migrate.ts";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../database/embedded-postgres.ts";
import { createLogger } from "../logger.ts";
import {
  captureLogs,
  createGate,
  createRunnerPool,
  readJob,
  waitFor,
  waitForJobStatus,
} from "../testing/job-runner-kit.ts";
import { startNodeProgram, type RunningProgram } from "../testing/program.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { enqueueJob } from "./queue.ts";
import type { JobHandler } from "./runner.ts";

// The runner when things go wrong: several worker processes, a worker killed mid-job, and
// PostgreSQL going away and coming back.

const runners = createRunnerPool();
const programs: RunningProgram[] = [];

afterEach(async () => {
  await runners.drainAll();
  await Promise.all(programs.splice(0).map((program) => program.stop("SIGKILL")));
});

describe("worker processes", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
    await database.sql`create table job_runs (job_id bigint, worker text)`;
  });
  afterAll(async () => {
    await database.drop();
  });

  async function startRecordWorker(workerId: string, env: Record<string, string> = {}) {
    const program = startNodeProgram("server/testing/record-worker.ts", [], {
      DATABASE_URL: database.url,
      WORKER_ID: workerId,
      ...env,
    });
    programs.push(program);
    await program.waitForLog("record worker ready");
    return program;
  }

  it("run each of 1,000 jobs exactly once between two workers", async () => {
    await Promise.all([startRecordWorker("one"), startRecordWorker("two")]);
    const inserted = await database.sql<{ id: string }[]>`
      insert into jobs (kind) select 'record' from generate_series(1, 1000) returning id`;
    const ids = inserted.map((row) => Number(row.id));
    await waitFor(
      () => database.sql<{ done: number }[]>`
        select count(*)::int as done from jobs where id in ${database.sql(ids)} and status = 'succeeded'`,
      ([row]) => row!.done === 1000,
      "1,000 jobs to succeed",
      120_000,
    );
    const runs = await database.sql<{ job_id: string; runs: number }[]>`
      select job_id, count(*)::int as runs from job_runs
      where job_id in ${database.sql(ids)} group by job_id`;
    expect(runs).toHaveLength(1000);
    expect(runs.filter((row) => row.runs !== 1)).toEqual([]);
  }, 180_000);

  it("take over the job of a worker killed with SIGKILL once its lease ends", async () => {
    const doomed = await startRecordWorker("doomed", { LEASE_SECONDS: "2" });
    const job = await enqueueJob(database.db, { kind: "block" });
    await waitFor(
      () => readJob(database.db, job.id),
      (row) => row.status === "running" && row.lockedBy === "doomed",
      "the doomed worker to take the job",
    );
    await doomed.stop("SIGKILL");
    await startRecordWorker("rescuer", { LEASE_SECONDS: "2", POLL_INTERVAL_MS: "200" });
    expect(await waitForJobStatus(database.db, job.id, "succeeded")).toMatchObject({
      attempts: 2,
      lockedBy: "rescuer",
    });
    const runs = await database.sql`select worker from job_runs where job_id = ${job.id}`;
    expect(runs.map((row) => row.worker)).toEqual(["rescuer"]);
  }, 90_000);
});

describe("through a PostgreSQL restart", () => {
  // A cluster of its own, since the tests stop and start it.
  let dataDir: string;
  let cluster: EmbeddedPostgres;
  let restartCluster: () => Promise<void>;
  const handles: DatabaseHandle[] = [];
  // After a restart, a fresh pool for the test's own queries: the runner's pool is the one
  // under test, and it may hold connections the restart cut.
  const connect = () => {
    const handle = createDb(cluster.url, { max: 4 });
    handles.push(handle);
    return handle;
  };
  /** Records the job in job_runs once `wait` resolves. */
  const recordAfter =
    (handle: DatabaseHandle, wait: JobHandler): JobHandler =>
    async (job, context) => {
      await wait(job, context);
      await handle.sql`insert into job_runs (job_id, worker) values (${job.id}, 'restart')`;
    };
  const recordedJobIds = async (handle: DatabaseHandle) =>
    (await handle.sql`select job_id from job_runs order by job_id`).map((row) =>
      Number(row.job_id),
    );

  beforeAll(async () => {
    // The postgres user (when we are root) must be able to enter the folder.
    dataDir = await mkdtemp(path.join(os.tmpdir(), "caw-restart-"));
    await chmod(dataDir, 0o755);
    const logger = createLogger({ level: "warn", service: "restart-test" });
    cluster = await startEmbeddedPostgres({ dataDir, logger, durable: false });
    const port = Number(new URL(cluster.url).port);
    restartCluster = async () => {
      cluster = await startEmbeddedPostgres({ dataDir, logger, durable: false, port });
    };
    await migrateDatabase(cluster.url);
  }, 120_000);
  afterEach(async () => {
    await runners.drainAll();
    await Promise.all(handles.splice(0).map((handle) => handle.close()));
  });
  afterAll(async () => {
    await cluster?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it("finishes the job it was running and hears NOTIFY again", async () => {
    const runnerDb = connect();
    await runnerDb.sql`create table job_runs (job_id bigint, worker text)`;
    const gate = createGate();
    const logs = captureLogs();
    const record = recordAfter(runnerDb, async () => {});
    // A poll far longer than the test: only NOTIFY can wake the runner for new jobs.
    await runners.start(
      runnerDb,
      { record, gated: recordAfter(runnerDb, gate.handler) },
      { logger: logs.logger, pollIntervalMs: 10 * 60_000 },
    );
    const before = await enqueueJob(runnerDb.db, { kind: "record" });
    await waitForJobStatus(runnerDb.db, before.id, "succeeded");
    const inFlight = await enqueueJob(runnerDb.db, { kind: "gated" });
    await gate.entered;

    await cluster.stop();
    await restartCluster();
    gate.open();
    const listens = () => Promise.resolve(logs.count("listening for new jobs"));
    await waitFor(listens, (count) => count >= 2, "LISTEN again");
    const test = connect();
    const after = await enqueueJob(test.db, { kind: "record" });

    for (const job of [inFlight, after]) await waitForJobStatus(test.db, job.id, "succeeded");
    expect(await recordedJobIds(test)).toEqual([before.id, inFlight.id, after.id]);
  }, 120_000);

  it("keeps polling and keeps job outcomes through an outage, even starting during one", async () => {
    const runnerDb = connect();
    await runnerDb.sql`truncate job_runs`;
    const gate = createGate();
    const handlers = {
      gated: recordAfter(runnerDb, gate.handler),
      record: recordAfter(runnerDb, async () => {}),
    };
    const polling = captureLogs();
    const pollingRunner = await runners.start(runnerDb, handlers, {
      logger: polling.logger,
      pollIntervalMs: 100,
    });
    const job = await enqueueJob(runnerDb.db, { kind: "gated" });
    await gate.entered;

    await cluster.stop();
    gate.open(); // The handler's insert now fails, and so does recording that failure.
    const errors = () => Promise.resolve(polling.count("job queue unreachable; retrying"));
    await waitFor(errors, Boolean, "the runner to notice the outage");
    const late = captureLogs();
    // start() must neither hang nor throw while PostgreSQL is away.
    await runners.start(connect(), handlers, { logger: late.logger, pollIntervalMs: 10 * 60_000 });
    // The server stays away until the handler has failed and recording that failed too: a
    // query made while the driver waits to reconnect would otherwise just wait for the server.
    const unrecorded = () =>
      Promise.resolve(polling.count("could not record the job's outcome; retrying"));
    await waitFor(unrecorded, Boolean, "recording the outcome to fail in the outage");
    await restartCluster();

    const test = connect();
    const retried = await waitForJobStatus(test.db, job.id, "succeeded");
    // At least two: the attempt that failed in the outage, and the one that recorded the job.
    expect(retried.attempts).toBeGreaterThanOrEqual(2);
    expect(polling.count("could not record the job's outcome; retrying")).toBeGreaterThan(0);
    const recovered = () => Promise.resolve(polling.count("job queue reachable again"));
    await waitFor(recovered, Boolean, "the polling runner to recover");
    await pollingRunner.drain();
    // Only the runner that started during the outage is left, and only NOTIFY wakes it.
    const listens = () => Promise.resolve(late.count("listening for new jobs"));
    await waitFor(listens, Boolean, "the late runner to LISTEN");
    const after = await enqueueJob(test.db, { kind: "record" });
    await waitForJobStatus(test.db, after.id, "succeeded");
    expect(await recordedJobIds(test)).toEqual([job.id, after.id]);
  }, 120_000);
});
