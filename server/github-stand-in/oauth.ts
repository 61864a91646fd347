import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { renderAuthorizePage, renderErrorPage, type AuthorizeRequest } from "./authorize-page.ts";
import type { StandInContext } from "./context.ts";
import { parseBasicAuth, readFields, sendHtml, sendJson } from "./http-io.ts";
import { secretsMatch } from "./store.ts";

// GitHub's OAuth web flow: /login/oauth/authorize shows a page that signs anyone in as any
// login, /login/oauth/access_token trades the one-time code for an access token.

const errorDocs =
  "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors";

const tokenErrors = {
  incorrect_client_credentials: {
    error_description: "The client_id and/or client_secret passed are incorrect.",
    error_uri: `${errorDocs}/#incorrect-client-credentials`,
  },
  bad_verification_code: {
    error_description: "The code passed is incorrect or expired.",
    error_uri: `${errorDocs}/#bad-verification-code`,
  },
  bad_refresh_token: {
    error_description: "The refresh token passed is incorrect or expired.",
    error_uri:
      "https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/refreshing-user-access-tokens",
  },
  redirect_uri_mismatch: {
    error_description:
      "The redirect_uri MUST match the registered callback URL for this application.",
    error_uri: `${errorDocs}/#redirect-uri-mismatch2`,
  },
} as const;

type TokenError = keyof typeof tokenErrors;

// GitHub's rules: 1–39 characters, letters, digits and single hyphens, no hyphen at either end.
// eslint-disable-next-line security/detect-unsafe-regex -- each repetition consumes one alphanumeric (a dash only before one): linear
const loginPattern = /^[A-Za-z0-9](?:-?[A-Za-z0-9])*$/;
const codeChallengePattern = /^[A-Za-z0-9_-]{43}$/;

export function isValidLogin(login: string): boolean {
  return login.length <= 39 && loginPattern.test(login);
}

export function showAuthorizePage(context: StandInContext, url: URL, res: ServerResponse): void {
  const parsed = parseAuthorizeRequest(context, url.searchParams);
  if ("problem" in parsed) {
    sendHtml(res, 400, renderErrorPage("Cannot sign in to GitHub stand-in", parsed.problem));
    return;
  }
  const knownLogins = context.store.listUsers().map((user) => user.login);
  sendHtml(res, 200, renderAuthorizePage({ request: parsed.request, knownLogins }));
}

export async function submitAuthorizeForm(
  context: StandInContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const fields = await readFields(req);
  const parsed = parseAuthorizeRequest(context, fields);
  if ("problem" in parsed) {
    sendHtml(res, 400, renderErrorPage("Cannot sign in to GitHub stand-in", parsed.problem));
    return;
  }
  const login = (fields.get("login") ?? "").trim();
  if (!isValidLogin(login)) {
    const error =
      `"${login}" is not a valid GitHub login: use 1 to 39 letters, digits or single hyphens, ` +
      "not starting or ending with a hyphen.";
    const knownLogins = context.store.listUsers().map((user) => user.login);
    sendHtml(res, 400, renderAuthorizePage({ request: parsed.request, knownLogins, error, login }));
    return;
  }
  const user = await signInWithPassword(context, fields, login, parsed.request, res);
  if (!user) return;
  const code = context.store.createCode({
    login: user.login,
    clientId: parsed.request.clientId,
    redirectUri: parsed.request.redirectUri,
    scope: normalizeScope(parsed.request.scope),
    codeChallenge: parsed.request.codeChallenge || undefined,
  });
  const target = new URL(parsed.request.redirectUri);
  target.searchParams.set("code", code);
  if (parsed.request.state) target.searchParams.set("state", parsed.request.state);
  context.logger.info({ login: user.login }, "GitHub stand-in signed a user in");
  res.writeHead(302, { location: target.href, "cache-control": "no-store" });
  res.end();
}

/** The stand-in's user behind `login` and the form's password; answers the page itself if not. */
async function signInWithPassword(
  context: StandInContext,
  fields: URLSearchParams,
  login: string,
  request: AuthorizeRequest,
  res: ServerResponse,
) {
  const password = fields.get("password") ?? "";
  const user = password ? await context.store.signInUser(login, password) : undefined;
  if (user) return user;
  const error = password
    ? `Wrong password for ${login}. The stand-in keeps the password chosen at this login's first sign-in.`
    : "Enter a password: the first sign-in of a login sets it, later ones must repeat it.";
  const knownLogins = context.store.listUsers().map((known) => known.login);
  sendHtml(res, 401, renderAuthorizePage({ request, knownLogins, error, login }));
  context.logger.warn({ login }, "GitHub stand-in refused a sign-in: wrong or missing password");
  return undefined;
}

export async function exchangeCode(
  context: StandInContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const fields = await readFields(req);
  const reply = (body: Record<string, string | number>) => sendTokenReply(req, res, body);
  const refuse = (error: TokenError) => reply({ error, ...tokenErrors[error] });
  const basic = parseBasicAuth(req.headers.authorization);
  const clientId = basic?.username ?? fields.get("client_id") ?? "";
  const clientSecret = basic?.password ?? fields.get("client_secret") ?? "";
  const { client } = context.store;
  if (clientId !== client.id || !secretsMatch(clientSecret, client.secret)) {
    return refuse("incorrect_client_credentials");
  }
  if (fields.get("grant_type") === "refresh_token") {
    // Single use: the refresh token and the access token issued with it both die here.
    const renewed = await context.store.takeRefreshToken(fields.get("refresh_token") ?? "");
    if (!renewed || !context.app) return refuse("bad_refresh_token");
    return reply(await issueAppUserTokens(context, renewed.login, renewed.scope));
  }
  const grant = context.store.takeCode(fields.get("code") ?? "");
  if (!grant || grant.clientId !== clientId) return refuse("bad_verification_code");
  const redirectUri = fields.get("redirect_uri");
  if (redirectUri && redirectUri !== grant.redirectUri) return refuse("redirect_uri_mismatch");
  if (!verifierMatches(fields.get("code_verifier") ?? undefined, grant.codeChallenge)) {
    return refuse("bad_verification_code");
  }
  context.logger.info({ login: grant.login }, "GitHub stand-in issued an access token");
  // A GitHub App ignores scopes and issues an expiring token with a refresh token.
  if (context.app) return reply(await issueAppUserTokens(context, grant.login, ""));
  const token = await context.store.issueToken(grant.login, grant.scope);
  reply({ access_token: token, token_type: "bearer", scope: grant.scope });
}

async function issueAppUserTokens(context: StandInContext, login: string, scope: string) {
  const app = context.app!;
  const lifetimes = { accessMs: app.userTokenLifetimeMs, refreshMs: app.refreshTokenLifetimeMs };
  const tokens = await context.store.issueAppUserTokens(login, scope, lifetimes);
  return {
    access_token: tokens.accessToken,
    expires_in: Math.floor(lifetimes.accessMs / 1000),
    refresh_token: tokens.refreshToken,
    refresh_token_expires_in: Math.floor(lifetimes.refreshMs / 1000),
    scope,
    token_type: "bearer",
  };
}

function parseAuthorizeRequest(
  context: StandInContext,
  params: URLSearchParams,
): { request: AuthorizeRequest } | { problem: string } {
  const request: AuthorizeRequest = {
    clientId: params.get("client_id") ?? "",
    redirectUri: params.get("redirect_uri") ?? "",
    state: params.get("state") ?? "",
    scope: params.get("scope") ?? "",
    codeChallenge: params.get("code_challenge") ?? "",
    codeChallengeMethod: params.get("code_challenge_method") ?? "",
  };
  const problem = findAuthorizeProblem(context, request);
  return problem ? { problem } : { request };
}

function findAuthorizeProblem(
  context: StandInContext,
  request: AuthorizeRequest,
): string | undefined {
  if (!request.clientId) return "The client_id parameter is missing.";
  if (request.clientId !== context.store.client.id) {
    return `The client_id parameter "${request.clientId}" is not the OAuth client of this stand-in; use the client id it was started with.`;
  }
  if (!request.redirectUri) {
    return "The redirect_uri parameter is missing: the stand-in has no registered callback URL, so the application must send one.";
  }
  if (!isHttpUrl(request.redirectUri)) {
    return "The redirect_uri parameter must be an absolute http:// or https:// URL.";
  }
  if (request.codeChallenge && request.codeChallengeMethod !== "S256") {
    return "The code_challenge_method parameter must be S256, the only PKCE method the stand-in accepts.";
  }
  if (request.codeChallenge && !codeChallengePattern.test(request.codeChallenge)) {
    return "The code_challenge parameter must be 43 base64url characters (an S256 challenge).";
  }
  return undefined;
}

// A verifier without a challenge is refused too, as OAuth 2.1 asks, so PKCE cannot be
// silently downgraded.
function verifierMatches(verifier: string | undefined, challenge: string | undefined): boolean {
  if (!challenge) return !verifier;
  if (!verifier) return false;
  return secretsMatch(createHash("sha256").update(verifier).digest("base64url"), challenge);
}

// GitHub takes scopes separated by spaces or commas and reports them comma-separated.
function normalizeScope(scope: string): string {
  return scope
    .split(/[\s,]+/)
    .filter(Boolean)
    .join(",");
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}

function sendTokenReply(
  req: IncomingMessage,
  res: ServerResponse,
  body: Record<string, string | number>,
) {
  if ((req.headers.accept ?? "").includes("application/json")) {
    sendJson(res, 200, body);
    return;
  }
  res.writeHead(200, {
    "content-type": "application/x-www-form-urlencoded; charset=utf-8",
    "cache-control": "no-store",
  });
  const fields = Object.entries(body).map(([name, value]) => [name, String(value)]);
  res.end(new URLSearchParams(fields).toString());
}
