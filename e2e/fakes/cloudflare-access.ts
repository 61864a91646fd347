import { randomBytes } from "node:crypto";
import type { FakeRequest, Reply } from "./fake-http.ts";

// Who may call the fake Cloudflare, and when: API tokens with their own permissions (a
// token without Zone → DNS → Edit, or without this zone at all) and Cloudflare's global rate
// limit, which blocks every call for five minutes once passed ("If you exceed this limit, all
// API calls for the next five minutes will be blocked, receiving a HTTP 429 response",
// developers.cloudflare.com/fundamentals/api/reference/limits; `retry-after` is "the number
// of seconds, rounded up, until more capacity is available").

export type FakeTokenPermissions = {
  /** Zone → DNS → Read; Edit implies it. */
  dnsRead?: boolean;
  /** Zone → DNS → Edit. */
  dnsEdit?: boolean;
  /** False: the token's resources do not include this zone (Cloudflare's 9109). */
  zone?: boolean;
};

export type RateLimitBlock = {
  /** How long every call is refused; Cloudflare's five minutes unless told. */
  seconds?: number;
  /** Whether the 429s carry retry-after; Cloudflare sends it with its own limits. */
  retryAfter?: boolean;
};

export type FakeCloudflareAccess = {
  /** A new token with these permissions (the fake's main token may do everything). */
  addToken: (permissions: FakeTokenPermissions) => string;
  /** Passes the global rate limit now: every call gets 429 until the block ends. */
  blockRateLimit: (block?: RateLimitBlock) => void;
  /** Ends a block early (tests). */
  unblock: () => void;
  /** The 429 while a block lasts (it counts every caller, signed in or not). */
  rateLimited: () => Reply | undefined;
  /** The token's refusal of this request, or undefined when it may go on. */
  refusal: (request: FakeRequest, token: string | undefined) => Reply | undefined;
};

type ErrorReply = (status: number, code: string, message: string) => Reply;

const fullAccess: Required<FakeTokenPermissions> = { dnsRead: true, dnsEdit: true, zone: true };

export function createFakeCloudflareAccess(
  mainToken: string,
  zoneId: string,
  errorReply: ErrorReply,
  now: () => number = Date.now,
): FakeCloudflareAccess {
  const tokens = new Map<string, Required<FakeTokenPermissions>>([[mainToken, fullAccess]]);
  let blockedUntil = 0;
  let sendRetryAfter = true;

  function rateLimited(): Reply | undefined {
    const leftMs = blockedUntil - now();
    if (leftMs <= 0) return undefined;
    const reply = errorReply(
      429,
      "rate_limit_exceeded",
      "Rate limited. Please wait and consider throttling your request speed",
    );
    if (!sendRetryAfter) return reply;
    return { ...reply, headers: { "retry-after": String(Math.ceil(leftMs / 1000)) } };
  }

  function refusal(request: FakeRequest, token: string | undefined): Reply | undefined {
    const permissions = token === undefined ? undefined : tokens.get(token);
    if (!permissions) return errorReply(403, "authentication", "Authentication error");
    // Other zones are the routes' business (Cloudflare's 7003 for an identifier it cannot route).
    if (!request.path.startsWith(`/client/v4/zones/${zoneId}`)) return undefined;
    if (!permissions.zone)
      return errorReply(403, "unauthorized_resource", "Unauthorized to access requested resource");
    if (!request.path.includes("/dns_records")) return undefined;
    const allowed =
      request.method === "GET" ? permissions.dnsRead || permissions.dnsEdit : permissions.dnsEdit;
    return allowed ? undefined : errorReply(403, "authentication", "Authentication error");
  }

  return {
    addToken: (permissions) => {
      const token = `fake-cf-${randomBytes(16).toString("hex")}`;
      tokens.set(token, { dnsRead: false, dnsEdit: false, zone: true, ...permissions });
      return token;
    },
    blockRateLimit: (block = {}) => {
      blockedUntil = now() + (block.seconds ?? 300) * 1000;
      sendRetryAfter = block.retryAfter ?? true;
    },
    unblock: () => {
      blockedUntil = 0;
    },
    rateLimited,
    refusal,
  };
}
