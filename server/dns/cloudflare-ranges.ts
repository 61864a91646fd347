import { isIP } from "node:net";
import Cloudflare from "cloudflare";
import { z } from "zod";
import { AppError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { OutboundRequestObserver } from "../process/outbound-requests.ts";
import { callCloudflare, observedFetch } from "./cloudflare-calls.ts";
import { cloudflareApiUrl } from "./cloudflare.ts";

// Cloudflare's published address ranges (https://www.cloudflare.com/ips/, `GET /ips`) through
// the official SDK: the only sources our workspace firewall lets in (hetzner-firewall.ts).
// The endpoint is public, so no token is sent. Answers are checked before use: an empty,
// malformed or implausibly wide list would make an open or a useless firewall.
//
// When Cloudflare cannot be read, the last ranges this process read stand in; with none,
// callers get a retryable error instead of a firewall with no or made-up rules. Existing
// firewalls keep the rules they have (the firewall itself is the store of the last known
// ranges), and the periodic refresh tries again at its next run.

export type CloudflareRanges = {
  ipv4: string[];
  ipv6: string[];
  /** Cloudflare's digest of the lists; it changes when they do. */
  etag: string | null;
};

export type CloudflareRangesReader = {
  /** Cloudflare's ranges now (remembered for later); throws when they cannot be read. */
  readFresh: () => Promise<CloudflareRanges>;
  /** The ranges now, else the last ones read; a retryable AppError when there are none. */
  readOrLastKnown: () => Promise<CloudflareRanges>;
};

export type CloudflareRangesOptions = {
  /** https://api.cloudflare.com/client/v4 unless given (tests point it at the fake). */
  apiUrl?: string;
  logger?: Logger;
  /** Retries for 429, 5xx and network failures; 2 unless given. */
  maxRetries?: number;
  timeoutMs?: number;
  observe?: OutboundRequestObserver;
};

// Cloudflare's widest ranges are a /13 (IPv4) and a /29 (IPv6): anything much wider is not
// a list of Cloudflare's addresses, and would open the firewall to a large part of the net.
const widestPrefix = { 4: 8, 6: 16 } as const;

function cidrOf(version: 4 | 6) {
  return z.string().refine(
    (value) => {
      const [address = "", prefix, ...rest] = value.split("/");
      const bits = Number(prefix);
      return (
        rest.length === 0 &&
        isIP(address) === version &&
        /^\d{1,3}$/.test(prefix ?? "") &&
        bits >= widestPrefix[version] &&
        bits <= (version === 4 ? 32 : 128)
      );
    },
    { error: `expected IPv${version} CIDRs no wider than /${widestPrefix[version]}` },
  );
}

const rangesSchema = z.object({
  ipv4_cidrs: z.array(cidrOf(4)).min(1),
  ipv6_cidrs: z.array(cidrOf(6)).min(1),
  etag: z.string().nullish(),
});

/** The `source_ips` of a firewall rule: IPv4 ranges, then IPv6. */
export const sourceIpsOf = (ranges: CloudflareRanges): string[] => [...ranges.ipv4, ...ranges.ipv6];

export function createCloudflareRangesReader(
  options: CloudflareRangesOptions = {},
): CloudflareRangesReader {
  const apiUrl = options.apiUrl ?? cloudflareApiUrl;
  const client = new Cloudflare({
    // `GET /ips` needs no credentials: send none, and never pick up CLOUDFLARE_API_* either.
    apiToken: null,
    apiKey: null,
    apiEmail: null,
    userServiceKey: null,
    baseURL: apiUrl,
    // Our own retry policy (cloudflare-calls.ts): the SDK's would sleep out a five-minute
    // block inside a job; ours fails it as retryable with the wait, for the queue to honour.
    maxRetries: 0,
    timeout: options.timeoutMs ?? 15_000,
    fetch: observedFetch(options.observe),
    logLevel: "off",
  });
  let lastKnown: { ranges: CloudflareRanges; readAt: Date } | undefined;

  async function readFresh(): Promise<CloudflareRanges> {
    let answer: unknown;
    try {
      answer = await callCloudflare(
        "read Cloudflare's IP ranges",
        { logger: options.logger, maxRetries: options.maxRetries ?? 2 },
        (requestOptions) =>
          client.ips.list(null, { ...requestOptions, headers: { authorization: null } }),
      );
    } catch (error) {
      throw new Error(
        `Could not read Cloudflare's IP ranges (GET ${apiUrl}/ips): ${reasonOf(error)}`,
        {
          cause: error,
        },
      );
    }
    const parsed = rangesSchema.safeParse(answer);
    if (!parsed.success)
      throw new Error(
        `Cloudflare's IP ranges (GET ${apiUrl}/ips) are not usable for a firewall: ${z.prettifyError(parsed.error)}`,
      );
    const ranges = {
      ipv4: parsed.data.ipv4_cidrs,
      ipv6: parsed.data.ipv6_cidrs,
      etag: parsed.data.etag ?? null,
    };
    lastKnown = { ranges, readAt: new Date() };
    return ranges;
  }

  return {
    readFresh,
    readOrLastKnown: async () => {
      try {
        return await readFresh();
      } catch (error) {
        if (!lastKnown)
          throw new AppError(
            "SERVICE_UNAVAILABLE",
            `${reasonOf(error)}. Without them the workspace's firewall cannot be created, and no server is made without it; this is retried, or start the workspace again once Cloudflare answers.`,
            { cause: error },
          );
        options.logger?.warn(
          { reason: reasonOf(error), readAt: lastKnown.readAt.toISOString() },
          "using the Cloudflare IP ranges read earlier",
        );
        return lastKnown.ranges;
      }
    },
  };
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
