import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import {
  terminalAudience,
  terminalClaimsSchema,
  terminalCookieMaxAgeSeconds,
  terminalCookieName,
  terminalTokenMaxSeconds,
} from "../../protocol/agent-protocol.ts";
import { sessionNameSchema } from "../../protocol/agent-sessions.ts";
import {
  createJwksCache,
  JwksUnavailableError,
  type FetchJwks,
  type JwksCache,
} from "./jwks-cache.ts";
import { createTerminalGrants, type TerminalGrants } from "./terminal-grants.ts";

// Terminal sign-in on the agent (SPEC §9). The control plane sends the browser to
// `/?token=JWT`; the token is checked against the control plane's published keys (RS256
// only, this workspace only, short-lived) and traded for the agent's own HMAC-signed cookie,
// and a same-origin reload of `/` takes the token out of the address bar. Each token works
// once (its `jti`, the grant id, is remembered), and the cookie counts only while its grant
// does (terminal-grants.ts). Neither the token nor the cookie value ever appears in an error
// or a page.

export type TerminalAuthOptions = {
  workspaceId: string;
  /** `iss` of terminal JWTs: the control plane's public URL. */
  issuer: string;
  jwksUrl: string;
  /** At least 32 random bytes, known only to this agent. */
  cookieSecret: Uint8Array;
  /** Milliseconds since the epoch; injectable so tests can move time. */
  now?: () => number;
  fetchJwks?: FetchJwks;
  /** The control plane's keys, shared with the session API's checks; default: its own cache. */
  jwks?: JwksCache;
  /** The redeemed links; default: kept in memory only. */
  grants?: TerminalGrants;
  /** Answers `GET /` for a signed-in browser (the terminal page). */
  servePage?: (res: ServerResponse) => void | Promise<void>;
};

/** Who a token or cookie signs in, and under which grant (the token's `jti`). */
export type TerminalSignIn = { userId: string; grantId: string };
export type VerifiedToken = TerminalSignIn & { issuedAt: number; expiresAt: number };

export type TerminalAuth = {
  verifyToken: (token: string) => Promise<VerifiedToken>;
  /** A full `Set-Cookie` value for a browser signed in as `userId` under a held grant. */
  issueCookie: (signIn: TerminalSignIn, expiresAt: number) => string;
  readCookie: (cookieHeader: string | undefined) => TerminalSignIn | null;
  handleEntry: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
};

/** A refused sign-in; the message says what is wrong and is safe to show. */
export class TerminalAuthError extends Error {
  override name = "TerminalAuthError";
  constructor(
    message: string,
    readonly status: 401 | 503 = 401,
  ) {
    super(message);
  }
}

// Control plane and VM clocks drift a little; more than this and tokens are refused.
const clockToleranceSeconds = 30;
const maxTokenLength = 8 * 1024;
const minCookieSecretBytes = 32;
const cookieLifeMs = terminalCookieMaxAgeSeconds * 1000;
const retryHint = "Open the terminal again from the control plane.";

export function createTerminalAuth(options: TerminalAuthOptions): TerminalAuth {
  if (options.cookieSecret.byteLength < minCookieSecretBytes)
    throw new Error(
      `The terminal cookie secret needs at least ${minCookieSecretBytes} random bytes.`,
    );
  const now = options.now ?? Date.now;
  const grants = options.grants ?? createTerminalGrants({ now });
  const cookies = createCookieSigner(options.workspaceId, options.cookieSecret, now, grants);
  const verifyToken = createTokenVerifier(options, now);
  const servePage = options.servePage ?? ((res) => sendSignedInPage(res));
  const redeem = async (token: string) =>
    redeemToken(await verifyToken(token), grants, now, cookies.issue);
  return {
    verifyToken,
    issueCookie: cookies.issue,
    readCookie: cookies.read,
    async handleEntry(req, res) {
      res.setHeader("cache-control", "no-store");
      // The entry URL carries the token; no page reached from it may learn it.
      res.setHeader("referrer-policy", "no-referrer");
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.setHeader("allow", "GET, HEAD");
        return sendPage(res, 405, "Method not allowed", "Open the terminal with a GET request.");
      }
      const { searchParams } = new URL(req.url ?? "/", "http://agent.invalid");
      const token = searchParams.get("token");
      // eslint-disable-next-line security/detect-possible-timing-attacks -- a null check, not a comparison of secrets
      if (token === null) {
        if (cookies.read(req.headers.cookie)) return servePage(res);
        return sendSignInNeeded(res, options.issuer);
      }
      // A link works once: only a GET redeems it, so a HEAD from a link previewer or a
      // prefetcher cannot use it up before the person opens it.
      if (req.method !== "GET") {
        res.setHeader("allow", "GET");
        return sendPage(
          res,
          405,
          "Method not allowed",
          "Open the terminal link with a GET request.",
        );
      }
      try {
        res.setHeader("set-cookie", await redeem(token));
        sendContinuePage(res, continueTarget(searchParams.get("session")));
      } catch (error) {
        if (!(error instanceof TerminalAuthError)) throw error;
        sendPage(res, error.status, "Could not sign you in", error.message, options.issuer);
      }
    },
  };
}

/** The cookie for a verified token, once per token: its `jti` becomes a held grant. */
async function redeemToken(
  verified: VerifiedToken,
  grants: TerminalGrants,
  now: () => number,
  issueCookie: TerminalAuth["issueCookie"],
): Promise<string> {
  // The cookie lives 8 h, but no longer than 8 h past the link's expiry (the grant's end).
  const cookieExpiresAt = Math.min(now() + cookieLifeMs, verified.expiresAt + cookieLifeMs);
  const outcome = await grants.redeem({
    id: verified.grantId,
    issuedAt: verified.issuedAt,
    // Tokens are accepted a little past their expiry (clock tolerance); so is the memory.
    linkExpiresAt: verified.expiresAt + clockToleranceSeconds * 1000,
    cookieExpiresAt,
  });
  if (outcome === "used")
    throw new TerminalAuthError(
      "This link was already used; open the terminal again from the control plane.",
    );
  if (outcome === "full")
    throw new TerminalAuthError(
      "Too many terminal sign-ins in the last minutes; wait a few minutes, then open the terminal again from the control plane.",
      503,
    );
  return issueCookie(verified, cookieExpiresAt);
}

function createTokenVerifier(options: TerminalAuthOptions, now: () => number) {
  const jwks =
    options.jwks ??
    createJwksCache({ jwksUrl: options.jwksUrl, now, fetchJwks: options.fetchJwks });
  const resolveKey: JWTVerifyGetKey = async (header) => {
    if (!header.kid) throw refuse("The token does not name its signing key (kid).");
    const key = await jwks.findKey(header.kid).catch((error: unknown) => {
      if (!(error instanceof JwksUnavailableError)) throw error;
      throw new TerminalAuthError(`${error.message} Try again in a minute.`, 503);
    });
    if (!key) throw refuse("The token is signed with a key the control plane does not publish.");
    return key;
  };
  return async (token: string): Promise<VerifiedToken> => {
    if (token.length === 0 || token.length > maxTokenLength)
      throw refuse("The sign-in link carries no usable token.");
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, resolveKey, {
        algorithms: ["RS256"],
        issuer: options.issuer,
        audience: terminalAudience,
        clockTolerance: clockToleranceSeconds,
        maxTokenAge: terminalTokenMaxSeconds,
        requiredClaims: ["exp", "sub", "jti"],
        currentDate: new Date(now()),
      }));
    } catch (error) {
      throw explainRefusal(error);
    }
    return checkTerminalClaims(payload, options.workspaceId);
  };
}

function checkTerminalClaims(payload: JWTPayload, workspaceId: string): VerifiedToken {
  const claims = terminalClaimsSchema.safeParse(payload);
  if (!claims.success)
    throw refuse("The token lacks the claims of a terminal link (sub, jti, workspace, iat, exp).");
  const { sub, jti, workspace, iat, exp } = claims.data;
  if (workspace !== workspaceId) throw refuse("The token is for another workspace.");
  if (exp - iat > terminalTokenMaxSeconds)
    throw refuse(`The token lives longer than ${terminalTokenMaxSeconds} seconds; none should.`);
  return { userId: sub, grantId: jti, issuedAt: iat * 1000, expiresAt: exp * 1000 };
}

function explainRefusal(error: unknown): TerminalAuthError {
  if (error instanceof TerminalAuthError) return error;
  if (error instanceof errors.JOSEAlgNotAllowed)
    return refuse("The token is not signed with RS256, the only algorithm terminal links use.");
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return refuse("The token's signature does not match: it was altered or not issued here.");
  if (error instanceof errors.JWTExpired) return refuse("The sign-in link has expired.");
  if (error instanceof errors.JWTClaimValidationFailed) return refuse(describeClaim(error));
  return refuse("The sign-in link carries a malformed token.");
}

function describeClaim(error: errors.JWTClaimValidationFailed): string {
  if (error.reason === "missing") return `The token lacks its "${error.claim}" claim.`;
  switch (error.claim) {
    case "aud":
      return "The token is not meant for a workspace terminal (aud).";
    case "iss":
      return "The token was issued by another control plane than this workspace's (iss).";
    case "nbf":
    case "iat":
      return "The token is not valid yet; check the clocks of this machine and the control plane.";
    default:
      return `The token's "${error.claim}" claim is not acceptable.`;
  }
}

const refuse = (reason: string) => new TerminalAuthError(`${reason} ${retryHint}`);

// Cookie value: `v2.<user id, base64url>.<grant id>.<expiry, unix seconds>.<HMAC-SHA256,
// base64url>`. The MAC also covers the workspace id, so a cookie from another workspace
// never passes; a genuine cookie counts only while its grant is held.
function createCookieSigner(
  workspaceId: string,
  secret: Uint8Array,
  now: () => number,
  grants: TerminalGrants,
) {
  const macOf = (user: string, grant: string, expires: string) =>
    createHmac("sha256", secret)
      .update(`caw-terminal-cookie\0v2\0${workspaceId}\0${user}\0${grant}\0${expires}`)
      .digest("base64url");
  const check = (value: string): TerminalSignIn | null => {
    const [version, user, grantId, expires, mac, ...rest] = value.split(".");
    if (version !== "v2" || !user || !grantId || !expires || !mac || rest.length > 0) return null;
    if (!/^\d{1,12}$/.test(expires)) return null;
    const expected = Buffer.from(macOf(user, grantId, expires));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    if (Number(expires) <= Math.floor(now() / 1000)) return null;
    if (!grants.holds(grantId)) return null;
    const userId = Buffer.from(user, "base64url").toString("utf8");
    return userId ? { userId, grantId } : null;
  };
  return {
    issue({ userId, grantId }: TerminalSignIn, expiresAt: number): string {
      const user = Buffer.from(userId, "utf8").toString("base64url");
      const expires = String(Math.floor(expiresAt / 1000));
      const maxAge = Math.max(0, Number(expires) - Math.floor(now() / 1000));
      const value = `v2.${user}.${grantId}.${expires}.${macOf(user, grantId, expires)}`;
      return `${terminalCookieName}=${value}; Max-Age=${maxAge}; Path=/; HttpOnly; Secure; SameSite=Strict`;
    },
    read(cookieHeader: string | undefined): TerminalSignIn | null {
      // A browser may send two cookies of the name (e.g. from another path); any valid one will do.
      for (const value of cookieValues(cookieHeader, terminalCookieName)) {
        const session = check(value);
        if (session) return session;
      }
      return null;
    },
  };
}

function cookieValues(header: string | undefined, name: string): string[] {
  if (!header) return [];
  return header
    .split(";")
    .map((part) => part.trim())
    .filter((part) => part.startsWith(`${name}=`))
    .map((part) => part.slice(name.length + 1));
}

function sendSignInNeeded(res: ServerResponse, issuer: string): void {
  sendPage(
    res,
    401,
    "Not signed in",
    "Open this workspace's terminal from the control plane; it signs you in here.",
    issuer,
  );
}

function sendSignedInPage(res: ServerResponse): void {
  sendPage(res, 200, "Signed in", "You are signed in to this workspace's terminal.");
}

function sendPage(
  res: ServerResponse,
  status: number,
  title: string,
  message: string,
  controlPlaneUrl?: string,
): void {
  const link = controlPlaneUrl
    ? `<p><a href="${escapeHtml(controlPlaneUrl)}">Go to the control plane</a></p>`
    : "";
  res.statusCode = status;
  res.setHeader("content-type", "text/html; charset=utf-8");
  res.setHeader("content-security-policy", "default-src 'none'");
  res.end(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>` +
      `<body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>${link}</body></html>`,
  );
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (char) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[char]!,
  );
}

/**
 * The answer to a good token: the cookie and a page that reloads `/` at once. Not a 303: the
 * browser came from the control plane, another site, and a redirect would keep that
 * cross-site origin, so the SameSite=Strict cookie would not be sent with the redirected
 * request. A navigation started by this page is same-site, and it replaces the history entry
 * that holds the token.
 */
/** `/`, or `/?session=<name>` when the link names a session to open (SPEC §14). */
function continueTarget(session: string | null): string {
  const name = session === null ? null : sessionNameSchema.safeParse(session);
  return name?.success && name.data === session ? `/?session=${session}` : "/";
}

function sendContinuePage(res: ServerResponse, target: string): void {
  res.statusCode = 200;
  res.setHeader("content-type", "text/html; charset=utf-8");
  res.setHeader("cache-control", "no-store");
  res.setHeader("referrer-policy", "no-referrer");
  res.setHeader("content-security-policy", "default-src 'none'");
  res.end(
    `<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=${target}"><title>Opening the terminal…</title><p>Opening the terminal… <a href="${target}">Continue</a></p>`,
  );
}
