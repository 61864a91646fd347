import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { EnvError, parseEnv } from "../env.ts";
import { createClientAddressResolver } from "./client-address.ts";

// Which X-Forwarded-For entry TRUST_PROXY believes (the /auth attack against real servers
// is in trust-proxy.test.ts); the parsing of the setting itself.

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
    expect(resolve("::1", request("::1", "2001:db8::5"))).toBe("2001:db8::5");
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
