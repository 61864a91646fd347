import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createDb, type DatabaseHandle } from "../../db/client.ts";
import { migrateDatabase } from "../../db/migrate.ts";
import { enqueueJob } from "../../server/jobs/queue.ts";
import { provideBenchDatabase } from "./support/bench-database.ts";
import { percentiles } from "./support/percentiles.ts";

// The job queue bench (SPEC §7): how soon a job starts after it is enqueued, and how fast
// one worker drains a backlog, each beside a baseline measured in the same run on the same
// database (a bare round trip, a bare NOTIFY, a bare SKIP LOCKED loop without our runner,
// and graphile-worker with its defaults, support/graphile-worker.ts).
// Prints one JSON line per figure on stdout; everything else goes to stderr.

const concurrency = 10;
const latencyJobs = 500;
const latencyPaceMs = 10;
const backlogJobs = 10_000;
const roundTrips = 500;

type Figure = Record<string, string | number>;

function emit(figure: Figure): void {
  process.stdout.write(`${JSON.stringify({ bench: "queue", ...figure })}\n`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function benchRoundTrip({ sql }: DatabaseHandle): Promise<Figure> {
  const samples: number[] = [];
  for (let i = 0; i < roundTrips; i++) {
    const started = performance.now();
    await sql`select 1`;
    samples.push(performance.now() - started);
  }
  return { metric: "baseline_select1_roundtrip_ms", ...percentiles(samples) };
}

/** From pg_notify to the listener's callback: the floor under a woken worker's latency. */
async function benchNotify({ sql }: DatabaseHandle): Promise<Figure> {
  const samples: number[] = [];
  let heard = () => {};
  const listening = await sql.listen("caw_bench_ping", () => heard());
  for (let i = 0; i < roundTrips; i++) {
    const started = performance.now();
    const arrived = new Promise<void>((resolve) => (heard = resolve));
    await sql`select pg_notify('caw_bench_ping', ${String(i)})`;
    await arrived;
    samples.push(performance.now() - started);
  }
  await listening.unlisten();
  return { metric: "baseline_notify_delivery_ms", ...percentiles(samples) };
}

async function insertBacklog({ sql }: DatabaseHandle, kind: string): Promise<number> {
  await sql`insert into jobs (kind) select ${kind} from generate_series(1, ${backlogJobs})`;
  const [row] = await sql<{ at: string }[]>`select extract(epoch from clock_timestamp()) as at`;
  return Number(row!.at);
}

/** The same two statements per job as the runner (claim, then complete), nothing else. */
async function benchRawClaimLoop(handle: DatabaseHandle): Promise<Figure> {
  const { sql } = handle;
  const startedAt = await insertBacklog(handle, "raw");
  const claimer = async () => {
    for (;;) {
      const [job] = await sql<{ id: string }[]>`
        update jobs set status = 'running', attempts = attempts + 1, started_at = now()
        where id = (select id from jobs where status = 'queued' and run_at <= now()
                    order by run_at, id for update skip locked limit 1)
        returning id`;
      if (!job) return;
      await sql`update jobs set status = 'succeeded', finished_at = now() where id = ${job.id}`;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, claimer));
  const jobsPerSecond = await measureThroughput(handle, "raw", startedAt);
  await sql`truncate jobs cascade`;
  return { metric: "baseline_raw_skip_locked_jobs_per_s", ...jobsPerSecond, concurrency };
}

async function measureThroughput(
  { sql }: DatabaseHandle,
  kind: string,
  startedAt: number,
): Promise<{ value: number; n: number }> {
  const [row] = await sql<{ done: number; finished: string }[]>`
    select count(*)::int as done, extract(epoch from max(finished_at)) as finished
    from jobs where kind = ${kind} and status = 'succeeded'`;
  const seconds = Number(row!.finished) - startedAt;
  return { value: Math.round(row!.done / seconds), n: row!.done };
}

async function waitForSucceeded({ sql }: DatabaseHandle, kind: string, count: number) {
  const deadline = Date.now() + 10 * 60_000;
  while (Date.now() < deadline) {
    const [row] = await sql<{ done: number }[]>`
      select count(*)::int as done from jobs where kind = ${kind} and status = 'succeeded'`;
    if (row!.done >= count) return;
    await sleep(100);
  }
  throw new Error(
    `${count} ${kind} jobs did not succeed within 10 minutes; is the worker running?`,
  );
}

/** Jobs enqueued one at a time at a steady pace; start = started_at - created_at, in SQL. */
async function benchEnqueueToStart(handle: DatabaseHandle): Promise<Figure> {
  const begin = performance.now();
  for (let i = 0; i < latencyJobs; i++) {
    await enqueueJob(handle.db, { kind: "noop" });
    await sleep(Math.max(0, begin + (i + 1) * latencyPaceMs - performance.now()));
  }
  await waitForSucceeded(handle, "noop", latencyJobs);
  const rows = await handle.sql<{ ms: string }[]>`
    select extract(epoch from started_at - created_at) * 1000 as ms
    from jobs where kind = 'noop'`;
  await handle.sql`truncate jobs cascade`;
  return { metric: "enqueue_to_start_ms", ...percentiles(rows.map((row) => Number(row.ms))) };
}

async function benchDrain(handle: DatabaseHandle): Promise<Figure> {
  const startedAt = await insertBacklog(handle, "noop");
  await waitForSucceeded(handle, "noop", backlogJobs);
  const jobsPerSecond = await measureThroughput(handle, "noop", startedAt);
  await handle.sql`truncate jobs cascade`;
  return { metric: "drain_jobs_per_s", ...jobsPerSecond, concurrency };
}

/** graphile-worker's drain of the same backlog: from the insert until its table is empty. */
async function benchGraphileDrain(url: string, { sql }: DatabaseHandle): Promise<Figure> {
  const worker = await startGraphileWorker(url);
  try {
    const pending = async () => {
      const [row] = await sql<{ left: number }[]>`
        select count(*)::int as left from graphile_worker._private_jobs`;
      return row!.left;
    };
    // Ready once it has run a job (it deletes finished ones).
    await sql`select graphile_worker.add_job('noop')`;
    while ((await pending()) > 0) await sleep(20);
    await sql`
      select graphile_worker.add_jobs(array_agg(('noop', '{}', null, null, null, null, null, null)::graphile_worker.job_spec))
      from generate_series(1, ${backlogJobs})`;
    const started = performance.now();
    while ((await pending()) > 0) await sleep(20);
    const seconds = (performance.now() - started) / 1000;
    return {
      metric: "baseline_graphile_worker_defaults_jobs_per_s",
      value: Math.round(backlogJobs / seconds),
      n: backlogJobs,
      concurrency: 1,
    };
  } finally {
    await stopWorker(worker);
  }
}

function startGraphileWorker(url: string): Promise<ChildProcess> {
  const entry = fileURLToPath(new URL("./support/graphile-worker.ts", import.meta.url));
  const worker = spawn(process.execPath, ["--import", "tsx", entry], {
    env: { ...process.env, DATABASE_URL: url },
    stdio: ["ignore", "ignore", "pipe"],
  });
  return new Promise((resolve, reject) => {
    worker.once("exit", (code) => reject(new Error(`graphile-worker exited (${code})`)));
    worker.stderr!.on("data", (chunk: Buffer) => {
      if (chunk.toString("utf8").includes("graphile-worker ready")) resolve(worker);
      else process.stderr.write(chunk);
    });
  });
}

function startWorker(url: string): ChildProcess {
  const entry = fileURLToPath(new URL("./support/queue-worker.ts", import.meta.url));
  // The worker's log lines are part of its cost but not of our output.
  return spawn(process.execPath, ["--import", "tsx", entry], {
    env: { ...process.env, DATABASE_URL: url, CONCURRENCY: String(concurrency) },
    stdio: ["ignore", "ignore", "inherit"],
  });
}

async function stopWorker(worker: ChildProcess): Promise<void> {
  if (worker.exitCode !== null || worker.signalCode !== null) return;
  const exited = new Promise((resolve) => worker.once("exit", resolve));
  worker.kill("SIGTERM");
  await exited;
}

/** The worker is ready once it has run a job. */
async function waitForWorker(handle: DatabaseHandle): Promise<void> {
  await enqueueJob(handle.db, { kind: "noop" });
  await waitForSucceeded(handle, "noop", 1);
  await handle.sql`truncate jobs cascade`;
}

async function runBench(url: string): Promise<void> {
  await migrateDatabase(url);
  const handle = createDb(url, { max: concurrency + 2, applicationName: "caw-bench" });
  let worker: ChildProcess | undefined;
  try {
    // Baselines first, while no worker competes for the database (or for the raw jobs).
    emit(await benchRoundTrip(handle));
    emit(await benchNotify(handle));
    emit(await benchRawClaimLoop(handle));
    worker = startWorker(url);
    await waitForWorker(handle);
    emit(await benchEnqueueToStart(handle));
    emit(await benchDrain(handle));
    await stopWorker(worker);
    worker = undefined;
    emit(await benchGraphileDrain(url, handle));
  } finally {
    if (worker) await stopWorker(worker);
    await handle.close();
  }
}

const { url, cleanup } = await provideBenchDatabase();
try {
  await runBench(url);
} finally {
  await cleanup();
}
