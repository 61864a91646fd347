import { and, eq } from "drizzle-orm";
import type { Database } from "../../db/client.ts";
import { users, workspaces, type WorkspaceState } from "../../db/schema.ts";
import type { TerminalStatus } from "../../protocol/terminal-status.ts";
import { AppError } from "../errors.ts";
import { findEndedTerminalGrants } from "./terminal-access.ts";
import { requestWorkspaceAction, type WorkspaceSettings } from "./workspaces.ts";
import type { Owner } from "./owner.ts";

// What an open terminal page may learn and do once its agent is gone (ADR 0022): read its
// workspace's state, and start it again. The page proves itself with the id of the terminal
// grant behind its agent cookie; the grant must be of this workspace and its owner, and still
// hold (its session or API token live, not expired), exactly as the agent's heartbeat checks.

const refused = () =>
  new AppError(
    "UNAUTHORIZED",
    "This terminal's access to the workspace ended or was never given. Open the terminal again from the control plane's workspace page.",
  );

/** The owner behind a live grant of the workspace; the same refusal for any mismatch. */
// protocol/ imports nothing of ours, so the page's schema lists the states again; these two
// lines make tsc refuse the build the day the lists differ.
const statesSurvive: TerminalStatus["state"] extends WorkspaceState ? true : never = true;
const statesReach: WorkspaceState extends TerminalStatus["state"] ? true : never = true;
void [statesSurvive, statesReach];

async function ownerOfGrant(db: Database, workspaceId: string, grantId: string): Promise<Owner> {
  const [row] = await db
    .select({ userId: workspaces.userId, auditSubject: users.auditSubject })
    .from(workspaces)
    .innerJoin(users, eq(users.id, workspaces.userId))
    .where(eq(workspaces.id, workspaceId));
  if (!row) throw refused();
  const ended = await findEndedTerminalGrants(db, { id: workspaceId, userId: row.userId }, [
    grantId,
  ]);
  if (ended.length > 0) throw refused();
  return row;
}

/** The workspace's state and why, for the holder of a live terminal grant of it. */
export async function readTerminalStatus(
  db: Database,
  workspaceId: string,
  grantId: string,
): Promise<TerminalStatus> {
  const owner = await ownerOfGrant(db, workspaceId, grantId);
  const [row] = await db
    .select({
      name: workspaces.name,
      state: workspaces.state,
      stateReason: workspaces.stateReason,
      agentUrl: workspaces.agentUrl,
      deletedAt: workspaces.deletedAt,
    })
    .from(workspaces)
    .where(and(eq(workspaces.id, workspaceId), eq(workspaces.userId, owner.userId)));
  if (!row) throw refused();
  const state = row.deletedAt ? "deleted" : row.state;
  return {
    workspaceId,
    name: row.name,
    state,
    reason: explainState(row.stateReason),
    terminal: state === "running" && row.agentUrl !== null,
    startable: state === "stopped" || state === "error",
  };
}

/**
 * Why the workspace is in its state, for the terminal tab: the state reason, which a stop keeps
 * from `stopping` into `stopped` (moveWorkspace), without the "Stopped: " the tab says itself.
 */
export function explainState(stateReason: string | null): string | null {
  return stateReason?.replace(/^Stopped: /, "") ?? null;
}

/** Starts the workspace as its owner would, for the holder of a live terminal grant of it. */
export async function startFromTerminal(
  db: Database,
  workspaceId: string,
  grantId: string,
  settings: Pick<WorkspaceSettings, "maxAttempts">,
): Promise<TerminalStatus> {
  const owner = await ownerOfGrant(db, workspaceId, grantId);
  await requestWorkspaceAction(
    db,
    owner,
    workspaceId,
    "start",
    settings,
    "user",
    "Start requested from the terminal",
  );
  return readTerminalStatus(db, workspaceId, grantId);
}
