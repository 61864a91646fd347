import { OAuth2Tokens } from "arctic";
import { eq } from "drizzle-orm";
import { z } from "zod";
import type { Database } from "../../db/client.ts";
import { users } from "../../db/schema.ts";
import { decryptSecret, encryptSecret, type Keyring } from "../crypto/envelope.ts";
import type { GitHubSettings } from "../env.ts";
import { AppError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { DatabaseExecutor } from "./audit.ts";
import { githubTokenContext } from "./users.ts";

// The user's GitHub token, for every reader (SPEC §4, ADR 0006). An OAuth app's token does
// not expire; a GitHub App's user token lasts 8 hours and comes with a refresh token (6
// months, single use). `readGitHubToken` refreshes it shortly before it expires, under a
// row lock, so two requests at once never both spend the same refresh token.

/** Refreshed when it would expire within this long, so a caller never gets a dying token. */
const refreshMarginMs = 5 * 60_000;
/** How long GitHub may take to renew, while we hold the user's row lock and a connection. */
const defaultRefreshTimeoutMs = 10_000;

export type ReadTokenOptions = {
  /** Where a lost renewal is reported (never with a token in it). */
  logger?: Logger;
  refreshTimeoutMs?: number;
};

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
  options: ReadTokenOptions = {},
): Promise<string> {
  const current = await selectTokens(db, userId, false);
  if (!needsRefresh(current)) return decryptAccessToken(keyring, userId, current);
  return refreshUnderLock(db, keyring, github, userId, options, async (row) => !needsRefresh(row));
}

/**
 * A new token after GitHub refused `rejected` (401) although it should still live: revoked,
 * expired early, or a clock apart. With a refresh token it is renewed once (unless another
 * request renewed it meanwhile); without one the user must sign in again.
 */
export async function renewRejectedGitHubToken(
  db: Database,
  keyring: Keyring,
  github: GitHubSettings,
  userId: string,
  rejected: string,
  options: ReadTokenOptions = {},
): Promise<string> {
  return refreshUnderLock(db, keyring, github, userId, options, async (row) => {
    if ((await decryptAccessToken(keyring, userId, row)) !== rejected) return true;
    if (!row.githubRefreshTokenEncrypted)
      throw signInAgain("GitHub no longer accepts your sign-in");
    return false;
  });
}

/** Refreshes under the user's row lock unless `settled` says the stored token will do. */
async function refreshUnderLock(
  db: Database,
  keyring: Keyring,
  github: GitHubSettings,
  userId: string,
  options: ReadTokenOptions,
  settled: (row: TokenColumns) => Promise<boolean>,
): Promise<string> {
  // Set once GitHub has rotated the tokens: from then on the old refresh token is spent.
  let renewed = false;
  try {
    return await db.transaction(async (tx) => {
      // Whoever holds the lock refreshes; the others wait and then read the new token.
      const locked = await selectTokens(tx, userId, true);
      if (await settled(locked)) return decryptAccessToken(keyring, userId, locked);
      const refreshToken = await decryptRefreshToken(keyring, userId, locked);
      const timeoutMs = options.refreshTimeoutMs ?? defaultRefreshTimeoutMs;
      const tokens = await refreshUserToken(github, refreshToken, timeoutMs, () =>
        options.logger?.warn(
          { userId, timeoutMs },
          "GitHub did not answer a token renewal in time; if it renewed the token anyway, that renewal is lost and the user must sign in again",
        ),
      );
      renewed = true;
      await saveGitHubTokens(tx, keyring, userId, tokens);
      return tokens.accessToken;
    });
  } catch (error) {
    if (!renewed) throw error;
    options.logger?.error(
      { userId, reason: error instanceof Error ? error.message : String(error) },
      "GitHub renewed a user token but saving it failed: the renewal is lost (the old refresh token is spent), so the user must sign in again",
    );
    throw new AppError(
      "UNAUTHORIZED",
      "GitHub renewed your token but it could not be saved, and the old one no longer works. Sign out and in again.",
      { cause: error },
    );
  }
}

async function decryptRefreshToken(keyring: Keyring, userId: string, row: TokenColumns) {
  const expiresAt = row.githubRefreshTokenExpiresAt;
  if (!row.githubRefreshTokenEncrypted || (expiresAt && expiresAt.getTime() <= Date.now()))
    throw signInAgain("Your GitHub sign-in has expired (it lasts six months without use)");
  return decryptSecret(keyring, row.githubRefreshTokenEncrypted, refreshTokenContext(userId));
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

/**
 * The refresh grant at GITHUB_URL/login/oauth/access_token; the old refresh token dies. Sent
 * with fetch rather than arctic so it can be aborted: arctic takes no AbortSignal.
 */
async function refreshUserToken(
  github: GitHubSettings,
  refreshToken: string,
  timeoutMs: number,
  onTimeout: () => void,
): Promise<GitHubUserTokens> {
  const body = new URLSearchParams({
    grant_type: "refresh_token",
    refresh_token: refreshToken,
    client_id: github.clientId,
    client_secret: github.clientSecret,
  });
  let data: unknown;
  try {
    const answer = await fetch(`${github.webUrl}/login/oauth/access_token`, {
      method: "POST",
      headers: { accept: "application/json", "user-agent": "cloud-ai-workspaces" },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    // GitHub refuses with 200 and an `error` field; other OAuth servers use 400 or 401.
    if (![200, 400, 401].includes(answer.status)) throw new Error(`HTTP ${answer.status}`);
    data = await answer.json();
  } catch (error) {
    if ((error as { name?: string }).name !== "TimeoutError") throw noRenewal(github, error);
    onTimeout();
    throw new AppError(
      "SERVICE_UNAVAILABLE",
      `GitHub at ${github.webUrl} did not renew your token within ${timeoutMs / 1000} s. Try again in a moment; if it keeps happening, check that the control plane can reach GITHUB_URL.`,
      { cause: error },
    );
  }
  const refusal = (data as { error?: unknown } | null)?.error;
  if (typeof refusal === "string") throw refusedRenewal(refusal);
  if (typeof data !== "object" || data === null) throw noRenewal(github, data);
  return readTokenResponse(new OAuth2Tokens(data));
}

const noRenewal = (github: GitHubSettings, cause: unknown) =>
  new AppError(
    "SERVICE_UNAVAILABLE",
    `Could not renew your GitHub token at ${github.webUrl} (GitHub did not answer as expected). Try again in a moment.`,
    { cause },
  );

const signInAgain = (reason: string) =>
  new AppError("UNAUTHORIZED", `${reason}. Sign out and in again.`);

const refusedRenewal = (code: string) =>
  signInAgain(
    `GitHub refused to renew your token (${code}): the App's authorization was revoked or the refresh token was already used`,
  );
