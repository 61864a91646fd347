import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { EnvError, parseEnv } from "../env.ts";
import { createClientAddressResolver, describeTrustProxyRisk } from "./client-address.ts";

// Which X-Forwarded-For entry TRUST_PROXY believes (the /auth attack against real servers
// is in trust-proxy.test.ts), how an address becomes a rate-limit key; the parsing of the
// setting itself, and the warning about a hop count on a reachable port.

const request = (remoteAddress: string, forwardedFor?: string) =>
  ({
    socket: { remoteAddress },
    headers: forwardedFor === undefined ? {} : { "x-forwarded-for": forwardedFor },
  }) as unknown as IncomingMessage;

const resolve = (setting: string | undefined, req: IncomingMessage) =>
  createClientAddressResolver(parseEnv({ TRUST_PROXY: setting }).TRUST_PROXY)(req);

describe("TRUST_PROXY", () => {
  it("is off by default: X-Forwarded-For is ignored", () => {
    expect(resolve(undefined, request("203.0.113.7", "198.51.100.1"))).toBe("203.0.113.7");
    expect(resolve("false", request("203.0.113.7", "198.51.100.1"))).toBe("203.0.113.7");
    expect(resolve("0", request("203.0.113.7", "198.51.100.1"))).toBe("203.0.113.7");
  });

  it("with a hop count, believes only the entries the trusted proxies appended", () => {
    const spoofed = request("127.0.0.1", "6.6.6.6, 198.51.100.1");
    expect(resolve("1", spoofed)).toBe("198.51.100.1");
    expect(resolve("2", spoofed)).toBe("6.6.6.6");
    // Fewer entries than hops: the furthest one there is.
    expect(resolve("3", request("127.0.0.1", "198.51.100.1"))).toBe("198.51.100.1");
    expect(resolve("1", request("127.0.0.1"))).toBe("127.0.0.1");
  });

  it("with proxy addresses, walks back over trusted proxies only", () => {
    const setting = "127.0.0.1, 10.0.0.0/8";
    expect(resolve(setting, request("127.0.0.1", "6.6.6.6, 198.51.100.1, 10.1.2.3"))).toBe(
      "198.51.100.1",
    );
    // A peer that is not a trusted proxy is the client, whatever it claims.
    expect(resolve(setting, request("203.0.113.7", "6.6.6.6"))).toBe("203.0.113.7");
    expect(resolve(setting, request("::ffff:127.0.0.1", "198.51.100.1"))).toBe("198.51.100.1");
    expect(resolve("::1", request("::1", "2001:db8::5"))).toBe("2001:db8::/64");
  });

  it("stops at an entry that is not an address", () => {
    expect(resolve("2", request("127.0.0.1", "garbage, 10.0.0.1"))).toBe("10.0.0.1");
  });

  it("names the expected format when the setting is wrong", () => {
    for (const bad of ["yes", "10.0.0.0/33", "10.0.0.0/", "1.2.3", "127.0.0.1,", "-1"]) {
      expect(() => parseEnv({ TRUST_PROXY: bad }), bad).toThrow(EnvError);
      expect(() => parseEnv({ TRUST_PROXY: bad }), bad).toThrow(/hop count such as 1/);
    }
  });
});

describe("the rate-limit key of a client address", () => {
  it("strips the port a proxy wrote into X-Forwarded-For", () => {
    expect(resolve("1", request("127.0.0.1", "198.51.100.1:5678"))).toBe("198.51.100.1");
    expect(resolve("1", request("127.0.0.1", "[2001:db8:1:2::1]:443"))).toBe("2001:db8:1:2::/64");
    expect(resolve("1", request("127.0.0.1", "[2001:db8:1:2::1]"))).toBe("2001:db8:1:2::/64");
    // A trusted proxy that wrote its own port is still recognised as the proxy.
    expect(resolve("10.0.0.0/8", request("10.0.0.2", "198.51.100.1, 10.0.0.1:8080"))).toBe(
      "198.51.100.1",
    );
  });

  it("keys IPv6 clients by their /64, so rotating through it changes nothing", () => {
    const keys = [
      "2001:db8:1:2::1",
      "2001:DB8:1:2:ffff:ffff:ffff:fffe",
      "2001:db8:1:2:0:0:0:9",
    ].map((address) => resolve("1", request("127.0.0.1", address)));
    expect(new Set(keys)).toEqual(new Set(["2001:db8:1:2::/64"]));
    expect(resolve("1", request("127.0.0.1", "2001:db8:1:3::1"))).toBe("2001:db8:1:3::/64");
    // Without a proxy, the socket's own IPv6 peer too.
    expect(resolve(undefined, request("2001:db8:5:6:7::8"))).toBe("2001:db8:5:6::/64");
    expect(resolve(undefined, request("fe80::1%eth0"))).toBe("fe80::/64");
  });

  it("treats IPv4-mapped IPv6 as the IPv4 client it is", () => {
    expect(resolve(undefined, request("::ffff:203.0.113.7"))).toBe("203.0.113.7");
    expect(resolve("1", request("127.0.0.1", "::ffff:198.51.100.1"))).toBe("198.51.100.1");
    expect(resolve("1", request("127.0.0.1", "[::FFFF:c633:6401]:80"))).toBe("198.51.100.1");
  });

  it("does not take a bare IPv6 address for an address with a port", () => {
    expect(resolve("1", request("127.0.0.1", "2001:db8::1:443"))).toBe("2001:db8::/64");
    expect(resolve("2", request("127.0.0.1", "[garbage]:80, 10.0.0.1"))).toBe("10.0.0.1");
  });
});

describe("the TRUST_PROXY warning at web start", () => {
  const risk = (settings: Record<string, string>) =>
    describeTrustProxyRisk(parseEnv({ WORKSPACE_PROVIDER: "hetzner", ...settings }));

  it("warns when a hop count meets a port reachable beyond loopback", () => {
    const warning = risk({ TRUST_PROXY: "1", HOST: "0.0.0.0" });
    expect(warning).toContain("TRUST_PROXY=1 believes X-Forwarded-For from any peer");
    expect(warning).toContain("HOST=0.0.0.0");
    expect(warning).toMatch(/TRUST_PROXY to your proxy's addresses/);
    expect(risk({ TRUST_PROXY: "2", HOST: "192.0.2.10" })).toBeDefined();
  });

  it("stays quiet on loopback, with proxy addresses, or with TRUST_PROXY off", () => {
    expect(risk({ TRUST_PROXY: "1" })).toBeUndefined();
    expect(risk({ TRUST_PROXY: "1", HOST: "::1" })).toBeUndefined();
    expect(risk({ TRUST_PROXY: "1", HOST: "localhost" })).toBeUndefined();
    expect(risk({ TRUST_PROXY: "10.0.0.5", HOST: "0.0.0.0" })).toBeUndefined();
    expect(risk({ HOST: "0.0.0.0" })).toBeUndefined();
  });
});
