import { createHash } from "node:crypto";
import { asc, desc, eq, sql } from "drizzle-orm";
import type { Database } from "../../db/client.ts";
import { auditLog } from "../../db/schema.ts";

// A hash-chained audit log (SPEC §11). Writers take a transaction-scoped advisory lock so the
// chain has one order across every process; verification recomputes every hash.

export type DatabaseExecutor = Database | Parameters<Parameters<Database["transaction"]>[0]>[0];

export type AuditEvent = {
  actorSubject: string | null;
  action: string;
  targetType?: string;
  targetId?: string;
  details?: Record<string, string | number | boolean | null>;
};

const auditLockId = 7_461_923_101;
const genesisHash = "0".repeat(64);

export async function recordAuditEvent(
  executor: DatabaseExecutor,
  event: AuditEvent,
): Promise<void> {
  await executor.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${auditLockId})`);
    const [last] = await tx
      .select({ hash: auditLog.hash })
      .from(auditLog)
      .orderBy(desc(auditLog.id))
      .limit(1);
    const entry = {
      occurredAt: new Date(),
      actorSubject: event.actorSubject,
      action: event.action,
      targetType: event.targetType ?? null,
      targetId: event.targetId ?? null,
      details: event.details ?? {},
      previousHash: last?.hash ?? genesisHash,
    };
    await tx.insert(auditLog).values({ ...entry, hash: hashEntry(entry) });
  });
}

type HashedFields = {
  occurredAt: Date;
  actorSubject: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  details: Record<string, unknown>;
  previousHash: string;
};

function hashEntry(entry: HashedFields): string {
  const canonical = JSON.stringify([
    entry.occurredAt.toISOString(),
    entry.actorSubject,
    entry.action,
    entry.targetType,
    entry.targetId,
    Object.entries(entry.details).sort(([a], [b]) => a.localeCompare(b)),
    entry.previousHash,
  ]);
  return createHash("sha256").update(canonical).digest("hex");
}

export type AuditVerification = {
  valid: boolean;
  checked: number;
  brokenAtId: number | null;
  problem: string;
};

/** Walks the chain from the start; the first row whose hash or link is wrong is reported. */
export async function verifyAuditChain(db: Database): Promise<AuditVerification> {
  const rows = await db.select().from(auditLog).orderBy(asc(auditLog.id));
  let previousHash = genesisHash;
  for (const [index, row] of rows.entries()) {
    if (row.previousHash !== previousHash) {
      return {
        valid: false,
        checked: index,
        brokenAtId: row.id,
        problem: "an entry before this one was deleted or changed",
      };
    }
    if (hashEntry(row) !== row.hash) {
      return {
        valid: false,
        checked: index,
        brokenAtId: row.id,
        problem: "this entry was changed after it was written",
      };
    }
    previousHash = row.hash;
  }
  return { valid: true, checked: rows.length, brokenAtId: null, problem: "" };
}

export type AuditViewer = { auditSubject: string; role: "admin" | "member" };

/** Newest first; members see their own entries, admins everyone's. */
export async function listAuditEntries(db: Database, viewer: AuditViewer, limit: number) {
  const own = viewer.role === "admin" ? undefined : eq(auditLog.actorSubject, viewer.auditSubject);
  return db
    .select({
      id: auditLog.id,
      occurredAt: auditLog.occurredAt,
      action: auditLog.action,
      targetType: auditLog.targetType,
      targetId: auditLog.targetId,
      details: auditLog.details,
      mine: sql<boolean>`${auditLog.actorSubject} = ${viewer.auditSubject}`,
    })
    .from(auditLog)
    .where(own)
    .orderBy(desc(auditLog.id))
    .limit(limit);
}
