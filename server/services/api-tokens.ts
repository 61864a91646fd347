import { and, desc, eq, gt, isNull, lt, or, sql } from "drizzle-orm";
import type { Database } from "../../db/client.ts";
import { apiTokens, users } from "../../db/schema.ts";
import type { CredentialCache, TokenCredential } from "../auth/credential-cache.ts";
import { generateBearerToken, hashBearerToken } from "../crypto/bearer-token.ts";
import { AppError } from "../errors.ts";
import { recordAuditEvent, type DatabaseExecutor } from "./audit.ts";
import type { Owner } from "./owner.ts";

// Personal API tokens (SPEC §4): shown once, stored as SHA-256, revocable, optional expiry.

const tokenPrefix = "caw_";
const lastUsedResolutionMs = 60_000;

// Not revoked and not expired: the tokens the cap counts.
/** Where a token still works: not revoked, not expired. The one home of that rule. */
export const isLiveApiToken = (now: Date) =>
  and(isNull(apiTokens.revokedAt), or(isNull(apiTokens.expiresAt), gt(apiTokens.expiresAt, now)));

/**
 * Revoked tokens leave the cap, so without a second limit a create/revoke loop would grow
 * api_tokens without bound: at most this many creations per user in any 24 hours. Rows
 * live for 30 days after they end (purgeDeletedWorkspaces), so the count is always there.
 */
export const apiTokenCreationsPerDay = 100;

/**
 * A new token for `owner`, unless they already hold `settings.limit` live ones
 * (API_TOKEN_LIMIT) or created apiTokenCreationsPerDay in the last 24 hours.
 */
export async function createApiToken(
  db: Database,
  owner: Owner,
  input: { name: string; expiresInDays?: number },
  settings: { limit: number },
) {
  const token = generateBearerToken(tokenPrefix);
  const expiresAt = input.expiresInDays
    ? new Date(Date.now() + input.expiresInDays * 86_400_000)
    : null;
  const [row] = await db.transaction(async (tx) => {
    // Serialises one user's creations (a batch runs its calls at once), so the caps hold.
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`api_tokens:${owner.userId}`}))`);
    await checkTokenCaps(tx, owner.userId, settings.limit);
    return tx
      .insert(apiTokens)
      .values({
        userId: owner.userId,
        name: input.name,
        tokenHash: hashBearerToken(token),
        prefix: token.slice(0, 12),
        expiresAt,
      })
      .returning({
        id: apiTokens.id,
        name: apiTokens.name,
        prefix: apiTokens.prefix,
        expiresAt: apiTokens.expiresAt,
        createdAt: apiTokens.createdAt,
      });
  });
  await recordAuditEvent(db, {
    actorSubject: owner.auditSubject,
    action: "api_token.create",
    targetType: "api_token",
    targetId: row!.id,
  });
  return { ...row!, token };
}

async function checkTokenCaps(tx: DatabaseExecutor, userId: string, limit: number) {
  const recent = sql`${apiTokens.createdAt} > now() - interval '1 day'`;
  const [counts] = await tx
    .select({
      live: sql`count(*) filter (where ${isLiveApiToken(new Date())})`.mapWith(Number),
      recent: sql`count(*) filter (where ${recent})`.mapWith(Number),
      // When the oldest of the last 24 hours' creations leaves the window.
      roomAt: sql`min(${apiTokens.createdAt} + interval '1 day') filter (where ${recent})`.mapWith(
        (value: string | null) => (value === null ? null : new Date(value)),
      ),
    })
    .from(apiTokens)
    .where(eq(apiTokens.userId, userId));
  const { live = 0, recent: created = 0, roomAt = null } = counts ?? {};
  if (live >= limit)
    throw new AppError(
      "PRECONDITION_FAILED",
      `You have ${live} active API tokens, the limit of this install (API_TOKEN_LIMIT). Revoke one you no longer use (Settings → API tokens, or tokens.revoke), then create this one.`,
    );
  if (created >= apiTokenCreationsPerDay)
    throw new AppError(
      "TOO_MANY_REQUESTS",
      `You created ${created} API tokens in the last 24 hours, the most this server allows (${apiTokenCreationsPerDay} a day). Keep using one you have, or create this one after ${roomAt?.toISOString() ?? "a day"}.`,
      { cause: { retryAfterSeconds: secondsUntil(roomAt) } },
    );
}

const secondsUntil = (moment: Date | null) =>
  moment ? Math.max(1, Math.ceil((moment.getTime() - Date.now()) / 1000)) : 24 * 60 * 60;

export async function listApiTokens(db: Database, owner: Owner) {
  return db
    .select({
      id: apiTokens.id,
      name: apiTokens.name,
      prefix: apiTokens.prefix,
      expiresAt: apiTokens.expiresAt,
      lastUsedAt: apiTokens.lastUsedAt,
      revokedAt: apiTokens.revokedAt,
      createdAt: apiTokens.createdAt,
    })
    .from(apiTokens)
    .where(eq(apiTokens.userId, owner.userId))
    .orderBy(desc(apiTokens.createdAt));
}

export async function revokeApiToken(db: Database, owner: Owner, tokenId: string): Promise<void> {
  const revoked = await db
    .update(apiTokens)
    .set({ revokedAt: new Date() })
    .where(
      and(
        eq(apiTokens.id, tokenId),
        eq(apiTokens.userId, owner.userId),
        isNull(apiTokens.revokedAt),
      ),
    )
    .returning({ id: apiTokens.id });
  if (revoked.length === 0) {
    throw new AppError(
      "NOT_FOUND",
      "No active API token with that id. List your tokens with tokens.list.",
    );
  }
  await recordAuditEvent(db, {
    actorSubject: owner.auditSubject,
    action: "api_token.revoke",
    targetType: "api_token",
    targetId: tokenId,
  });
}

/**
 * The live token's credential (its id and its user), or null; records when it was last used
 * (to the minute). With a cache (the web process's, ADR 0028) a token seen in the last few
 * seconds costs no statement.
 */
export async function authenticateApiToken(
  db: Database,
  token: string,
  cache?: CredentialCache,
): Promise<TokenCredential | null> {
  if (!token.startsWith(tokenPrefix)) return null;
  const tokenHash = hashBearerToken(token);
  const now = new Date();
  const cached = cache?.read(tokenHash);
  // Taken before the read, so a revoke heard while it runs keeps its answer out of the cache.
  const epoch = cache?.epoch() ?? 0;
  const credential = cached ?? (await readLiveToken(db, tokenHash, now));
  if (!credential) return null;
  if (!cached) cache?.remember(tokenHash, credential, epoch);
  const { lastUsedAt } = credential;
  if (!lastUsedAt || now.getTime() - lastUsedAt.getTime() > lastUsedResolutionMs) {
    // Set first: the calls of the next minute, cached or not, need not write it again.
    credential.lastUsedAt = now;
    await recordTokenUse(db, credential.tokenId, now);
  }
  return credential;
}

/** The token with its user, in one statement (the owner is the token's own user_id). */
async function readLiveToken(
  db: Database,
  tokenHash: string,
  now: Date,
): Promise<TokenCredential | null> {
  const [row] = await db
    .select({
      tokenId: apiTokens.id,
      expiresAt: apiTokens.expiresAt,
      lastUsedAt: apiTokens.lastUsedAt,
      user: {
        id: users.id,
        login: users.login,
        name: users.name,
        email: users.email,
        avatarUrl: users.avatarUrl,
        role: users.role,
        auditSubject: users.auditSubject,
      },
    })
    .from(apiTokens)
    .innerJoin(users, eq(users.id, apiTokens.userId))
    .where(and(eq(apiTokens.tokenHash, tokenHash), isLiveApiToken(now)));
  return row ?? null;
}

async function recordTokenUse(db: Database, tokenId: string, now: Date): Promise<void> {
  await db
    .update(apiTokens)
    .set({ lastUsedAt: now })
    .where(
      and(
        eq(apiTokens.id, tokenId),
        or(isNull(apiTokens.lastUsedAt), lt(apiTokens.lastUsedAt, now)),
      ),
    );
}
