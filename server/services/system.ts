import type { Database } from "../../db/client.ts";
import { installation } from "../../db/schema.ts";
import type { WorkspaceProvider } from "../../db/schema.ts";
import { describeWorkspaceAccess, type WorkspaceAccess } from "../providers/local-isolation.ts";
import type { ReadinessCheck } from "./health.ts";

export type SystemInfo = {
  name: string;
  version: string;
  database: { status: "ok" | "unreachable" | "migrations pending"; detail: string };
  installedAt: Date | null;
  /** Who may create workspaces here, and why not everyone when that is so. */
  workspaces: WorkspaceAccess;
};

/** What a client needs to know about this control plane before it does anything else. */
export async function getSystemInfo(deps: {
  db: Database;
  version: string;
  checkReadiness: ReadinessCheck;
  provider: WorkspaceProvider;
}): Promise<SystemInfo> {
  const readiness = await deps.checkReadiness();
  // /readyz also fails on a Cloudflare zone that is not Full (strict): that is not the database.
  const databaseOk = readiness.database === "reachable" && readiness.migrations === "current";
  const status = databaseOk
    ? "ok"
    : readiness.database === "unreachable"
      ? "unreachable"
      : "migrations pending";
  const installedAt = databaseOk ? await readInstalledAt(deps.db) : null;
  return {
    name: "Cloud AI Workspaces",
    version: deps.version,
    database: { status, detail: readiness.reason },
    installedAt,
    workspaces: describeWorkspaceAccess(deps.provider),
  };
}

// The installation row is written once by the first migration and never changes: read once
// per database (ADR 0028), not on every system.info.
const installedAtOf = new WeakMap<Database, Date>();

async function readInstalledAt(db: Database): Promise<Date | null> {
  const known = installedAtOf.get(db);
  if (known) return known;
  const [row] = await db.select({ createdAt: installation.createdAt }).from(installation).limit(1);
  if (row) installedAtOf.set(db, row.createdAt);
  return row?.createdAt ?? null;
}

/** This install's id: it labels every server and volume we create, so installs sharing a
 * cloud project never touch each other's. */
export async function readInstallationId(db: Database): Promise<string> {
  const [row] = await db.select({ id: installation.id }).from(installation).limit(1);
  if (!row)
    throw new Error("The installation row is missing: run the migrations (npm run db:migrate).");
  return row.id;
}
