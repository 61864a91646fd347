import { and, eq, inArray, isNotNull, lt, or, sql } from "drizzle-orm";
import type { Database } from "../../db/client.ts";
import {
  apiTokens,
  credentials,
  terminalGrants,
  users,
  workspaceEvents,
  workspaces,
} from "../../db/schema.ts";
import { installLabels, type Provider } from "../providers/provider.ts";
import { requestWorkspaceAction, transitionWorkspace } from "./workspaces.ts";

// The periodic backstops of SPEC §7: VMs die and agents get stuck, so the control plane
// does not rely on them to report their own end.

/** Running or booting workspaces whose agent went quiet move to `error`, saying so. */
export async function reconcileStaleWorkspaces(
  db: Database,
  settings: { heartbeatTimeoutSeconds: number; bootTimeoutSeconds: number },
): Promise<number> {
  const stale = await db
    .select({ id: workspaces.id, state: workspaces.state })
    .from(workspaces)
    .where(
      sql`(${workspaces.state} = 'running' and coalesce(${workspaces.lastHeartbeatAt}, ${workspaces.updatedAt}) < now() - make_interval(secs => ${settings.heartbeatTimeoutSeconds}))
        or (${workspaces.state} = 'booting' and ${workspaces.updatedAt} < now() - make_interval(secs => ${settings.bootTimeoutSeconds}))`,
    );
  for (const workspace of stale) {
    const reason =
      workspace.state === "running"
        ? `No heartbeat from the agent for ${settings.heartbeatTimeoutSeconds} s: the server may have crashed. Start the workspace to get a fresh server (your files are kept), or delete it.`
        : `The agent did not report in within ${settings.bootTimeoutSeconds} s of the server starting. Start the workspace again, or delete it; the job log has details.`;
    await transitionWorkspace(db, workspace.id, "error", reason, "system").catch(() => {
      // It moved on meanwhile (a heartbeat or a user action won the race); nothing to do.
    });
  }
  return stale.length;
}

/** Running workspaces past the maximum lifetime since they last started are stopped. */
export async function enforceMaximumLifetime(
  db: Database,
  settings: { maxLifetimeHours: number; maxAttempts: number },
): Promise<number> {
  const overdue = await db
    .select({ id: workspaces.id, userId: workspaces.userId, auditSubject: users.auditSubject })
    .from(workspaces)
    .innerJoin(users, eq(users.id, workspaces.userId))
    .where(
      and(
        eq(workspaces.state, "running"),
        sql`(select max(${workspaceEvents.occurredAt}) from ${workspaceEvents}
             where ${workspaceEvents.workspaceId} = ${workspaces.id} and ${workspaceEvents.toState} = 'running')
            < now() - make_interval(hours => ${settings.maxLifetimeHours})`,
      ),
    );
  for (const workspace of overdue)
    await requestWorkspaceAction(
      db,
      { userId: workspace.userId, auditSubject: workspace.auditSubject },
      workspace.id,
      "stop",
      settings,
      "system",
      `Stopped: running longer than the ${settings.maxLifetimeHours} h limit`,
    ).catch(() => {});
  return overdue.length;
}

/**
 * Soft-deleted workspaces leave the database for good after `days`; terminal grants go as
 * soon as they expire (an agent refuses their cookies by then anyway), API tokens 30 days
 * after they were revoked or expired: revoked tokens leave API_TOKEN_LIMIT, so without this a
 * create/revoke loop grows the table without bound. tokens.list shows them until then, and
 * no token created in the last day (the daily creation cap's count) is that old.
 */
export async function purgeDeletedWorkspaces(db: Database, days: number): Promise<number> {
  await db.delete(terminalGrants).where(lt(terminalGrants.expiresAt, sql`now()`));
  const tokensEndedBefore = sql`now() - interval '30 days'`;
  await db
    .delete(apiTokens)
    .where(
      or(lt(apiTokens.revokedAt, tokensEndedBefore), lt(apiTokens.expiresAt, tokensEndedBefore)),
    );
  const purged = await db
    .delete(workspaces)
    .where(
      and(
        isNotNull(workspaces.deletedAt),
        lt(workspaces.deletedAt, sql`now() - make_interval(days => ${days})`),
      ),
    )
    .returning({ id: workspaces.id });
  return purged.length;
}

/** Users with a saved token for the provider, whose accounts the orphan sweep looks through. */
export async function listCredentialOwners(db: Database): Promise<string[]> {
  const rows = await db
    .select({ userId: credentials.userId })
    .from(credentials)
    .where(eq(credentials.provider, "hetzner"));
  return rows.map((row) => row.userId);
}

// A server belongs to a live workspace only in these states; any other server of ours is billed
// for nothing.
const statesWithServers = [
  "provisioning",
  "booting",
  "running",
  "stopping",
  "starting",
  "error",
] as const;

/** Deletes servers labelled as this install's whose workspace is gone, stopped or deleted. */
export async function sweepOrphanServers(
  db: Database,
  provider: Provider,
  installId: string,
  log: (message: string) => Promise<void>,
): Promise<number> {
  const servers = await provider.listServers(installLabels(installId));
  const ids = servers.map((server) => server.labels.workspace).filter((id): id is string => !!id);
  const live = new Set(
    ids.length === 0
      ? []
      : (
          await db
            .select({ id: workspaces.id })
            .from(workspaces)
            .where(
              and(
                inArray(workspaces.id, ids.filter(isUuid)),
                inArray(workspaces.state, [...statesWithServers]),
              ),
            )
        ).map((row) => row.id),
  );
  let swept = 0;
  for (const server of servers) {
    if (server.labels.workspace && live.has(server.labels.workspace)) continue;
    await provider.deleteServer(server.id);
    await log(`Deleted orphan server ${server.id} (${server.name}).`);
    swept++;
  }
  return swept;
}

const isUuid = (value: string) =>
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
