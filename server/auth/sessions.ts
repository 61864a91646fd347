import { createHash } from "node:crypto";
import type { Database } from "../../db/client.ts";
import { AppError } from "../errors.ts";
import { recordAuditEvent } from "../services/audit.ts";
import { createLucia } from "./lucia.ts";
import type { AuthenticatedUser } from "./request-auth.ts";

// The stored id is already the SHA-256 of the cookie token; clients see a shortened hash of
// that, so nothing they are shown is either the cookie or the row's key.
const publicSessionId = (sessionId: string) =>
  createHash("sha256").update(sessionId).digest("hex").slice(0, 24);

export async function listSessions(
  db: Database,
  user: AuthenticatedUser,
  /** The caller's stored session id (`RequestAuth.sessionId`), to mark it `current`. */
  currentSessionId: string | null,
) {
  const sessions = await createLucia(db, true).getUserSessions(user.id);
  return sessions.map((session) => ({
    id: publicSessionId(session.id),
    expiresAt: session.expiresAt,
    userAgent: session.userAgent,
    current: session.id === currentSessionId,
  }));
}

export async function revokeSession(
  db: Database,
  user: AuthenticatedUser,
  publicId: string,
): Promise<void> {
  const lucia = createLucia(db, true);
  const session = (await lucia.getUserSessions(user.id)).find(
    (candidate) => publicSessionId(candidate.id) === publicId,
  );
  if (!session)
    throw new AppError(
      "NOT_FOUND",
      "No session of yours with that id. List them with auth.sessions.list.",
    );
  await lucia.invalidateSession(session.id);
  await recordAuditEvent(db, { actorSubject: user.auditSubject, action: "session.revoke" });
}

/** Signs the user out on every device: every session row of theirs goes. */
export async function revokeAllSessions(db: Database, user: AuthenticatedUser): Promise<void> {
  await createLucia(db, true).invalidateUserSessions(user.id);
  await recordAuditEvent(db, { actorSubject: user.auditSubject, action: "session.revoke_all" });
}
