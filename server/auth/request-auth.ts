import type { Database } from "../../db/client.ts";
import { authenticateApiToken } from "../services/api-tokens.ts";
import { getUserById } from "../services/users.ts";
import { createLucia, type UserAttributes } from "./lucia.ts";

export type AuthenticatedUser = UserAttributes & { id: string };

export type RequestAuth = {
  user: AuthenticatedUser | null;
  via: "session" | "token" | null;
  sessionId: string | null;
  /** Set-Cookie values to send back (a refreshed or a cleared session cookie). */
  cookies: string[];
};

const anonymous: RequestAuth = { user: null, via: null, sessionId: null, cookies: [] };

/**
 * Who is calling: `Authorization: Bearer <api token>` (SDK, scripts, agents) or the session
 * cookie (browsers). A bad bearer token never falls back to the cookie.
 */
export async function authenticateRequest(
  db: Database,
  request: Request,
  secureCookies: boolean,
): Promise<RequestAuth> {
  const authorization = request.headers.get("authorization");
  if (authorization) {
    const token = authorization.match(/^Bearer\s+(\S+)$/i)?.[1];
    const userId = token ? await authenticateApiToken(db, token) : null;
    const user = userId ? await getUserById(db, userId) : null;
    return user ? { ...anonymous, user: toAuthenticatedUser(user), via: "token" } : anonymous;
  }
  const lucia = createLucia(db, secureCookies);
  const sessionId = lucia.readSessionCookie(request.headers.get("cookie") ?? "");
  if (!sessionId) return anonymous;
  const { session, user } = await lucia.validateSession(sessionId);
  if (!session) return { ...anonymous, cookies: [lucia.createBlankSessionCookie().serialize()] };
  const cookies = session.fresh ? [lucia.createSessionCookie(session.id).serialize()] : [];
  return { user: { ...user, id: user.id }, via: "session", sessionId: session.id, cookies };
}

function toAuthenticatedUser(
  user: NonNullable<Awaited<ReturnType<typeof getUserById>>>,
): AuthenticatedUser {
  const { id, login, name, email, avatarUrl, role, auditSubject } = user;
  return { id, login, name, email, avatarUrl, role, auditSubject };
}
