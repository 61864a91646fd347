import type { IncomingMessage } from "node:http";
import { BlockList, isIP } from "node:net";
import type { TrustProxy } from "../env.ts";

// Which address a request comes from, for rate limits (SPEC §4). Behind a TLS proxy every
// socket comes from the proxy, so the client is read from X-Forwarded-For; but only as far
// as TRUST_PROXY trusts: each proxy appends the address it saw, so the entries a client sent
// itself sit to the left and are never believed. Node's BlockList matches the CIDRs, so
// no dependency is needed for what `proxy-addr` does for Express.

export type ClientAddressOf = (req: IncomingMessage) => string;

export function createClientAddressResolver(trust: TrustProxy): ClientAddressOf {
  const isTrusted = "hops" in trust ? trustHops(trust.hops) : trustProxies(trust.proxies);
  return (req) => {
    const socketAddress = normalize(req.socket.remoteAddress ?? "unknown");
    if ("hops" in trust && trust.hops === 0) return socketAddress;
    // Nearest first: the socket's peer, then X-Forwarded-For from right to left.
    const forwarded = String(req.headers["x-forwarded-for"] ?? "")
      .split(",")
      .map((entry) => normalize(entry.trim()))
      .filter(Boolean)
      .reverse();
    let client = socketAddress;
    for (const [hop, next] of forwarded.entries()) {
      if (!isTrusted(client, hop) || isIP(next) === 0) break;
      client = next;
    }
    return client;
  };
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

// An IPv4 client of a dual-stack socket shows as ::ffff:a.b.c.d; one client, one key.
function normalize(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address;
}
