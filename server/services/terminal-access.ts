import { randomUUID } from "node:crypto";
import { and, eq, gt, inArray, isNotNull, or } from "drizzle-orm";
import type { Database } from "../../db/client.ts";
import { apiTokens, sessions, terminalGrants } from "../../db/schema.ts";
import { terminalCookieMaxAgeSeconds } from "../../protocol/agent-protocol.ts";
import type { Keyring } from "../crypto/envelope.ts";
import { AppError } from "../errors.ts";
import { isLiveApiToken } from "./api-tokens.ts";
import { recordAuditEvent } from "./audit.ts";
import type { Owner } from "./owner.ts";
import { signTerminalToken } from "./signing-keys.ts";
import { getWorkspace } from "./workspaces.ts";

// Opening a workspace's terminal (SPEC §9): a short-lived JWT in the agent's URL, which the
// agent trades (once: the JWT's `jti`) for its own session cookie and strips from the address
// bar. Each link is a `terminal_grants` row tied to the session or API token that asked for
// it; when that ends, the agent hears so in its next heartbeat and ends the cookie.

/** What signed the caller in: exactly one of them is set. */
export type TerminalCaller = { sessionId: string | null; apiTokenId: string | null };
export type TerminalUrlOptions = {
  issuer: string;
  ttlSeconds: number;
  caller: TerminalCaller;
  /** The tmux session to attach (SPEC §14); without it the terminal opens a new one. */
  session?: string;
};

/** The link that signs the owner in to the terminal of one of their running workspaces. */
export async function createTerminalUrl(
  db: Database,
  keyring: Keyring,
  owner: Owner,
  workspaceId: string,
  options: TerminalUrlOptions,
): Promise<{ url: string; expiresAt: Date }> {
  const { sessionId, apiTokenId } = options.caller;
  if ((sessionId === null) === (apiTokenId === null))
    throw new AppError(
      "UNAUTHORIZED",
      "A terminal link needs a signed-in browser session or an API token. Sign in again, then open the terminal.",
    );
  const workspace = await getWorkspace(db, owner, workspaceId);
  if (workspace.state !== "running" || !workspace.agentUrl)
    throw new AppError(
      "CONFLICT",
      `The workspace "${workspace.name}" is ${workspace.state}; its terminal opens once it is running. ` +
        (workspace.state === "stopped" || workspace.state === "error"
          ? "Start it, then open the terminal again."
          : "Wait until it reports running, then open the terminal again."),
    );
  const jti = randomUUID();
  const now = new Date();
  const { token, expiresAt } = await signTerminalToken(db, keyring, {
    userId: owner.userId,
    workspaceId: workspace.id,
    issuer: options.issuer,
    expiresInSeconds: options.ttlSeconds,
    jti,
    now,
  });
  // The agent's cookie lives 8 h from when the link is used, at the latest when it expires.
  const grantExpiresAt = new Date(expiresAt.getTime() + terminalCookieMaxAgeSeconds * 1000);
  await db.insert(terminalGrants).values({
    id: jti,
    workspaceId: workspace.id,
    userId: owner.userId,
    sessionId,
    apiTokenId,
    expiresAt: grantExpiresAt,
  });
  await recordAuditEvent(db, {
    actorSubject: owner.auditSubject,
    action: "terminal.open",
    targetType: "workspace",
    targetId: workspace.id,
  });
  const url = new URL(`${workspace.agentUrl.replace(/\/+$/, "")}/`);
  url.searchParams.set("token", token);
  if (options.session) url.searchParams.set("session", options.session);
  return { url: url.toString(), expiresAt };
}

/**
 * Of the grants an agent reports, those that no longer hold: the row is gone (its session was
 * revoked or signed out, its token or user deleted), it expired, its API token was revoked or
 * expired, or it is not a grant of this workspace and its owner.
 */
export async function findEndedTerminalGrants(
  db: Database,
  workspace: { id: string; userId: string },
  grantIds: readonly string[],
  now = new Date(),
): Promise<string[]> {
  const reported = [...new Set(grantIds)];
  if (reported.length === 0) return [];
  const sessionHolds = and(isNotNull(sessions.id), gt(sessions.expiresAt, now));
  const tokenHolds = and(isNotNull(apiTokens.id), isLiveApiToken(now));
  const live = await db
    .select({ id: terminalGrants.id })
    .from(terminalGrants)
    .leftJoin(sessions, eq(sessions.id, terminalGrants.sessionId))
    .leftJoin(apiTokens, eq(apiTokens.id, terminalGrants.apiTokenId))
    .where(
      and(
        inArray(terminalGrants.id, reported),
        eq(terminalGrants.workspaceId, workspace.id),
        eq(terminalGrants.userId, workspace.userId),
        gt(terminalGrants.expiresAt, now),
        or(sessionHolds, tokenHolds),
      ),
    );
  const holding = new Set(live.map((row) => row.id));
  return reported.filter((id) => !holding.has(id));
}
