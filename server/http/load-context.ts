import type { Database } from "../../db/client.ts";
import type { CredentialCache } from "../auth/credential-cache.ts";
import type { Keyring } from "../crypto/envelope.ts";
import type { Env, GitHubSettings } from "../env.ts";
import type { Logger } from "../logger.ts";
import type { OutboundRequestObserver } from "../process/outbound-requests.ts";
import type { ReadinessCheck } from "../services/health.ts";
import type { LiveUpdates } from "../services/live-updates.ts";
import type { ApiRateLimiter } from "./request-guards.ts";

/**
 * What server/main.ts hands to every Remix loader, action and tRPC call. The Remix server
 * bundle holds its own copy of our modules, so anything with state (the pool, the logger)
 * must come through here rather than from a module-level singleton.
 */
export type AppLoadContextValue = {
  env: Env;
  db: Database;
  logger: Logger;
  requestId: string;
  /**
   * The caller's address as TRUST_PROXY lets us believe it, an IPv6 one as its /64: the key
   * of the rate limits of signed-out callers.
   */
  clientAddress: string;
  /** This page's Content-Security-Policy nonce, for Remix's inline scripts. */
  cspNonce: string;
  limitApiRequests: ApiRateLimiter;
  version: string;
  checkReadiness: ReadinessCheck;
  keyring: Keyring;
  github: GitHubSettings;
  secureCookies: boolean;
  /** Who API tokens belong to, held for seconds and forgotten on change (ADR 0028). */
  credentials?: CredentialCache;
  /** The process's push feed (ADR 0021); absent, pages fall back to polling. */
  liveUpdates?: LiveUpdates;
  /** Told of every request to Hetzner and Cloudflare made for a request (the web's metrics). */
  observeOutboundRequest?: OutboundRequestObserver;
};

/**
 * The context of one request: what the process shares, then what is the request's own.
 * Object.assign rather than `{ ...shared, ...own }`: on Node 20, a spread of this ~15-key
 * object followed by more keys took ~9 µs a request against ~0.5 µs (ADR 0029), and tRPC
 * calls made two of them.
 */
export function joinLoadContext<Shared extends object, Own extends object, More extends object>(
  shared: Shared,
  own: Own,
  more?: More,
): Shared & Own & More {
  return Object.assign({}, shared, own, more);
}

declare module "@remix-run/server-runtime" {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface AppLoadContext extends AppLoadContextValue {}
}
