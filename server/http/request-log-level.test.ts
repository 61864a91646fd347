import { describe, expect, it } from "vitest";
import { requestLogLevel } from "./request-log-level.ts";

describe("requestLogLevel", () => {
  it.each([
    ["/healthz", 200],
    ["/metrics", 200],
    ["/healthz", 503],
    ["/readyz", 200],
    ["/api/agent/heartbeat", 200],
    ["/build/root-ABC123.js", 200],
    ["/build/_assets/styles-XYZ.css", 304],
    ["/favicon.svg", 200],
  ])("logs %s (%i) at debug", (pathname, status) => {
    expect(requestLogLevel({ pathname, status })).toBe("debug");
  });

  it.each([
    ["/", 200],
    ["/workspaces", 200],
    ["/api/trpc/workspaces.list", 200],
    ["/no-such-page", 404],
    ["/favicon.ico", 404],
    ["/build/gone-123.js", 404],
    ["/readyz", 503],
    ["/api/agent/heartbeat", 401],
    ["/api/agent/idle", 200],
  ])("logs %s (%i) at info", (pathname, status) => {
    expect(requestLogLevel({ pathname, status })).toBe("info");
  });
});
