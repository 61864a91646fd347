import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { TRPCClientError } from "@trpc/client";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, type DatabaseHandle } from "../db/client.ts";
import { migrateDatabase } from "../db/migrate.ts";
import { findFreePort } from "../server/process/free-port.ts";
import {
  debianPostgresUnavailable,
  startDebianPostgres,
  type DebianPostgres,
} from "../server/testing/debian-postgres.ts";
import { startNodeProgram, type RunningProgram } from "../server/testing/program.ts";
import { createTestLoadContext, testEncryptionKeys } from "../server/testing/test-context.ts";
import { sharedGitHubStandIn, standInSettings } from "../server/testing/test-github.ts";
import type { TestDatabase } from "../server/testing/test-database.ts";
import { callerFor, createTestUser } from "../server/testing/test-users.ts";
import { createClient, type Client } from "../sdk/index.ts";
import { startFakeCloudflare, type FakeCloudflare } from "./fakes/cloudflare.ts";
import { startFakeHetzner, type FakeHetzner } from "./fakes/hetzner.ts";

// Issue #15's first acceptance point (ADR 0025): two web and two worker programs on a
// standalone PostgreSQL 15 from Debian, three users creating and deleting workspaces through
// the API (fake Hetzner and Cloudflare) while the server is restarted 10 times. No program
// exits; every answer says what happened (a 2xx create exists exactly once, a failure is a 503
// with Retry-After, its retry with the same idempotency key makes one workspace, no delete that
// happened is "not found"); afterwards every job settles. Without Debian's server the test is
// skipped locally and fails in CI.

const unavailable = debianPostgresUnavailable();
const restarts = 10;
const users = ["ada", "grace", "linus"];

type Outcome = { user: string; key: string; id?: string; failures: string[] };

// A restart takes seconds: a request still unanswered after a minute is a violation, and is
// reported as one then, with what the database was doing, not after undici's 300 s.
const answerDeadlineMs = 60_000;
const answerWithin: typeof fetch = (input, init) =>
  fetch(input, { ...init, signal: AbortSignal.timeout(answerDeadlineMs) });

describe.skipIf(Boolean(unavailable) && !process.env.CI)(
  `PostgreSQL restarts under write load${unavailable ? ` (${unavailable})` : ""}`,
  () => {
    let server: DebianPostgres;
    let database: DatabaseHandle;
    let hetzner: FakeHetzner;
    let cloudflare: FakeCloudflare;
    let dataDir: string;
    const programs: RunningProgram[] = [];
    const clients: { user: string; web: Client[] }[] = [];

    beforeAll(async () => {
      expect(unavailable, "CI must run the restart test: install postgresql-15").toBe("");
      server = await startDebianPostgres();
      const admin = postgres(server.adminUrl, { max: 1, onnotice: () => {} });
      await admin`create database caw`;
      await admin.end();
      const url = server.adminUrl.replace(/\/postgres$/, "/caw");
      await migrateDatabase(url);
      database = createDb(url, { max: 4 });
      hetzner = await startFakeHetzner({ token: "h".repeat(64) });
      cloudflare = await startFakeCloudflare();
      dataDir = await mkdtemp(path.join(os.tmpdir(), "caw-restarts-"));
      await writeFile(path.join(dataDir, "agent-linux-x64"), "#!/bin/sh\necho fake agent\n");
      const github = standInSettings(await sharedGitHubStandIn());
      const ports = [await findFreePort(), await findFreePort()];
      const webUrls = ports.map((port) => `http://127.0.0.1:${port}`);
      const settings: Record<string, string> = {
        ENCRYPTION_KEYS: testEncryptionKeys(),
        DATABASE_URL: url,
        PUBLIC_URL: webUrls[0]!,
        DATA_DIR: dataDir,
        AGENT_DIST_DIR: dataDir,
        WORKSPACE_PROVIDER: "hetzner",
        HETZNER_API_URL: hetzner.url,
        DNS_PROVIDER: "cloudflare",
        BASE_DOMAIN: cloudflare.zoneName,
        CLOUDFLARE_API_URL: cloudflare.url,
        CLOUDFLARE_API_TOKEN: cloudflare.token,
        CLOUDFLARE_ZONE_ID: cloudflare.zoneId,
        GITHUB_URL: github.webUrl,
        GITHUB_API_URL: github.apiUrl,
        GITHUB_CLIENT_ID: github.clientId,
        GITHUB_CLIENT_SECRET: github.clientSecret,
        WORKSPACE_LIMIT: "1000",
        API_RATE_LIMIT_PER_MINUTE: "100000",
        API_USER_RATE_LIMIT_PER_MINUTE: "100000",
        JOB_BACKOFF_BASE_MS: "200",
        JOB_LEASE_SECONDS: "10",
      };
      const asTestDatabase = { ...database, url, name: "caw", drop: async () => {} };
      // Without GITHUB_*, the context signs users in at the same shared stand-in.
      const {
        GITHUB_URL: _url,
        GITHUB_API_URL: _apiUrl,
        GITHUB_CLIENT_ID: _id,
        GITHUB_CLIENT_SECRET: _secret,
        ...contextSettings
      } = settings;
      const context = await createTestLoadContext(
        asTestDatabase as TestDatabase,
        {},
        contextSettings,
      );
      for (const login of users) {
        const user = await createTestUser(context, login);
        const api = callerFor(context, user);
        await api.credentials.hetzner.set({ token: hetzner.token });
        const { token } = await api.tokens.create({ name: "restarts" });
        clients.push({
          user: login,
          web: webUrls.map((baseUrl) => createClient({ baseUrl, token, fetch: answerWithin })),
        });
      }
      for (const port of ports)
        programs.push(startNodeProgram("server/main.ts", [], { ...settings, PORT: String(port) }));
      for (let worker = 0; worker < 2; worker++)
        programs.push(startNodeProgram("server/worker/main.ts", [], settings));
      await Promise.all(
        programs.map((program, index) =>
          program.waitForLog(index < 2 ? "web server listening" : "worker ready", 120_000),
        ),
      );
    }, 240_000);

    afterAll(async () => {
      await Promise.all(programs.map((program) => program.stop("SIGKILL")));
      await database?.close();
      await Promise.all([hetzner?.close(), cloudflare?.close()]);
      await server?.close();
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    });

    it(`answers what happened and loses no job across ${restarts} restarts`, async () => {
      let loading = true;
      const outcomes: Outcome[] = [];
      const deleted = new Set<string>();
      const loops = clients.map(async ({ user, web }) => {
        for (let round = 0; loading; round++) {
          const outcome = await createWithRetries(user, web[round % 2]!, round);
          outcomes.push(outcome);
          if (outcome.id && round % 2 === 0) {
            await deleteWithRetries(web[(round + 1) % 2]!, outcome);
            deleted.add(outcome.id);
          }
        }
      });
      for (let restart = 0; restart < restarts; restart++) {
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        await server.restart();
      }
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      loading = false;
      await Promise.all(loops);

      for (const program of programs) expect(program.child.exitCode, program.output()).toBeNull();
      // Each worker's LISTEN connection listened again after the restarts (postgres.js does it
      // when the connection is re-made; the runner logs every time).
      for (const worker of programs.slice(2))
        expect(worker.output().match(/"listening for new jobs"/g)?.length).toBeGreaterThan(1);
      const failures = outcomes.flatMap((outcome) => outcome.failures);
      // Each failure was a 503 with Retry-After (anything else is recorded as a violation).
      const violations = failures.filter(
        (failure) => !/^(delete: )?503 retry-after \d/.test(failure),
      );
      if (violations.length > 0) await reportState(database, programs);
      expect(violations).toEqual([]);
      // The restarts did land on requests: some creates and deletes were answered 503.
      expect(failures.length).toBeGreaterThan(0);
      expect(outcomes.every((outcome) => outcome.id)).toBe(true);

      // Every key made exactly one workspace, and nothing else was made.
      const rows = await database.sql<{ id: string; key: string }[]>`
        select id, idempotency_key as key from workspaces`;
      expect(rows.map((row) => row.key).sort()).toEqual(
        outcomes.map((outcome) => outcome.key).sort(),
      );
      for (const outcome of outcomes)
        expect(rows.find((row) => row.key === outcome.key)?.id).toBe(outcome.id);

      // No job lost: every workspace settles (booting waits for an agent that never comes;
      // the deleted are gone), and no job is left queued or running.
      await waitForSettled(database, deleted);
      const open = await database.sql`
        select id, kind, status from jobs where status in ('queued', 'running')
          and kind like 'workspace.%'`;
      expect(open).toEqual([]);
      process.stdout.write(
        `database-restarts: ${outcomes.length} creates, ${deleted.size} deletes, ${failures.length} answered 503 and retried\n`,
      );
    }, 600_000);
  },
);

/** One create, retried with the same key while it answers 503; anything else is recorded. */
async function createWithRetries(user: string, client: Client, round: number): Promise<Outcome> {
  const key = `${user}-${round}-${crypto.randomUUID()}`;
  const outcome: Outcome = { user, key, failures: [] };
  const input = {
    name: `${user}-${round}`,
    repository: "stand-in/sample",
    branch: "main",
    idempotencyKey: key,
  };
  for (let attempt = 0; attempt < 60; attempt++) {
    try {
      outcome.id = (await client.workspaces.create.mutate(input)).id;
      return outcome;
    } catch (error) {
      outcome.failures.push(describeFailure(error));
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  return outcome;
}

async function deleteWithRetries(client: Client, outcome: Outcome): Promise<void> {
  for (let attempt = 0; attempt < 60; attempt++) {
    try {
      const { state } = await client.workspaces.delete.mutate({ id: outcome.id! });
      if (state !== "deleting" && state !== "deleted")
        outcome.failures.push(`delete answered state ${state}`);
      return;
    } catch (error) {
      outcome.failures.push(`delete: ${describeFailure(error)}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

/** "503 retry-after N" for the answer we want during an outage; anything else, in words. */
function describeFailure(error: unknown): string {
  if (!(error instanceof TRPCClientError)) return `not a tRPC answer: ${String(error)}`;
  const response = (error.meta as { response?: Response } | undefined)?.response;
  const retryAfter = response?.headers.get("retry-after");
  if (response?.status === 503 && retryAfter) return `503 retry-after ${retryAfter}`;
  return `${response?.status ?? "no answer"} ${(error.data as { code?: string })?.code}: ${error.message}${causeOf(error)} at ${new Date().toISOString()}`;
}

/** Why a fetch got no answer: undici's socket error, or our deadline. */
function causeOf(error: TRPCClientError<never>): string {
  const failure = error.cause as
    { name?: string; cause?: { code?: string; message?: string } } | undefined;
  if (failure?.name === "TimeoutError") return ` (no answer within ${answerDeadlineMs / 1000} s)`;
  return failure?.cause ? ` (${failure.cause.code ?? ""} ${failure.cause.message ?? ""})` : "";
}

/** For a violation: the database's sessions and what the programs logged as failures. */
async function reportState(database: DatabaseHandle, programs: RunningProgram[]): Promise<void> {
  const sessions = await database.sql`
    select pid, application_name, state, wait_event_type, wait_event, left(query, 120) as query,
      now() - xact_start as in_transaction, now() - state_change as in_state
    from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`;
  process.stdout.write(`database-restarts: sessions ${JSON.stringify(sessions)}\n`);
  for (const program of programs) {
    const failed = program
      .output()
      .split("\n")
      .filter((line) => /"level":"(warn|error|fatal)"|procedure failed|request failed/.test(line));
    if (failed.length > 0) process.stdout.write(`${failed.slice(-20).join("\n")}\n`);
  }
}

async function waitForSettled(database: DatabaseHandle, deleted: Set<string>): Promise<void> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    const rows = await database.sql<{ id: string; state: string }[]>`
      select id, state from workspaces`;
    const unsettled = rows.filter((row) =>
      deleted.has(row.id) ? row.state !== "deleted" : row.state !== "booting",
    );
    if (unsettled.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(`workspaces not settled: ${JSON.stringify(unsettled.slice(0, 10))}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
