import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { createDb, type Database } from "../../db/client.ts";
import { migrateDatabase } from "../../db/migrate.ts";
import { users, workspaces } from "../../db/schema.ts";
import { findFreePort } from "../../server/process/free-port.ts";
import { serverNodeFlags } from "../../server/process/node-flags.ts";
import { createApiToken } from "../../server/services/api-tokens.ts";
import { projectRoot } from "../../server/testing/program.ts";
import { testEncryptionKeys } from "../../server/testing/test-context.ts";
import { provideBenchDatabase } from "./support/bench-database.ts";
import { applyLoad, type LoadResult } from "./support/load.ts";

// The HTTP bench (issue #15): requests a second and latency of tRPC calls through our whole
// stack (the web program as it runs in production, signed in with an API token, its rate
// limits and request logs on), at `connections` concurrent connections, beside baselines
// measured in the same run: a bare tRPC fetch handler (support/bare-trpc-server.ts: a trivial
// procedure, and our own workspaces.list query without our request path) and our /healthz. Prints one JSON line per figure on stdout; everything else goes to stderr.
//
//   HTTP_BENCH_SECONDS (10 per target and round), HTTP_BENCH_SLICES (5), HTTP_BENCH_CONNECTIONS
//   (50), HTTP_BENCH_ROUNDS (2), HTTP_BENCH_WARMUP_SECONDS (5, per target)
//
// A figure and its baseline are measured in alternating slices (baseline, ours, baseline, …),
// each HTTP_BENCH_SECONDS / HTTP_BENCH_SLICES long: on a shared machine the load of
// neighbours drifts by tens of percent within a minute, and alternation spreads that drift
// over both sides of a ratio instead of onto one.
//   WEB_NODE_ARGS, BARE_NODE_ARGS: extra node flags for the web program and the baseline,
//   e.g. "--cpu-prof --cpu-prof-dir=…"

const seconds = Number(process.env.HTTP_BENCH_SECONDS ?? 10);
const connections = Number(process.env.HTTP_BENCH_CONNECTIONS ?? 50);
const rounds = Number(process.env.HTTP_BENCH_ROUNDS ?? 2);
const slices = Math.max(1, Number(process.env.HTTP_BENCH_SLICES ?? 5));
// Long enough for V8 to have optimised the hot paths of every server, as in a server that has
// run for a while: with 2 s, our longer request path was still warming in the first round.
const warmupSeconds = Number(process.env.HTTP_BENCH_WARMUP_SECONDS ?? 5);
const workspaceCount = 20;

type Figure = Record<string, string | number>;

function emit(figure: Figure): void {
  process.stdout.write(`${JSON.stringify({ bench: "http", ...figure })}\n`);
}

/** A user with `workspaceCount` workspaces and an API token; answers the token and the user. */
async function seedUser(db: Database): Promise<{ token: string; userId: string }> {
  const [user] = await db
    .insert(users)
    .values({ githubId: 4242, login: "bench-user" })
    .returning({ id: users.id, auditSubject: users.auditSubject });
  const owner = { userId: user!.id, auditSubject: user!.auditSubject };
  await db.insert(workspaces).values(
    Array.from({ length: workspaceCount }, (_, index) => ({
      userId: owner.userId,
      name: `bench-${index}`,
      repository: "bench/repository",
      branch: "main",
      provider: "local" as const,
      serverType: "local",
      location: "local",
      idleTimeoutMinutes: 30,
      state: "running" as const,
    })),
  );
  const { token } = await createApiToken(db, owner, { name: "bench" }, { limit: 10 });
  return { token, userId: owner.userId };
}

type Server = { child: ChildProcess; baseUrl: string };

/** Starts a program and resolves once its stdout says `ready`; later output is discarded. */
function startServer(args: string[], env: Record<string, string>, ready: RegExp, port: number) {
  const child = spawn(process.execPath, args, {
    cwd: projectRoot,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise<Server>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const onExit = (code: number | null) =>
      reject(new Error(`${args.join(" ")} exited (${code}) before it listened`));
    child.once("exit", onExit);
    lines.on("line", (line) => {
      if (!ready.test(line)) return;
      child.off("exit", onExit);
      lines.close();
      // Its request log goes on being written to the pipe (as in production) and dropped.
      child.stdout!.resume();
      resolve({ child, baseUrl: `http://127.0.0.1:${port}` });
    });
  });
}

/** The web program as production runs it: the bundled entry when built, else Node + tsx. */
async function startWeb(databaseUrl: string, dataDir: string): Promise<Server> {
  const port = await findFreePort();
  const bundled = path.join(projectRoot, "build", "server", "web.js");
  const extra = [
    ...serverNodeFlags,
    ...(process.env.WEB_NODE_ARGS ?? "").split(" ").filter(Boolean),
  ];
  const entry = existsSync(bundled)
    ? [bundled]
    : ["--import", "tsx", path.join(projectRoot, "server", "main.ts")];
  const env = {
    DATABASE_URL: databaseUrl,
    PORT: String(port),
    HOST: "127.0.0.1",
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    DATA_DIR: dataDir,
    ENCRYPTION_KEYS: testEncryptionKeys(),
    GITHUB_CLIENT_ID: "bench",
    GITHUB_CLIENT_SECRET: "bench",
    // A loopback "GitHub" (never contacted: the token is made in the database), which is
    // also what lets the local provider run without LOCAL_PROVIDER_MULTI_USER.
    GITHUB_URL: "http://127.0.0.1:9",
    GITHUB_API_URL: "http://127.0.0.1:9",
    LOG_LEVEL: "info",
    NODE_ENV: "production",
    // High enough never to refuse; the limiter still counts every call in PostgreSQL.
    API_RATE_LIMIT_PER_MINUTE: "100000000",
  };
  return startServer([...extra, ...entry], env, /web server listening/, port);
}

async function startBare(databaseUrl: string, userId: string): Promise<Server> {
  const port = await findFreePort();
  const entry = path.join(projectRoot, "e2e", "bench", "support", "bare-trpc-server.ts");
  const env = { PORT: String(port), DATABASE_URL: databaseUrl, BENCH_USER_ID: userId };
  const extra = (process.env.BARE_NODE_ARGS ?? "").split(" ").filter(Boolean);
  return startServer([...extra, "--import", "tsx", entry], env, /listening/, port);
}

async function stopServer({ child }: Server): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

function toFigure(metric: string, result: Measured, bare?: number, sameWork?: number): Figure {
  if (result.failures > 0)
    throw new Error(`${metric}: ${result.failures} of ${result.n} requests failed or were not 2xx`);
  const { requestsPerSecond, p50, p99, n } = result;
  const figure: Figure = { metric, value: requestsPerSecond, unit: "req/s", p50_ms: p50 };
  Object.assign(figure, {
    p99_ms: p99,
    n,
    connections,
    cpu_ms_per_request: result.cpuMsPerRequest,
  });
  const ratio = (baseline: number) => Math.round((requestsPerSecond / baseline) * 100) / 100;
  if (bare) figure.ratio_to_bare_trpc = ratio(bare);
  if (sameWork) figure.ratio_to_bare_trpc_same_query = ratio(sameWork);
  return figure;
}

const clockTicksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }));

/** CPU seconds the process has used (user + system), from /proc (Linux). */
async function cpuSecondsOf(server: Server): Promise<number> {
  const stat = await readFile(`/proc/${server.child.pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start at field 3; utime is 14.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond;
}

type Target = { server: Server; path: string; headers?: Record<string, string> };
type Measured = LoadResult & { cpuMsPerRequest: number };

/**
 * The load's figures, and the server's CPU time per answered request: on a machine shared
 * with other work, req/s moves with the load, while CPU per request is what the code costs.
 * Several targets are loaded in turn, a slice each, `slices` times; each one's figures are
 * over all of its slices (p50 and p99: the median of the slices').
 */
async function measureAlternating(targets: Target[]): Promise<Measured[]> {
  const totals = targets.map(() => ({
    n: 0,
    failures: 0,
    cpu: 0,
    p50: [] as number[],
    p99: [] as number[],
  }));
  for (let slice = 0; slice < slices; slice++) {
    for (const [index, target] of targets.entries()) {
      const total = totals[index]!;
      const before = await cpuSecondsOf(target.server);
      const result = await applyLoad({
        url: `${target.server.baseUrl}${target.path}`,
        connections,
        seconds: seconds / slices,
        headers: target.headers,
      });
      total.cpu += (await cpuSecondsOf(target.server)) - before;
      total.n += result.n;
      total.failures += result.failures;
      total.p50.push(result.p50);
      total.p99.push(result.p99);
    }
  }
  return totals.map((total) => ({
    requestsPerSecond: Math.round(total.n / seconds),
    p50: median(total.p50),
    p99: median(total.p99),
    n: total.n,
    failures: total.failures,
    cpuMsPerRequest: Math.round((total.cpu / Math.max(1, total.n)) * 1e6) / 1e3,
  }));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

async function benchRound(web: Server, bare: Server, token: string, round: number) {
  const signedIn = { authorization: `Bearer ${token}` };
  const [bareInfo, healthz, info] = await measureAlternating([
    { server: bare, path: "/api/trpc/system.info" },
    { server: web, path: "/healthz" },
    { server: web, path: "/api/trpc/system.info", headers: signedIn },
  ]);
  const baseline = bareInfo!.requestsPerSecond;
  emit({ ...toFigure("baseline_bare_trpc_req_per_s", bareInfo!), round });
  emit({ ...toFigure("baseline_healthz_req_per_s", healthz!, baseline), round });
  emit({ ...toFigure("system_info_req_per_s", info!, baseline), round });
  const [bareList, list] = await measureAlternating([
    { server: bare, path: "/api/trpc/workspaces.list" },
    { server: web, path: "/api/trpc/workspaces.list", headers: signedIn },
  ]);
  emit({
    ...toFigure("baseline_bare_trpc_workspaces_list_req_per_s", bareList!, baseline),
    round,
    workspaces: workspaceCount,
  });
  emit({
    ...toFigure("workspaces_list_req_per_s", list!, baseline, bareList!.requestsPerSecond),
    round,
    workspaces: workspaceCount,
  });
}

async function runBench(databaseUrl: string): Promise<void> {
  await migrateDatabase(databaseUrl);
  const seeding = createDb(databaseUrl, { max: 1, applicationName: "caw-bench" });
  const { token, userId } = await seedUser(seeding.db).finally(() => seeding.close());
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "caw-bench-http-"));
  await chmod(dataDir, 0o711);
  const servers: Server[] = [];
  try {
    const web = await startWeb(databaseUrl, dataDir);
    servers.push(web);
    const bare = await startBare(databaseUrl, userId);
    servers.push(bare);
    // A warm-up of each, so the JIT and the pools are where a long-running server's are.
    for (const url of [
      `${bare.baseUrl}/api/trpc/system.info`,
      `${bare.baseUrl}/api/trpc/workspaces.list`,
      `${web.baseUrl}/api/trpc/system.info`,
      `${web.baseUrl}/api/trpc/workspaces.list`,
    ])
      await applyLoad({
        url,
        connections,
        seconds: warmupSeconds,
        headers: { authorization: `Bearer ${token}` },
      });
    for (let round = 1; round <= rounds; round++) await benchRound(web, bare, token, round);
  } finally {
    for (const server of servers) await stopServer(server);
    await rm(dataDir, { recursive: true, force: true });
  }
}

const { url, cleanup } = await provideBenchDatabase();
try {
  await runBench(url);
} finally {
  await cleanup();
}
