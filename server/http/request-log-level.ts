// The level of each request's log line. What repeats all day and says nothing by itself
// (probes, agent heartbeats, static files) is debug; everything else, 404s included, is info.
// Failures are logged again on their own, with the error, by whoever saw them.

export type RequestLogLevel = "debug" | "info";

const probes = new Set(["/healthz", "/readyz", "/metrics"]);
const heartbeatPath = "/api/agent/heartbeat";
// Remix's hashed bundles, and the files of public/ (pages never end in an extension).
const assetPattern = /^\/build\/|\.(?:css|js|map|svg|ico|png|jpe?g|webp|woff2?|txt|json)$/;

export function requestLogLevel(request: { pathname: string; status: number }): RequestLogLevel {
  const { pathname, status } = request;
  if (pathname === "/healthz" || pathname === "/metrics") return "debug";
  // A failing probe, heartbeat or asset is worth seeing at the default level.
  if (status >= 400) return "info";
  if (probes.has(pathname) || pathname === heartbeatPath) return "debug";
  return assetPattern.test(pathname) ? "debug" : "info";
}
