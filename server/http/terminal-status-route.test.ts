import { describe, expect, it } from "vitest";
import { isAgentOrigin } from "./terminal-status-route.ts";

const id = "7d3c9d5e-2f43-4a53-9c3c-0c8f2f6f3f10";
const local = { DNS_PROVIDER: "local" as const, BASE_DOMAIN: undefined };
const cloud = { DNS_PROVIDER: "cloudflare" as const, BASE_DOMAIN: "ws.example.com" };

describe("isAgentOrigin (ADR 0022)", () => {
  it("is exactly the workspace's agent origin behind Cloudflare", () => {
    expect(isAgentOrigin(cloud, id, `https://ws-${id}.ws.example.com`)).toBe(true);
    expect(isAgentOrigin(cloud, id, `http://ws-${id}.ws.example.com`)).toBe(false);
    expect(isAgentOrigin(cloud, id, `https://ws-${id}.ws.example.com:8443`)).toBe(false);
    expect(isAgentOrigin(cloud, id, `https://x.ws-${id}.ws.example.com`)).toBe(false);
    expect(isAgentOrigin(cloud, id, `https://ws-${id}.ws.example.com.evil.example`)).toBe(false);
  });

  it("is the workspace's loopback name on any port in the one-machine mode", () => {
    expect(isAgentOrigin(local, id, `http://ws-${id}.localhost:41234`)).toBe(true);
    expect(isAgentOrigin(local, id, `http://ws-${id}.localhost:5000`)).toBe(true);
    expect(isAgentOrigin(local, id, "http://localhost:3000")).toBe(false);
    expect(isAgentOrigin(local, id, `http://ws-${id.replace("7", "8")}.localhost:41234`)).toBe(
      false,
    );
    expect(isAgentOrigin(local, id, "null")).toBe(false);
    expect(isAgentOrigin(local, id, `http://ws-${id}.localhost:41234/path`)).toBe(false);
  });
});
