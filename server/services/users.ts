import { and, count, eq, isNull, like, or, sql } from "drizzle-orm";
import type { Database } from "../../db/client.ts";
import {
  adminBindings,
  apiTokens,
  rateLimits,
  users,
  workspaces,
  type UserRole,
} from "../../db/schema.ts";
import { encryptSecret, type Keyring } from "../crypto/envelope.ts";
import { AppError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { recordAuditEvent, type DatabaseExecutor } from "./audit.ts";

export type GitHubProfile = {
  id: number;
  login: string;
  name: string | null;
  email: string | null;
  avatarUrl: string | null;
};

const firstUserLockId = 7_461_923_202;

/** Where a user's encrypted GitHub token belongs; binds the ciphertext to that row. */
export const githubTokenContext = (userId: string) => `users.github_token:${userId}`;

/**
 * Creates or refreshes the user behind a GitHub sign-in and stores their GitHub token
 * encrypted. The first user of an install, and logins in ADMIN_GITHUB_LOGINS, are admins.
 */
export async function upsertGitHubUser(
  db: Database,
  keyring: Keyring,
  input: {
    profile: GitHubProfile;
    accessToken: string;
    adminLogins: string[];
    /** Where a refused ADMIN_GITHUB_LOGINS claim is reported. */
    logger?: Logger;
  },
) {
  const { profile } = input;
  const user = await db.transaction(async (tx) => {
    // Serialises first sign-ins so exactly one user can become the first admin.
    await tx.execute(sql`select pg_advisory_xact_lock(${firstUserLockId})`);
    const [existing] = await tx.select().from(users).where(eq(users.githubId, profile.id));
    const [{ total }] = (await tx.select({ total: count() }).from(users)) as [{ total: number }];
    // Asked even for the first user, so a listed login they sign in with is bound to them.
    const listedAdmin = await holdsAdminLogin(tx, input);
    const role: UserRole =
      listedAdmin || total === 0 || existing?.role === "admin" ? "admin" : "member";
    const values = {
      login: profile.login,
      name: profile.name,
      email: profile.email,
      avatarUrl: profile.avatarUrl,
      role,
      updatedAt: new Date(),
    };
    const [row] = existing
      ? await tx.update(users).set(values).where(eq(users.id, existing.id)).returning()
      : await tx
          .insert(users)
          .values({ ...values, githubId: profile.id })
          .returning();
    return row!;
  });
  const githubTokenEncrypted = await encryptSecret(
    keyring,
    input.accessToken,
    githubTokenContext(user.id),
  );
  await db.update(users).set({ githubTokenEncrypted }).where(eq(users.id, user.id));
  return user;
}

/**
 * ADMIN_GITHUB_LOGINS names logins, but logins can be renamed and then taken by someone else.
 * So a listed login is bound to the GitHub account id that first signs in with it, and only
 * that account gets admin through it (it keeps admin after a rename: roles are sticky).
 */
async function holdsAdminLogin(
  tx: DatabaseExecutor,
  input: { profile: GitHubProfile; adminLogins: string[]; logger?: Logger },
): Promise<boolean> {
  const login = input.profile.login.toLowerCase();
  if (!input.adminLogins.includes(login)) return false;
  // An install from before the bindings existed: the account we knew under this login is the
  // one the operator meant, not a newcomer who took the login after a rename.
  const [earlier] = await tx
    .select({ githubId: users.githubId })
    .from(users)
    .where(and(sql`lower(${users.login}) = ${login}`, eq(users.role, "admin")));
  await tx
    .insert(adminBindings)
    .values({ login, githubId: earlier?.githubId ?? input.profile.id })
    .onConflictDoNothing({ target: adminBindings.login });
  const [binding] = await tx.select().from(adminBindings).where(eq(adminBindings.login, login));
  if (binding?.githubId === input.profile.id) return true;
  input.logger?.warn(
    { login, githubId: input.profile.id, boundGitHubId: binding?.githubId },
    "ADMIN_GITHUB_LOGINS lists this login, but it is bound to another GitHub account (the login was renamed and taken over); signed in as a member. Delete its admin_bindings row if the change is intended.",
  );
  return false;
}

export async function getUserById(db: Database, userId: string) {
  const [user] = await db.select().from(users).where(eq(users.id, userId));
  return user ?? null;
}

/** The user's role, or null when they no longer exist. */
export async function readUserRole(db: Database, userId: string): Promise<UserRole | null> {
  const [row] = await db.select({ role: users.role }).from(users).where(eq(users.id, userId));
  return row?.role ?? null;
}

/**
 * Deletes every row of the user (sessions and tokens cascade). Their audit entries stay,
 * pointing at a pseudonym nothing links back to any more. Live workspaces must be deleted
 * first (SPEC §4), so nothing keeps running in the user's cloud account.
 */
export async function deleteAccount(
  db: Database,
  userId: string,
  confirmLogin: string,
): Promise<void> {
  const user = await getUserById(db, userId);
  if (!user) throw new AppError("NOT_FOUND", "This account no longer exists.");
  if (confirmLogin !== user.login) {
    throw new AppError(
      "BAD_REQUEST",
      `Type your GitHub login "${user.login}" exactly to confirm the deletion.`,
    );
  }
  const live = await db
    .select({ name: workspaces.name })
    .from(workspaces)
    .where(and(eq(workspaces.userId, userId), isNull(workspaces.deletedAt)));
  if (live.length > 0) {
    // Their servers and volumes cost money in the user's own cloud account: they go first.
    throw new AppError(
      "CONFLICT",
      `Delete your workspaces first (${live.map((row) => row.name).join(", ")}), so no server or volume is left running in your cloud account; then delete the account.`,
    );
  }
  await db.transaction(async (tx) => {
    await recordAuditEvent(tx, { actorSubject: user.auditSubject, action: "account.delete" });
    // Rate-limit counters are keyed by the user's id or a token's (whatever the limiter's
    // prefix); they go too. Ids are UUIDs, so nothing in them is a LIKE wildcard.
    const tokens = await tx
      .select({ id: apiTokens.id })
      .from(apiTokens)
      .where(eq(apiTokens.userId, userId));
    const ids = [userId, ...tokens.map((token) => token.id)];
    await tx.delete(rateLimits).where(or(...ids.map((id) => like(rateLimits.key, `%:${id}`))));
    await tx.delete(users).where(eq(users.id, userId));
  });
}
