import { createHash } from "node:crypto";
import type { Database } from "../../db/client.ts";
import { AppError } from "../errors.ts";
import { recordAuditEvent } from "../services/audit.ts";
import { createLucia } from "./lucia.ts";
import type { AuthenticatedUser } from "./request-auth.ts";

// A session id is the cookie value, so clients only ever see a hash of it.
const publicSessionId = (sessionId: string) =>
  createHash("sha256").update(sessionId).digest("hex").slice(0, 24);

export async function listSessions(
  db: Database,
  user: AuthenticatedUser,
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
