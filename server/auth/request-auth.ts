import type { Database } from "../../db/client.ts";
import { authenticateApiToken } from "../services/api-tokens.ts";
import { getUserById } from "../services/users.ts";
import { createLucia, hashSessionToken, type UserAttributes } from "./lucia.ts";

export type AuthenticatedUser = UserAttributes & { id: string };

export type RequestAuth = {
  user: AuthenticatedUser | null;
  via: "session" | "token" | null;
  /** The stored `sessions.id` (the SHA-256 of the cookie token), never the token itself. */
  sessionId: string | null;
  /** The `api_tokens.id` when `via` is "token" (terminal grants end with the token). */
  tokenId?: string;
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
    const apiToken = token ? await authenticateApiToken(db, token) : null;
    const user = apiToken ? await getUserById(db, apiToken.userId) : null;
    if (!user || !apiToken) return anonymous;
    return {
      ...anonymous,
      user: toAuthenticatedUser(user),
      via: "token",
      tokenId: apiToken.tokenId,
    };
  }
  const lucia = createLucia(db, secureCookies);
  const token = lucia.readSessionCookie(request.headers.get("cookie") ?? "");
  if (!token) return anonymous;
  const { session, user } = await lucia.validateSession(hashSessionToken(token));
  if (!session) return { ...anonymous, cookies: [lucia.createBlankSessionCookie().serialize()] };
  // A refreshed session re-sends the cookie: with the token, never the stored hash.
  const cookies = session.fresh ? [lucia.createSessionCookie(token).serialize()] : [];
  return { user: { ...user, id: user.id }, via: "session", sessionId: session.id, cookies };
}

function toAuthenticatedUser(
  user: NonNullable<Awaited<ReturnType<typeof getUserById>>>,
): AuthenticatedUser {
  const { id, login, name, email, avatarUrl, role, auditSubject } = user;
  return { id, login, name, email, avatarUrl, role, auditSubject };
}
