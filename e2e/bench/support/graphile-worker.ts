import { run } from "graphile-worker";

// The queue bench's graphile-worker baseline: its `run` with every default (one job at a
// time, a 2 s poll, LISTEN for new jobs, its own log line per job on stdout) and one no-op
// task, on the same PostgreSQL as ours. It installs its schema (graphile_worker) itself.

const runner = await run({
  connectionString: process.env.DATABASE_URL!,
  taskList: { noop: async () => {} },
});
process.stderr.write(`${JSON.stringify({ msg: "graphile-worker ready" })}\n`);
await runner.promise;
