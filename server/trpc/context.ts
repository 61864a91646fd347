import { authenticateRequest, type RequestAuth } from "../auth/request-auth.ts";
import type { AppLoadContextValue } from "../http/load-context.ts";
import { tooManyApiCalls } from "../http/request-guards.ts";
import { toTrpcError } from "./init.ts";

export type TrpcContext = AppLoadContextValue & { request: Request; auth: RequestAuth };

/**
 * Who is calling, and whether they may call this often: every call of a batch spends one
 * point of the caller's per-minute budget (API_RATE_LIMIT_PER_MINUTE) before any runs.
 */
export async function createTrpcContext(options: {
  request: Request;
  loadContext: AppLoadContextValue;
  responseHeaders: Headers;
  calls: number;
}): Promise<TrpcContext> {
  const { request, loadContext } = options;
  const auth = await authenticateRequest(loadContext.db, request, loadContext.secureCookies);
  for (const cookie of auth.cookies) options.responseHeaders.append("set-cookie", cookie);
  const refused = await loadContext.limitApiRequests(
    rateLimitKey(auth, loadContext),
    options.calls,
  );
  if (refused) {
    const perMinute = loadContext.env.API_RATE_LIMIT_PER_MINUTE;
    throw toTrpcError(tooManyApiCalls(perMinute, refused.retryAfterSeconds));
  }
  return { ...loadContext, request, auth };
}

// A token has its own budget (a script cannot starve its owner's browser), a signed-in
// browser its user's; a signed-out caller the address TRUST_PROXY lets us believe.
function rateLimitKey(auth: RequestAuth, loadContext: AppLoadContextValue): string {
  if (auth.user && auth.via === "token") return `token:${auth.tokenId ?? auth.user.id}`;
  if (auth.user) return `user:${auth.user.id}`;
  return `address:${loadContext.clientAddress}`;
}
