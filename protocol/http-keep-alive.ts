// How long our HTTP servers (the control plane's and the agent's terminal server) keep an idle
// keep-alive connection, and what they tell clients (ADR 0031).
//
// Whoever closes an idle connection first decides whether a request is lost: a client that
// sends on a connection the server has just closed gets no answer ("fetch failed", a proxy's
// 502 or Cloudflare's 520), and a POST cannot safely be sent again. So the client must always
// be the side that closes. Node 20's servers say `Keep-Alive: timeout=5` and close after 6 s:
// - undici (Node's fetch, our SDK, the agent) closes at that hint less 2 s, by a clock that
//   gains only 499 ms a tick however late the tick runs, so a client whose event loop stalls
//   can send on a connection the server has already closed;
// - proxies ignore the hint and keep upstream connections far longer: nginx 60 s, Traefik
//   90 s, Caddy 2 min, Cloudflare 900 s (its "Proxy Idle Timeout").
// Node 24's `keepAliveTimeoutBuffer` is the same idea (keep longer than advertised), a second
// long; we need minutes, so the header is set by us and the socket's timeout is the long one.

/** What clients are told: reuse an idle connection for at most this long. */
export const advertisedKeepAliveSeconds = 5;

/** How long an idle connection really stays open: past every proxy above, Cloudflare's too. */
export const idleConnectionMilliseconds = 910_000;

/** The header that replaces Node's own `Keep-Alive: timeout=<keepAliveTimeout>`. */
export const keepAliveHeader = `timeout=${advertisedKeepAliveSeconds}`;

/** Keeps idle connections open long after the hint (a request that arrives is answered). */
export function keepIdleConnectionsOpen(server: { keepAliveTimeout: number }): void {
  server.keepAliveTimeout = idleConnectionMilliseconds;
}

type Answer = { shouldKeepAlive: boolean; setHeader(name: string, value: string): unknown };

/**
 * Set on every answer that keeps its connection. A `keep-alive` header of our own makes Node
 * leave its own out (that one would advertise the long timeout); Node still writes
 * `Connection: keep-alive` beside it.
 */
export function advertiseKeepAlive(res: Answer): void {
  if (res.shouldKeepAlive) res.setHeader("keep-alive", keepAliveHeader);
}
