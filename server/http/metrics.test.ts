import { describe, expect, it } from "vitest";
import { createHttpMetrics, routeLabel } from "./metrics.ts";

describe("routeLabel", () => {
  it("keeps label values few", () => {
    expect(routeLabel("/healthz")).toBe("/healthz");
    expect(routeLabel("/api/trpc/system.info,workspaces.list")).toBe("/api/trpc");
    expect(routeLabel("/build/root-ABC.js")).toBe("/build");
    expect(routeLabel("/workspaces/123")).toBe("page");
  });
});

describe("createHttpMetrics", () => {
  it("counts requests by method, route and status", async () => {
    const metrics = createHttpMetrics();
    metrics.observeRequest({ method: "GET", pathname: "/healthz", status: 200, seconds: 0.002 });
    metrics.observeRequest({ method: "BREW", pathname: "/x/y", status: 404, seconds: 0.3 });
    const text = await metrics.registry.metrics();
    expect(text).toContain('http_requests_total{method="GET",route="/healthz",status="200"} 1');
    expect(text).toContain('http_requests_total{method="OTHER",route="page",status="404"} 1');
    expect(text).toContain(
      'http_request_duration_seconds_bucket{le="0.5",method="OTHER",route="page"} 1',
    );
    expect(text).not.toContain("nodejs_active_handles_total");
  });
});

describe("agent heartbeats", () => {
  it("counts the heartbeats the web answered, accepted and refused", async () => {
    const metrics = createHttpMetrics();
    const heartbeat = { method: "POST", pathname: "/api/agent/heartbeat", seconds: 0.01 };
    metrics.observeRequest({ ...heartbeat, status: 200 });
    metrics.observeRequest({ ...heartbeat, status: 200 });
    metrics.observeRequest({ ...heartbeat, status: 401 });
    metrics.observeRequest({
      method: "POST",
      pathname: "/api/agent/ready",
      status: 200,
      seconds: 0,
    });
    const text = await metrics.registry.metrics();
    expect(text).toContain('caw_agent_heartbeats_total{outcome="accepted"} 2');
    expect(text).toContain('caw_agent_heartbeats_total{outcome="refused"} 1');
  });

  it("counts the web's requests to providers by status", async () => {
    const metrics = createHttpMetrics();
    metrics.observeOutboundRequest({ provider: "github", status: 403 });
    const text = await metrics.registry.metrics();
    expect(text).toContain('caw_provider_requests_total{provider="github",status="403"} 1');
  });
});
