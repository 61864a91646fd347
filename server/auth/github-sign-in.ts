import { Octokit } from "@octokit/core";
import {
  ArcticFetchError,
  CodeChallengeMethod,
  generateCodeVerifier,
  generateState,
  OAuth2Client,
  OAuth2RequestError,
  UnexpectedErrorResponseBodyError,
  UnexpectedResponseError,
} from "arctic";
import type { Database } from "../../db/client.ts";
import type { Keyring } from "../crypto/envelope.ts";
import type { GitHubSettings } from "../env.ts";
import type { Logger } from "../logger.ts";
import { recordAuditEvent } from "../services/audit.ts";
import {
  readTokenResponse,
  saveGitHubTokens,
  type GitHubUserTokens,
} from "../services/github-tokens.ts";
import { upsertGitHubUser, type GitHubProfile } from "../services/users.ts";
import { createLucia, generateSessionToken, hashSessionToken } from "./lucia.ts";
import { safeRedirectTarget } from "./safe-redirect.ts";

// GitHub's OAuth web flow with a state cookie and PKCE. arctic's generic client is used (its
// GitHub provider hard-codes github.com) so GitHub Enterprise Server and the stand-in work.

const scopes = ["read:user", "user:email", "repo"];
const stateCookie = "caw_oauth_state";
const verifierCookie = "caw_oauth_verifier";
/** Where the user was when they chose to sign in (`/login?redirectTo=…`), for after it. */
const returnCookie = "caw_oauth_return";
const cookiePath = "/auth/github";

export type SignInDeps = {
  db: Database;
  keyring: Keyring;
  github: GitHubSettings;
  publicUrl: string;
  secureCookies: boolean;
  adminLogins: string[];
  logger: Logger;
};

const oauthClient = (deps: Pick<SignInDeps, "github" | "publicUrl">) =>
  new OAuth2Client(
    deps.github.clientId,
    deps.github.clientSecret,
    `${deps.publicUrl}/auth/github/callback`,
  );

export function beginGitHubSignIn(
  deps: Pick<SignInDeps, "github" | "publicUrl" | "secureCookies">,
  request: Request,
): Response {
  const state = generateState();
  const verifier = generateCodeVerifier();
  const url = oauthClient(deps).createAuthorizationURLWithPKCE(
    `${deps.github.webUrl}/login/oauth/authorize`,
    state,
    CodeChallengeMethod.S256,
    verifier,
    // A GitHub App ignores scopes: its permissions are set on the App (ADR 0006).
    deps.github.app ? [] : scopes,
  );
  const headers = new Headers({ location: url.toString(), "cache-control": "no-store" });
  headers.append("set-cookie", flowCookie(stateCookie, state, 600, deps.secureCookies));
  headers.append("set-cookie", flowCookie(verifierCookie, verifier, 600, deps.secureCookies));
  // Checked here and again on the way back: only a path on this site is ever a destination.
  const target = safeRedirectTarget(new URL(request.url).searchParams.get("redirectTo"));
  headers.append(
    "set-cookie",
    flowCookie(returnCookie, encodeURIComponent(target), 600, deps.secureCookies),
  );
  return new Response(null, { status: 302, headers });
}

export async function completeGitHubSignIn(deps: SignInDeps, request: Request): Promise<Response> {
  const callback = readCallback(deps, request);
  if (callback instanceof Response) return callback;
  const tokens = await exchangeCode(deps, callback.code, callback.verifier);
  if (tokens instanceof Response) return tokens;
  const profile = await fetchGitHubProfile(deps.github.apiUrl, tokens.accessToken);
  const user = await upsertGitHubUser(deps.db, deps.keyring, {
    profile,
    accessToken: tokens.accessToken,
    adminLogins: deps.adminLogins,
    logger: deps.logger,
  });
  // All four token columns, so a switch between OAuth app and App leaves nothing stale.
  await saveGitHubTokens(deps.db, deps.keyring, user.id, tokens);
  const sessionCookie = await startSession(deps, user.id, request);
  await recordAuditEvent(deps.db, {
    actorSubject: user.auditSubject,
    action: "auth.sign_in",
    details: { method: "github" },
  });
  deps.logger.info({ userId: user.id }, "signed in");
  const headers = new Headers({ location: returnTarget(request), "cache-control": "no-store" });
  headers.append("set-cookie", sessionCookie);
  clearFlowCookies(headers, deps.secureCookies);
  return new Response(null, { status: 302, headers });
}

/** The code and PKCE verifier of a genuine callback, or the error page to answer. */
function readCallback(
  deps: SignInDeps,
  request: Request,
): { code: string; verifier: string } | Response {
  const params = new URL(request.url).searchParams;
  const cookies = readCookies(request.headers.get("cookie"));
  if (params.get("error")) {
    return signInError(
      400,
      `GitHub did not authorize the sign-in (${params.get("error")}). Try again and approve the request.`,
      deps,
    );
  }
  const state = params.get("state");
  const code = params.get("code");
  const verifier = cookies.get(verifierCookie);
  if (!state || !cookies.get(stateCookie) || state !== cookies.get(stateCookie) || !verifier) {
    return signInError(
      400,
      "This sign-in link is invalid or has expired (the state does not match). Start again from the sign-in page.",
      deps,
    );
  }
  if (!code)
    return signInError(
      400,
      "GitHub sent no authorization code. Start again from the sign-in page.",
      deps,
    );
  return { code, verifier };
}

/** The user's tokens for `code`, or the error page that explains why GitHub gave none. */
async function exchangeCode(
  deps: SignInDeps,
  code: string,
  verifier: string,
): Promise<GitHubUserTokens | Response> {
  try {
    const answer = await oauthClient(deps).validateAuthorizationCode(
      `${deps.github.webUrl}/login/oauth/access_token`,
      code,
      verifier,
    );
    // GitHub reports a refused code as HTTP 200 with an `error` field.
    const refusal = (answer.data as { error?: unknown }).error;
    if (typeof refusal === "string") return refusedCode(refusal, deps);
    // A GitHub App's user token expires (8 h) and comes with a refresh token; kept encrypted.
    return readTokenResponse(answer);
  } catch (error) {
    if (error instanceof OAuth2RequestError) return refusedCode(error.code, deps);
    if (error instanceof ArcticFetchError) {
      return signInError(
        502,
        `Could not reach GitHub at ${deps.github.webUrl}. Check GITHUB_URL and the network, then try again.`,
        deps,
      );
    }
    if (
      error instanceof UnexpectedResponseError ||
      error instanceof UnexpectedErrorResponseBodyError
    ) {
      return signInError(
        502,
        `GitHub answered the sign-in unexpectedly (HTTP ${error.status}). Check GITHUB_URL, then try again.`,
        deps,
      );
    }
    throw error;
  }
}

async function startSession(
  deps: Pick<SignInDeps, "db" | "secureCookies">,
  userId: string,
  request: Request,
): Promise<string> {
  const lucia = createLucia(deps.db, deps.secureCookies);
  const token = generateSessionToken();
  await lucia.createSession(
    userId,
    { userAgent: request.headers.get("user-agent")?.slice(0, 300) ?? null },
    { sessionId: hashSessionToken(token) },
  );
  return lucia.createSessionCookie(token).serialize();
}

async function fetchGitHubProfile(apiUrl: string, accessToken: string): Promise<GitHubProfile> {
  const octokit = new Octokit({ baseUrl: apiUrl, auth: accessToken });
  const [{ data: user }, { data: emails }] = await Promise.all([
    octokit.request("GET /user"),
    octokit.request("GET /user/emails"),
  ]);
  const primary = emails.find((email) => email.primary && email.verified);
  return {
    id: Number(user.id),
    login: user.login,
    name: user.name ?? null,
    email: primary?.email ?? null,
    avatarUrl: user.avatar_url || null,
  };
}

export async function signOut(
  deps: Pick<SignInDeps, "db" | "secureCookies">,
  request: Request,
): Promise<Response> {
  const lucia = createLucia(deps.db, deps.secureCookies);
  const token = lucia.readSessionCookie(request.headers.get("cookie") ?? "");
  if (token) {
    const { session, user } = await lucia.validateSession(hashSessionToken(token));
    if (session) {
      await lucia.invalidateSession(session.id);
      await recordAuditEvent(deps.db, { actorSubject: user.auditSubject, action: "auth.sign_out" });
    }
  }
  const headers = new Headers({ location: "/login", "cache-control": "no-store" });
  headers.append("set-cookie", lucia.createBlankSessionCookie().serialize());
  return new Response(null, { status: 302, headers });
}

function refusedCode(code: string, deps: Pick<SignInDeps, "secureCookies">): Response {
  return signInError(
    400,
    `GitHub refused the sign-in code (${code}): it was already used or has expired. Sign in again.`,
    deps,
  );
}

function signInError(
  status: number,
  message: string,
  deps: Pick<SignInDeps, "secureCookies">,
): Response {
  const headers = new Headers({
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
  });
  clearFlowCookies(headers, deps.secureCookies);
  const body = `<!doctype html><meta charset="utf-8"><title>Sign-in failed</title><main style="font-family:system-ui;max-width:40rem;margin:3rem auto"><h1>Sign-in failed</h1><p data-testid="sign-in-error">${escapeHtml(message)}</p><p><a href="/login">Back to sign-in</a></p></main>`;
  return new Response(body, { status, headers });
}

function returnTarget(request: Request): string {
  const stored = readCookies(request.headers.get("cookie")).get(returnCookie);
  if (!stored) return "/";
  try {
    return safeRedirectTarget(decodeURIComponent(stored));
  } catch {
    return "/"; // malformed percent-encoding: not a cookie we wrote
  }
}

function flowCookie(name: string, value: string, maxAge: number, secure: boolean): string {
  return `${name}=${value}; Path=${cookiePath}; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure ? "; Secure" : ""}`;
}

function clearFlowCookies(headers: Headers, secure: boolean): void {
  headers.append("set-cookie", flowCookie(stateCookie, "", 0, secure));
  headers.append("set-cookie", flowCookie(verifierCookie, "", 0, secure));
  headers.append("set-cookie", flowCookie(returnCookie, "", 0, secure));
}

function readCookies(header: string | null): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? "").split(";")) {
    const index = part.indexOf("=");
    if (index > 0) cookies.set(part.slice(0, index).trim(), part.slice(index + 1).trim());
  }
  return cookies;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}
