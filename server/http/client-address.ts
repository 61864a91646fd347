import type { IncomingMessage } from "node:http";
import { BlockList, isIP } from "node:net";
import type { TrustProxy } from "../env-values.ts";
import type { Env } from "../env.ts";
import { isLoopbackHost } from "../process/loopback.ts";

// Which address a request comes from, for rate limits (SPEC §4). Behind a TLS proxy every
// socket comes from the proxy, so the client is read from X-Forwarded-For; but only as far
// as TRUST_PROXY trusts: each proxy appends the address it saw, so the entries a client sent
// itself sit to the left and are never believed. Node's BlockList matches the CIDRs, so
// no dependency is needed for what `proxy-addr` does for Express.

/** The client's rate-limit key: its IPv4 address, or the /64 of its IPv6 one. */
export type ClientAddressOf = (req: IncomingMessage) => string;

export function createClientAddressResolver(trust: TrustProxy): ClientAddressOf {
  const isTrusted = "hops" in trust ? trustHops(trust.hops) : trustProxies(trust.proxies);
  return (req) => {
    const socketAddress = canonicalAddress(req.socket.remoteAddress ?? "") ?? "unknown";
    if ("hops" in trust && trust.hops === 0) return bucketOf(socketAddress);
    // Nearest first: the socket's peer, then X-Forwarded-For from right to left.
    const forwarded = String(req.headers["x-forwarded-for"] ?? "")
      .split(",")
      .map((entry) => entry.trim())
      .filter(Boolean)
      .reverse();
    let client = socketAddress;
    for (const [hop, entry] of forwarded.entries()) {
      const next = canonicalAddress(stripPort(entry));
      if (!isTrusted(client, hop) || next === undefined) break;
      client = next;
    }
    return bucketOf(client);
  };
}

/**
 * Why TRUST_PROXY is unsafe as set, or undefined. A hop count believes X-Forwarded-For from
 * whoever connects, so a client that reaches the port directly picks its own /auth bucket.
 */
export function describeTrustProxyRisk(env: Pick<Env, "TRUST_PROXY" | "HOST">): string | undefined {
  const trust = env.TRUST_PROXY;
  if (!("hops" in trust) || trust.hops === 0 || isLoopbackHost(env.HOST)) return undefined;
  return (
    `TRUST_PROXY=${trust.hops} believes X-Forwarded-For from any peer, and HOST=${env.HOST} lets clients ` +
    "reach this port without the proxy, so they can choose the address their rate limits are keyed on. " +
    "Set TRUST_PROXY to your proxy's addresses (such as TRUST_PROXY=10.0.0.5 or 10.0.0.0/24), " +
    "or listen on loopback only (HOST=127.0.0.1, proxy on this machine) or firewall the port to the proxy."
  );
}

type TrustCheck = (address: string, hop: number) => boolean;

const trustHops =
  (hops: number): TrustCheck =>
  (_address, hop) =>
    hop < hops;

function trustProxies(proxies: { address: string; prefix: number }[]): TrustCheck {
  const list = new BlockList();
  for (const { address, prefix } of proxies) {
    list.addSubnet(address, prefix, isIP(address) === 6 ? "ipv6" : "ipv4");
  }
  return (address) => {
    const family = isIP(address);
    return family !== 0 && list.check(address, family === 6 ? "ipv6" : "ipv4");
  };
}

// Proxies may write the port they saw: "1.2.3.4:5678", "[2001:db8::1]:443" (RFC 7239 style).
function stripPort(entry: string): string {
  const isPort = (text: string) => /^:\d{1,5}$/.test(text);
  if (entry.startsWith("[")) {
    const end = entry.indexOf("]");
    const rest = entry.slice(end + 1);
    return end > 0 && (rest === "" || isPort(rest)) ? entry.slice(1, end) : entry;
  }
  // One colon is IPv4 and a port; a bare IPv6 address has at least two.
  const colon = entry.indexOf(":");
  const ipv4WithPort = colon > 0 && colon === entry.lastIndexOf(":") && isPort(entry.slice(colon));
  return ipv4WithPort ? entry.slice(0, colon) : entry;
}

/**
 * One spelling per address, or undefined for what is not one: IPv6 lower-case and compressed
 * (`2001:DB8:0::1` and `2001:db8::1` are one client), and an IPv4 client of a dual-stack
 * socket (`::ffff:1.2.3.4`, or `::ffff:102:304`) as the IPv4 address it is.
 */
function canonicalAddress(address: string): string | undefined {
  const family = isIP(address);
  if (family === 4) return address;
  if (family !== 6) return undefined;
  const groups = ipv6Groups(address);
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff)
    return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join(".");
  return compressIpv6(groups);
}

// One subscriber gets a whole /64 and can rotate through it freely: they are one client.
function bucketOf(address: string): string {
  if (isIP(address) !== 6) return address;
  return `${compressIpv6([...ipv6Groups(address).slice(0, 4), 0, 0, 0, 0])}/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (a zone such as %eth0 is dropped). */
function ipv6Groups(address: string): number[] {
  // The WHATWG URL parser writes IPv6 hosts canonically: hex groups only, one `::`.
  const host = new URL(`http://[${address.replace(/%.*$/, "")}]/`).hostname.slice(1, -1);
  const [head = "", tail] = host.split("::");
  const parse = (part: string) => (part ? part.split(":").map((group) => parseInt(group, 16)) : []);
  const [left, right] = [parse(head), parse(tail ?? "")];
  const zeros = tail === undefined ? [] : Array<number>(8 - left.length - right.length).fill(0);
  return [...left, ...zeros, ...right];
}

const compressIpv6 = (groups: number[]) =>
  new URL(`http://[${groups.map((group) => group.toString(16)).join(":")}]/`).hostname.slice(1, -1);
