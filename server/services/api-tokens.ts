import { and, count, desc, eq, gt, isNull, lt, or, sql } from "drizzle-orm";
import type { Database } from "../../db/client.ts";
import { apiTokens } from "../../db/schema.ts";
import { generateBearerToken, hashBearerToken } from "../crypto/bearer-token.ts";
import { AppError } from "../errors.ts";
import { recordAuditEvent } from "./audit.ts";
import type { Owner } from "./owner.ts";

// Personal API tokens (SPEC §4): shown once, stored as SHA-256, revocable, optional expiry.

const tokenPrefix = "caw_";
const lastUsedResolutionMs = 60_000;

// Not revoked and not expired: the tokens the cap counts.
const isLive = (now: Date) =>
  and(isNull(apiTokens.revokedAt), or(isNull(apiTokens.expiresAt), gt(apiTokens.expiresAt, now)));

/** A new token for `owner`, unless they already hold `settings.limit` live ones (API_TOKEN_LIMIT). */
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
    // Serialises one user's creations (a batch runs its calls at once), so the cap holds.
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`api_tokens:${owner.userId}`}))`);
    const [{ value: live } = { value: 0 }] = await tx
      .select({ value: count() })
      .from(apiTokens)
      .where(and(eq(apiTokens.userId, owner.userId), isLive(new Date())));
    if (live >= settings.limit)
      throw new AppError(
        "PRECONDITION_FAILED",
        `You have ${live} active API tokens, the limit of this install (API_TOKEN_LIMIT). Revoke one you no longer use (Settings → API tokens, or tokens.revoke), then create this one.`,
      );
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

/** The live token's id and user, or null; records when it was last used (to the minute). */
export async function authenticateApiToken(
  db: Database,
  token: string,
): Promise<{ tokenId: string; userId: string } | null> {
  if (!token.startsWith(tokenPrefix)) return null;
  const now = new Date();
  const [row] = await db
    .select({ id: apiTokens.id, userId: apiTokens.userId, lastUsedAt: apiTokens.lastUsedAt })
    .from(apiTokens)
    .where(
      and(
        eq(apiTokens.tokenHash, hashBearerToken(token)),
        isNull(apiTokens.revokedAt),
        or(isNull(apiTokens.expiresAt), gt(apiTokens.expiresAt, now)),
      ),
    );
  if (!row) return null;
  if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > lastUsedResolutionMs) {
    await db
      .update(apiTokens)
      .set({ lastUsedAt: now })
      .where(
        and(
          eq(apiTokens.id, row.id),
          or(isNull(apiTokens.lastUsedAt), lt(apiTokens.lastUsedAt, now)),
        ),
      );
  }
  return { tokenId: row.id, userId: row.userId };
}
