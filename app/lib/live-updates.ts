import type { Query } from "@tanstack/react-query";
import { isNotFound } from "./query-errors.ts";

// Which cached queries a live change makes stale (ADR 0021). Broad on purpose: every query
// whose input names the workspace (whoever wrote the component), and the lists, which show
// every workspace. Routers about the user's own settings never change with a workspace.

const unrelatedRouters = new Set([
  "auth",
  "system",
  "tokens",
  "account",
  "audit",
  "credentials",
  "github",
  "secrets",
  "admin",
  "live",
]);

type TrpcKey = [path?: unknown, meta?: { input?: unknown; type?: string }];

/** True for the queries to refetch after a change of `workspaceIds`. */
export function isAffectedBy(query: Pick<Query, "queryKey">, workspaceIds: ReadonlySet<string>) {
  const [path, meta] = query.queryKey as TrpcKey;
  const router = Array.isArray(path) ? String(path[0]) : "";
  if (unrelatedRouters.has(router)) return false;
  if (meta?.input === undefined || meta.input === null) return true;
  const input = JSON.stringify(meta.input);
  return [...workspaceIds].some((id) => input.includes(id));
}

/**
 * True for the queries to refetch after the stream (re)connected: all but those answered "no
 * such workspace", which nothing missed meanwhile can change (ids are never reused).
 */
export const isWorthAskingAgain = (query: Pick<Query, "state">) => !isNotFound(query.state.error);

/** How often a query polls: its interval while the push is down, never while it is up. */
export const pollUnlessLive = <T>(live: boolean, interval: T): T | false =>
  live ? false : interval;
