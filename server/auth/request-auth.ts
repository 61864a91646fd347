import type { Database } from "../../db/client.ts";
import { authenticateApiToken } from "../services/api-tokens.ts";
import type { CredentialCache } from "./credential-cache.ts";
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
 * cookie (browsers). A bad bearer token never falls back to the cookie. `credentials` is the
 * web process's cache of API tokens (ADR 0028); sessions are read each time.
 */
export async function authenticateRequest(
  db: Database,
  request: Request,
  secureCookies: boolean,
  credentials?: CredentialCache,
): Promise<RequestAuth> {
  const authorization = request.headers.get("authorization");
  if (authorization) {
    const token = authorization.match(/^Bearer\s+(\S+)$/i)?.[1];
    const credential = token ? await authenticateApiToken(db, token, credentials) : null;
    if (!credential) return anonymous;
    // Spelled out, not `{ ...anonymous, … }`: a spread then more keys is slow on V8 (ADR 0029).
    const { user, tokenId } = credential;
    return { user, via: "token", sessionId: null, tokenId, cookies: [] };
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
