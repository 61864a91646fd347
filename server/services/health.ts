import type postgres from "postgres";
import type { MigrationJournal } from "../../db/migrate.ts";
import type { ZoneModeStatus } from "../dns/zone-checks.ts";

export type Readiness = {
  ready: boolean;
  database: "reachable" | "unreachable";
  migrations: "current" | "pending" | "unknown";
  /**
   * With DNS_PROVIDER=cloudflare: the zone's SSL/TLS mode. A mode other than Full (strict)
   * fails readiness (workspaces would be unreachable or unchecked); a Cloudflare that does not
   * answer does not (an outage there must not take the control plane out of service).
   */
  cloudflare?: ZoneModeStatus;
  /** What is wrong and what to do about it; empty when ready. */
  reason: string;
};

export type ReadinessCheck = () => Promise<Readiness>;

const checkTimeoutMs = 3_000;

/**
 * The database check, plus the Cloudflare zone's SSL/TLS mode when `checkZoneMode` is given
 * (its answer is cached there, so probes do not call Cloudflare each time).
 */
export function createReadinessCheck(
  sql: postgres.Sql,
  journal: MigrationJournal,
  checkZoneMode?: () => Promise<ZoneModeStatus>,
): ReadinessCheck {
  const checkDatabase = createDatabaseCheck(sql, journal);
  if (!checkZoneMode) return checkDatabase;
  return async () => {
    const [database, cloudflare] = await Promise.all([checkDatabase(), checkZoneMode()]);
    if (cloudflare.status !== "failing") return { ...database, cloudflare };
    const reason = [database.reason, cloudflare.detail].filter(Boolean).join(" ");
    return { ...database, ready: false, cloudflare, reason };
  };
}

/**
 * The same check, answered from its last result for `maxAgeMs` (one check at a time): a
 * tRPC `system.info` per page load and the probes would otherwise cost two statements each
 * (ADR 0028). Draining wraps this, so a drain still shows at once.
 */
export function reuseRecentReadiness(check: ReadinessCheck, maxAgeMs = 1_000): ReadinessCheck {
  let last: { readiness: Promise<Readiness>; at: number } | undefined;
  return () => {
    const now = Date.now();
    if (!last || now - last.at >= maxAgeMs) {
      const readiness = check();
      last = { readiness, at: now };
      // A check that threw is not kept: the next caller asks again.
      readiness.catch(() => last?.readiness === readiness && (last = undefined));
    }
    return last.readiness;
  };
}

/**
 * Checks that the database answers and that every migration this code expects has been
 * applied (drizzle records each applied migration's journal timestamp).
 */
function createDatabaseCheck(sql: postgres.Sql, journal: MigrationJournal): ReadinessCheck {
  const expectedLatest = Math.max(0, ...journal.entries.map((entry) => entry.when));
  return async () => {
    let latest: number;
    try {
      latest = await withTimeout(readLatestMigration(sql), checkTimeoutMs);
    } catch (error) {
      return {
        ready: false,
        database: "unreachable",
        migrations: "unknown",
        reason: `The database is unreachable (${describe(error)}). Check that PostgreSQL is running and DATABASE_URL points at it.`,
      };
    }
    if (latest < expectedLatest) {
      return {
        ready: false,
        database: "reachable",
        migrations: "pending",
        reason:
          "Database migrations are pending. Run `npm run db:migrate` (npm start does this by itself).",
      };
    }
    return { ready: true, database: "reachable", migrations: "current", reason: "" };
  };
}

async function readLatestMigration(sql: postgres.Sql): Promise<number> {
  const [table] = await sql<{ exists: boolean }[]>`
    select to_regclass('drizzle.__drizzle_migrations') is not null as exists`;
  if (!table?.exists) return 0;
  const [row] = await sql<{ latest: string | null }[]>`
    select max(created_at)::text as latest from drizzle.__drizzle_migrations`;
  return Number(row?.latest ?? 0);
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Only the driver's error code or our timeout text: driver messages can echo connection details.
function describe(error: unknown): string {
  if (error && typeof error === "object" && "code" in error) return String(error.code);
  return error instanceof Error && error.message.startsWith("no answer")
    ? error.message
    : "connection failed";
}
