import type { AppLoadContextValue } from "../http/load-context.ts";

export type TrpcContext = AppLoadContextValue & { request: Request };

export function createTrpcContext(options: {
  request: Request;
  loadContext: AppLoadContextValue;
}): TrpcContext {
  return { ...options.loadContext, request: options.request };
}
