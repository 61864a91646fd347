import { and, desc, eq, gt, inArray } from "drizzle-orm";
import type { Database } from "../../db/client.ts";
import { users, workspaceEvents, workspaces, type WorkspaceState } from "../../db/schema.ts";
import { generateBearerToken, hashBearerToken } from "../crypto/bearer-token.ts";
import type { Keyring } from "../crypto/envelope.ts";
import type { GitHubSettings } from "../env.ts";
import type {
  BootstrapRequest,
  BootstrapResponse,
  GitCredential,
  GitCredentialRequest,
} from "../../protocol/agent-protocol.ts";
import { AppError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { DatabaseExecutor } from "./audit.ts";
import { findEndedTerminalGrants } from "./terminal-access.ts";
import { checkCredentialRequest, mintGitCredential } from "./git-credentials.ts";
import { requestWorkspaceAction, transitionWorkspaceIf } from "./workspaces.ts";

// The control plane's side of the agent callbacks (SPEC §6, §9). A server's user data
// carries only a one-time bootstrap token (15 minutes); the agent trades it for its own
// token, which authenticates every later call. Both are stored as hashes.

const bootstrapLifetimeMs = 15 * 60_000;
const bootstrapPrefix = "cawb_";
const agentPrefix = "cawa_";

// A fast agent may call before the worker has recorded `booting`.
const bootingStates: WorkspaceState[] = ["provisioning", "starting", "booting"];

export type AgentWorkspace = typeof workspaces.$inferSelect;

/** A fresh bootstrap token for the server about to be created; the previous one stops working. */
export async function issueBootstrapToken(
  executor: DatabaseExecutor,
  workspaceId: string,
): Promise<string> {
  const token = generateBearerToken(bootstrapPrefix);
  await executor
    .update(workspaces)
    .set({
      bootstrapTokenHash: hashBearerToken(token),
      bootReportTokenHash: hashBearerToken(token),
      bootstrapExpiresAt: new Date(Date.now() + bootstrapLifetimeMs),
      agentTokenHash: null,
    })
    .where(eq(workspaces.id, workspaceId));
  return token;
}

export async function redeemBootstrapToken(
  db: Database,
  input: BootstrapRequest,
  urls: { githubUrl: string; publicUrl: string; hostnameOf: (workspaceId: string) => string },
  controlPlaneVersion: string,
): Promise<BootstrapResponse> {
  const redeemable = and(
    eq(workspaces.bootstrapTokenHash, hashBearerToken(input.bootstrapToken)),
    gt(workspaces.bootstrapExpiresAt, new Date()),
    inArray(workspaces.state, bootingStates),
  );
  const [known] = await db.select({ id: workspaces.id }).from(workspaces).where(redeemable);
  if (!known)
    throw new AppError(
      "UNAUTHORIZED",
      "This bootstrap token is unknown, used or expired (they last 15 minutes and work once). Start the workspace again to get a new server.",
    );
  // Checked after the token, so only a genuine agent learns the expected version.
  if (input.agentVersion !== controlPlaneVersion)
    throw new AppError(
      "CONFLICT",
      `Agent version ${input.agentVersion} does not match the control plane's ${controlPlaneVersion}. The agent must come from this control plane's /agent/download; start the workspace again to get a fresh server.`,
    );
  const agentToken = generateBearerToken(agentPrefix);
  const [row] = await db
    .update(workspaces)
    .set({
      bootstrapTokenHash: null,
      bootstrapExpiresAt: null,
      agentTokenHash: hashBearerToken(agentToken),
      agentVersion: input.agentVersion,
      lastHeartbeatAt: new Date(),
    })
    .where(and(eq(workspaces.id, known.id), redeemable))
    .returning();
  if (!row) throw new AppError("UNAUTHORIZED", "This bootstrap token was used a moment ago.");
  return {
    agentToken,
    workspace: {
      id: row.id,
      repository: row.repository,
      branch: row.branch,
      idleTimeoutMinutes: row.idleTimeoutMinutes,
      maxWorkingHours: row.maxWorkingHours,
      cloneUrl: `${urls.githubUrl}/${row.repository}.git`,
      hostname: urls.hostnameOf(row.id),
    },
    jwksUrl: `${urls.publicUrl}/.well-known/jwks.json`,
    issuer: urls.publicUrl,
  };
}

/** The workspace behind an agent's bearer token. */
export async function authenticateAgent(db: Database, token: string): Promise<AgentWorkspace> {
  const [row] = token.startsWith(agentPrefix)
    ? await db
        .select()
        .from(workspaces)
        .where(eq(workspaces.agentTokenHash, hashBearerToken(token)))
    : [];
  if (!row)
    throw new AppError(
      "UNAUTHORIZED",
      "Unknown agent token. An agent gets its token from POST /api/agent/bootstrap.",
    );
  return row;
}

/** booting → running; straight from provisioning/starting when the agent beat the worker. */
export async function markAgentReady(db: Database, workspace: AgentWorkspace): Promise<void> {
  await db.transaction(async (tx) => {
    // The row lock taken by the first transition holds until this transaction ends.
    await transitionWorkspaceIf(
      tx,
      workspace.id,
      ["provisioning", "starting"],
      "booting",
      "The agent is up",
      "agent",
    );
    const ready = await transitionWorkspaceIf(
      tx,
      workspace.id,
      ["booting"],
      "running",
      "The agent reported ready",
      "agent",
      { lastActivityAt: new Date(), lastHeartbeatAt: new Date() },
    );
    if (ready || (await recoverFromSilence(tx, workspace.id))) return;
    const [row] = await tx
      .update(workspaces)
      .set({ lastHeartbeatAt: new Date() })
      .where(eq(workspaces.id, workspace.id))
      .returning({ state: workspaces.state });
    if (row?.state !== "running")
      throw new AppError(
        "CONFLICT",
        `The workspace is ${row?.state ?? "gone"}; an agent can only report ready while it boots.`,
      );
  });
}

/**
 * An agent whose workspace was put in `error` because it fell silent while up (a reboot, or a
 * control-plane outage, longer than the heartbeat timeout) is alive after all: back to running.
 * Errors from anything else (a failed stop, start or delete) stay for the user to act on.
 */
async function recoverFromSilence(tx: DatabaseExecutor, workspaceId: string): Promise<boolean> {
  // The row lock first: no other transition can slip in between reading why it is in error
  // and leaving error.
  const [row] = await tx
    .select({ state: workspaces.state })
    .from(workspaces)
    .where(eq(workspaces.id, workspaceId))
    .for("update");
  if (row?.state !== "error") return false;
  const [last] = await tx
    .select({ fromState: workspaceEvents.fromState, toState: workspaceEvents.toState })
    .from(workspaceEvents)
    .where(eq(workspaceEvents.workspaceId, workspaceId))
    .orderBy(desc(workspaceEvents.id))
    .limit(1);
  if (last?.toState !== "error" || !["running", "booting"].includes(last.fromState ?? ""))
    return false;
  return transitionWorkspaceIf(
    tx,
    workspaceId,
    ["error"],
    "running",
    "The agent reported in again",
    "agent",
    { lastHeartbeatAt: new Date() },
  );
}

/** Records the agent's news; answers which of its terminal grants have ended. */
export async function recordHeartbeat(
  db: Database,
  workspace: AgentWorkspace,
  input: {
    agentVersion: string;
    sessions: number;
    lastActivityAt: Date | null;
    terminalGrants: string[];
  },
): Promise<{ revokedTerminalGrants: string[] }> {
  // Only a workspace in error has anything to recover: the usual heartbeat skips the work.
  if (workspace.state === "error")
    await db.transaction((tx) => recoverFromSilence(tx, workspace.id));
  await db
    .update(workspaces)
    .set({
      lastHeartbeatAt: new Date(),
      agentVersion: input.agentVersion,
      ...(input.lastActivityAt ? { lastActivityAt: input.lastActivityAt } : {}),
    })
    .where(eq(workspaces.id, workspace.id));
  return {
    revokedTerminalGrants: await findEndedTerminalGrants(db, workspace, input.terminalGrants),
  };
}

/**
 * The credential git asks for while cloning and pushing: only while the VM is live, and only
 * for the workspace's own repository on GITHUB_URL (see git-credentials.ts).
 */
export async function readGitCredential(
  db: Database,
  keyring: Keyring,
  workspace: AgentWorkspace,
  github: GitHubSettings,
  request: GitCredentialRequest,
  logger: Logger,
): Promise<GitCredential> {
  // The agent clones as soon as it has its token, which can be before the worker records
  // `booting`; its token itself dies with its server.
  if (![...bootingStates, "running"].includes(workspace.state))
    throw new AppError(
      "FORBIDDEN",
      `The workspace is ${workspace.state}; git credentials are handed out only while it is starting or running.`,
    );
  checkCredentialRequest(request, workspace, github.webUrl);
  const [owner] = await db
    .select({ login: users.login })
    .from(users)
    .where(eq(users.id, workspace.userId));
  if (!owner) throw new AppError("NOT_FOUND", "The workspace's owner no longer exists.");
  const credentialOf = { ...workspace, ownerLogin: owner.login };
  return mintGitCredential(db, keyring, github, credentialOf, logger);
}

/**
 * The agent saw no activity for the idle timeout (or an AI agent worked too long with no
 * input): stop the workspace as its owner would, saying why ("Stopped: idle for 30 min").
 */
export async function reportAgentIdle(
  db: Database,
  workspace: AgentWorkspace,
  settings: { maxAttempts: number },
  reason: string | null = null,
) {
  const [owner] = await db
    .select({ auditSubject: users.auditSubject })
    .from(users)
    .where(eq(users.id, workspace.userId));
  if (!owner) throw new AppError("NOT_FOUND", "The workspace's owner no longer exists.");
  return requestWorkspaceAction(
    db,
    { userId: workspace.userId, auditSubject: owner.auditSubject },
    workspace.id,
    "stop",
    settings,
    "agent",
    `Stopped: ${reason ?? `idle for ${workspace.idleTimeoutMinutes} min`}`,
  );
}
