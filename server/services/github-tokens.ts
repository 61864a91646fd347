import { OAuth2Client, OAuth2RequestError, type OAuth2Tokens } from "arctic";
import { eq } from "drizzle-orm";
import { z } from "zod";
import type { Database } from "../../db/client.ts";
import { users } from "../../db/schema.ts";
import { decryptSecret, encryptSecret, type Keyring } from "../crypto/envelope.ts";
import type { GitHubSettings } from "../env.ts";
import { AppError } from "../errors.ts";
import type { DatabaseExecutor } from "./audit.ts";
import { githubTokenContext } from "./users.ts";

// The user's GitHub token, for every reader (SPEC §4, ADR 0006). An OAuth app's token does
// not expire; a GitHub App's user token lasts 8 hours and comes with a refresh token (6
// months, single use). `readGitHubToken` refreshes it shortly before it expires, under a
// row lock, so two requests at once never both spend the same refresh token.

/** Refreshed when it would expire within this long, so a caller never gets a dying token. */
const refreshMarginMs = 5 * 60_000;

const refreshTokenContext = (userId: string) => `users.github_refresh_token:${userId}`;

export type GitHubUserTokens = {
  accessToken: string;
  /** null: the token does not expire (an OAuth app, or an App with expiry opted out). */
  expiresAt: Date | null;
  refreshToken: string | null;
  refreshTokenExpiresAt: Date | null;
};

// GitHub's token response ("Generating a user access token for a GitHub App").
const tokenResponseSchema = z.object({
  access_token: z.string().min(1),
  expires_in: z.number().int().positive().optional(),
  refresh_token: z.string().min(1).optional(),
  refresh_token_expires_in: z.number().int().positive().optional(),
});

/** The tokens in GitHub's answer to a code exchange or a refresh. */
export function readTokenResponse(tokens: OAuth2Tokens, now = Date.now()): GitHubUserTokens {
  const parsed = tokenResponseSchema.safeParse(tokens.data);
  if (!parsed.success)
    throw new AppError(
      "SERVICE_UNAVAILABLE",
      "GitHub's token answer had no usable access token. Check GITHUB_URL, then try again.",
    );
  const data = parsed.data;
  const after = (seconds: number | undefined) =>
    seconds === undefined ? null : new Date(now + seconds * 1000);
  return {
    accessToken: data.access_token,
    expiresAt: after(data.expires_in),
    refreshToken: data.refresh_token ?? null,
    refreshTokenExpiresAt: after(data.refresh_token_expires_in),
  };
}

/** Stores a user's tokens encrypted, replacing the previous ones (a sign-in or a refresh). */
export async function saveGitHubTokens(
  executor: DatabaseExecutor,
  keyring: Keyring,
  userId: string,
  tokens: GitHubUserTokens,
): Promise<void> {
  await executor
    .update(users)
    .set({
      githubTokenEncrypted: await encryptSecret(
        keyring,
        tokens.accessToken,
        githubTokenContext(userId),
      ),
      githubTokenExpiresAt: tokens.expiresAt,
      githubRefreshTokenEncrypted: tokens.refreshToken
        ? await encryptSecret(keyring, tokens.refreshToken, refreshTokenContext(userId))
        : null,
      githubRefreshTokenExpiresAt: tokens.refreshTokenExpiresAt,
    })
    .where(eq(users.id, userId));
}

/**
 * The user's GitHub access token, refreshed first when it expires within five minutes. Every
 * reader of the token calls this (repository listing and checks, git credentials).
 */
export async function readGitHubToken(
  db: Database,
  keyring: Keyring,
  github: GitHubSettings,
  userId: string,
): Promise<string> {
  const current = await selectTokens(db, userId, false);
  if (!needsRefresh(current)) return decryptAccessToken(keyring, userId, current);
  return db.transaction(async (tx) => {
    // Whoever holds the lock refreshes; the others wait and then read the new token.
    const locked = await selectTokens(tx, userId, true);
    if (!needsRefresh(locked)) return decryptAccessToken(keyring, userId, locked);
    const expiresAt = locked.githubRefreshTokenExpiresAt;
    if (!locked.githubRefreshTokenEncrypted || (expiresAt && expiresAt.getTime() <= Date.now()))
      throw signInAgain("Your GitHub sign-in has expired (it lasts six months without use)");
    const refreshToken = await decryptSecret(
      keyring,
      locked.githubRefreshTokenEncrypted,
      refreshTokenContext(userId),
    );
    const tokens = await refreshUserToken(github, refreshToken);
    await saveGitHubTokens(tx, keyring, userId, tokens);
    return tokens.accessToken;
  });
}

type TokenColumns = Pick<
  typeof users.$inferSelect,
  | "githubTokenEncrypted"
  | "githubTokenExpiresAt"
  | "githubRefreshTokenEncrypted"
  | "githubRefreshTokenExpiresAt"
>;

async function selectTokens(
  executor: DatabaseExecutor,
  userId: string,
  lock: boolean,
): Promise<TokenColumns> {
  const query = executor
    .select({
      githubTokenEncrypted: users.githubTokenEncrypted,
      githubTokenExpiresAt: users.githubTokenExpiresAt,
      githubRefreshTokenEncrypted: users.githubRefreshTokenEncrypted,
      githubRefreshTokenExpiresAt: users.githubRefreshTokenExpiresAt,
    })
    .from(users)
    .where(eq(users.id, userId));
  const [row] = lock ? await query.for("update") : await query;
  if (!row?.githubTokenEncrypted)
    throw new AppError("PRECONDITION_FAILED", "No GitHub token on file. Sign out and in again.");
  return row;
}

const needsRefresh = (row: TokenColumns) =>
  row.githubTokenExpiresAt !== null &&
  row.githubTokenExpiresAt.getTime() - Date.now() < refreshMarginMs;

const decryptAccessToken = (keyring: Keyring, userId: string, row: TokenColumns) =>
  decryptSecret(keyring, row.githubTokenEncrypted!, githubTokenContext(userId));

/** The refresh grant at GITHUB_URL/login/oauth/access_token; the old refresh token dies. */
async function refreshUserToken(
  github: GitHubSettings,
  refreshToken: string,
): Promise<GitHubUserTokens> {
  const client = new OAuth2Client(github.clientId, github.clientSecret, null);
  let tokens: OAuth2Tokens;
  try {
    tokens = await client.refreshAccessToken(
      `${github.webUrl}/login/oauth/access_token`,
      refreshToken,
      [],
    );
  } catch (error) {
    if (error instanceof OAuth2RequestError) throw refusedRenewal(error.code);
    throw new AppError(
      "SERVICE_UNAVAILABLE",
      `Could not renew your GitHub token at ${github.webUrl} (GitHub did not answer as expected). Try again in a moment.`,
      { cause: error },
    );
  }
  // GitHub reports a refused refresh token as HTTP 200 with an `error` field.
  const refusal = (tokens.data as { error?: unknown }).error;
  if (typeof refusal === "string") throw refusedRenewal(refusal);
  return readTokenResponse(tokens);
}

const signInAgain = (reason: string) =>
  new AppError("UNAUTHORIZED", `${reason}. Sign out and in again.`);

const refusedRenewal = (code: string) =>
  signInAgain(
    `GitHub refused to renew your token (${code}): the App's authorization was revoked or the refresh token was already used`,
  );
