import { hash, randomBytes } from "node:crypto";
import { DrizzlePostgreSQLAdapter } from "@lucia-auth/adapter-drizzle";
import { Lucia, TimeSpan } from "lucia";
import type { Database } from "../../db/client.ts";
import { isLoopbackHost } from "../process/loopback.ts";
import { sessions, users, type UserRole } from "../../db/schema.ts";

// Every Lucia call lives in server/auth/ (SPEC §4): Lucia v3 is deprecated upstream and must
// stay replaceable by swapping this folder.

export const sessionCookieName = "caw_session";

export function createLucia(db: Database, secureCookies: boolean) {
  return new Lucia(new DrizzlePostgreSQLAdapter(db, sessions, users), {
    // Sliding: Lucia extends a session used in the second half of its life.
    sessionExpiresIn: new TimeSpan(30, "d"),
    sessionCookie: {
      name: sessionCookieName,
      expires: true,
      attributes: { secure: secureCookies, sameSite: "lax" },
    },
    getSessionAttributes: (attributes) => ({ userAgent: attributes.userAgent }),
    getUserAttributes: (attributes) => ({
      login: attributes.login,
      name: attributes.name,
      email: attributes.email,
      avatarUrl: attributes.avatarUrl,
      role: attributes.role,
      auditSubject: attributes.auditSubject,
    }),
  });
}

// The cookie carries a random token; the sessions table keeps only its SHA-256 (SPEC §4), so a
// copy of the table (a backup, a read-only SQL hole) signs nobody in.

/** 256 random bits, base64url: the value of the session cookie. */
export const generateSessionToken = () => randomBytes(32).toString("base64url");

/** The `sessions.id` of a cookie token. */
export const hashSessionToken = (token: string) => hash("sha256", token, "hex");

/** What every request knows about its signed-in user: the row's public columns. */
export type UserAttributes = {
  login: string;
  name: string | null;
  email: string | null;
  avatarUrl: string | null;
  role: UserRole;
  auditSubject: string;
};

declare module "lucia" {
  interface Register {
    Lucia: ReturnType<typeof createLucia>;
    DatabaseSessionAttributes: { userAgent: string | null };
    DatabaseUserAttributes: UserAttributes;
  }
}

/**
 * Secure cookies everywhere but plain http on a non-loopback host (a LAN test install),
 * where browsers would drop them. Browsers treat http://localhost as secure.
 */
export function shouldUseSecureCookies(publicUrl: string): boolean {
  const url = new URL(publicUrl);
  return url.protocol === "https:" || isLoopbackHost(url.hostname);
}
