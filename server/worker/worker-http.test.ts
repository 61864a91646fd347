import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { readMigrationJournal } from "../../db/migrate.ts";
import { createWorkerMetrics } from "../http/metrics.ts";
import { enqueueJob } from "../jobs/queue.ts";
import { createLogger } from "../logger.ts";
import { createDrainSwitch } from "../process/draining.ts";
import { createReadinessCheck } from "../services/health.ts";
import { createRunnerPool, readJob, waitFor, waitForJobStatus } from "../testing/job-runner-kit.ts";
import { checkWithPromtool } from "../testing/promtool.ts";
import { createTestDatabase, type TestDatabase } from "../testing/test-database.ts";
import { startWorkerHttp, type WorkerHttp } from "./worker-http.ts";

const logger = createLogger({ level: "silent", service: "worker-http-test" });
let database: TestDatabase;
const open: WorkerHttp[] = [];
const runners = createRunnerPool();

beforeAll(async () => {
  database = await createTestDatabase();
});
afterEach(async () => {
  await runners.drainAll();
  await Promise.all(open.splice(0).map((server) => server.close()));
});
afterAll(async () => {
  await database.drop();
});

async function startProbes(db: TestDatabase = database, port = 0) {
  const metrics = createWorkerMetrics();
  const drain = createDrainSwitch(
    createReadinessCheck(db.sql, await readMigrationJournal()),
    "The worker is draining.",
  );
  const probes = await startWorkerHttp({
    port,
    host: "127.0.0.1",
    checkReadiness: drain.checkReadiness,
    registry: metrics.registry,
    logger,
  });
  open.push(probes);
  const get = (path: string) => fetch(`http://127.0.0.1:${probes.port}${path}`);
  return { metrics, drain, probes, get };
}

describe("the worker's probes", () => {
  it("answers /healthz, and /readyz until it drains, then 503 with the reason", async () => {
    const { drain, get } = await startProbes();
    expect((await get("/healthz")).status).toBe(200);
    const ready = await get("/readyz");
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, migrations: "current" });
    drain.begin();
    const draining = await get("/readyz");
    expect(draining.status).toBe(503);
    expect(await draining.json()).toMatchObject({
      ready: false,
      draining: true,
      database: "reachable",
      reason: "The worker is draining.",
    });
    // Alive all the same: an orchestrator must not restart a draining worker.
    expect((await get("/healthz")).status).toBe(200);
  });

  it("is not ready while migrations are pending", async () => {
    const unmigrated = await createTestDatabase({ migrated: false });
    try {
      const { get } = await startProbes(unmigrated);
      const response = await get("/readyz");
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ ready: false, migrations: "pending" });
    } finally {
      await unmigrated.drop();
    }
  });

  it("answers other paths and methods with what it serves", async () => {
    const { get, probes } = await startProbes();
    const missing = await get("/api/trpc/system.info");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({
      error: "not found: the worker answers /healthz, /readyz and /metrics",
    });
    const post = await fetch(`http://127.0.0.1:${probes.port}/readyz`, { method: "POST" });
    expect(post.status).toBe(405);
  });

  it("says which setting to change when its port is taken", async () => {
    const { probes } = await startProbes();
    await expect(startProbes(database, probes.port)).rejects.toThrow(
      new RegExp(`cannot listen on 127.0.0.1:${probes.port} \\(EADDRINUSE\\): set WORKER_PORT`),
    );
  });
});

describe("the worker's metrics", () => {
  it("has job durations by kind and outcome, and provider requests by status", async () => {
    const { metrics, get } = await startProbes();
    await runners.start(
      database,
      {
        "metrics.ok": async () => {},
        "metrics.broken": async () => Promise.reject(new Error("no")),
      },
      { onJobSettled: metrics.observeJob, backoff: { baseMs: 60_000, capMs: 60_000 } },
    );
    const ok = await enqueueJob(database.db, { kind: "metrics.ok" });
    const broken = await enqueueJob(database.db, { kind: "metrics.broken" });
    await waitForJobStatus(database.db, ok.id, "succeeded");
    // Retried after a minute: one failed run, then it waits.
    await waitFor(
      () => readJob(database.db, broken.id),
      (job) => job.status === "queued" && job.lastError !== null,
      "the broken job's first failure",
    );
    metrics.observeOutboundRequest({ provider: "hetzner", status: 201 });
    metrics.observeOutboundRequest({ provider: "cloudflare", status: undefined });
    const response = await get("/metrics");
    expect(response.headers.get("content-type")).toContain("text/plain");
    const text = await response.text();
    expect(text).toMatch(
      /^caw_job_duration_seconds_count\{kind="metrics.ok",outcome="succeeded"\} 1$/m,
    );
    expect(text).toMatch(
      /^caw_job_duration_seconds_count\{kind="metrics.broken",outcome="failed"\} 1$/m,
    );
    expect(text).toMatch(/^caw_provider_requests_total\{provider="hetzner",status="201"\} 1$/m);
    expect(text).toMatch(/^caw_provider_requests_total\{provider="cloudflare",status="none"\} 1$/m);
    expect(text).toContain("process_resident_memory_bytes");
    // Queue gauges come from the database: only the web serves them, once per scrape.
    expect(text).not.toContain("caw_job_queue_depth");
    const verdict = await checkWithPromtool(text);
    if (verdict === undefined)
      expect(process.env.CI, "promtool must be installed in CI").toBeFalsy();
    else expect(verdict).toBe("");
  });
});
