import { sql } from "drizzle-orm";
import type { Database } from "../../db/client.ts";

export type EngineStats = {
  jobs: { kind: string; status: string; count: number }[];
  queueDepth: number;
  oldestQueuedSeconds: number;
  workspaces: { state: string; count: number }[];
};

/** Queue and workspace counts for /metrics and the admin dashboard (SPEC §11). */
export async function readEngineStats(db: Database): Promise<EngineStats> {
  const [jobs, queue, workspaces] = await Promise.all([
    db.execute<{ kind: string; status: string; count: number }>(
      sql`select kind, status, count(*)::int as count from jobs group by kind, status`,
    ),
    db.execute<{ depth: number; oldest: number | null }>(
      sql`select count(*)::int as depth,
                 extract(epoch from now() - min(run_at))::float8 as oldest
            from jobs where status = 'queued' and run_at <= now()`,
    ),
    db.execute<{ state: string; count: number }>(
      sql`select state, count(*)::int as count from workspaces
           where deleted_at is null group by state`,
    ),
  ]);
  return {
    jobs: [...jobs],
    queueDepth: queue[0]?.depth ?? 0,
    oldestQueuedSeconds: queue[0]?.oldest ?? 0,
    workspaces: [...workspaces],
  };
}
