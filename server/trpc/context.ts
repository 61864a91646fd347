import { authenticateRequest, type RequestAuth } from "../auth/request-auth.ts";
import { joinLoadContext, type AppLoadContextValue } from "../http/load-context.ts";
import { tooManyApiCalls } from "../http/request-guards.ts";
import { toTrpcError } from "./init.ts";

export type TrpcContext = AppLoadContextValue & { request: Request; auth: RequestAuth };

/**
 * Who is calling, and whether they may call this often: every call of a batch spends one
 * point of the caller's per-minute budget (API_RATE_LIMIT_PER_MINUTE) and of its user's
 * (API_USER_RATE_LIMIT_PER_MINUTE) before any runs.
 */
export async function createTrpcContext(options: {
  request: Request;
  loadContext: AppLoadContextValue;
  responseHeaders: Headers;
  calls: number;
}): Promise<TrpcContext> {
  const { request, loadContext } = options;
  const { db, secureCookies, credentials } = loadContext;
  const auth = await authenticateRequest(db, request, secureCookies, credentials);
  for (const cookie of auth.cookies) options.responseHeaders.append("set-cookie", cookie);
  const refused = await loadContext.limitApiRequests(
    { caller: rateLimitKey(auth, loadContext), userId: auth.user?.id },
    options.calls,
  );
  if (refused) {
    const { API_RATE_LIMIT_PER_MINUTE: perCaller, API_USER_RATE_LIMIT_PER_MINUTE: perUser } =
      loadContext.env;
    throw toTrpcError(tooManyApiCalls(refused, { perCaller, perUser }));
  }
  return joinLoadContext(loadContext, { request, auth });
}

// A token has its own budget (a script cannot starve its owner's browser), a signed-in
// browser its user's; a signed-out caller the address TRUST_PROXY lets us believe. The
// user's total across all of these is the second budget, keyed by the user id.
function rateLimitKey(auth: RequestAuth, loadContext: AppLoadContextValue): string {
  if (auth.user && auth.via === "token") return `token:${auth.tokenId ?? auth.user.id}`;
  if (auth.user) return `user:${auth.user.id}`;
  return `address:${loadContext.clientAddress}`;
}
