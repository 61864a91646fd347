import { authenticateRequest, type RequestAuth } from "../auth/request-auth.ts";
import type { AppLoadContextValue } from "../http/load-context.ts";

export type TrpcContext = AppLoadContextValue & { request: Request; auth: RequestAuth };

export async function createTrpcContext(options: {
  request: Request;
  loadContext: AppLoadContextValue;
  responseHeaders: Headers;
}): Promise<TrpcContext> {
  const { request, loadContext } = options;
  const auth = await authenticateRequest(loadContext.db, request, loadContext.secureCookies);
  for (const cookie of auth.cookies) options.responseHeaders.append("set-cookie", cookie);
  return { ...loadContext, request, auth };
}
