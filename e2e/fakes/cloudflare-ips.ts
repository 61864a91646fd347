import { createHash } from "node:crypto";
import type { FakeRequest, Reply } from "./fake-http.ts";

// `GET /client/v4/ips` of the fake Cloudflare, as the official SDK types it
// (IPListResponse.PublicIPIPs: `ipv4_cidrs`, `ipv6_cidrs`, `etag`; `jdcloud_cidrs` too with
// `?networks=jdcloud`) inside the usual `{ success, errors, messages, result }` envelope.
// Like Cloudflare's, it answers without credentials. Tests change the ranges with `set`.

export type FakeCloudflareRanges = { ipv4: string[]; ipv6: string[] };

export type FakeCloudflareIps = {
  /** What the fake publishes now. */
  readonly ranges: FakeCloudflareRanges;
  /** The digest answered as `etag`; it changes with the ranges. */
  readonly etag: string;
  /** Publishes other ranges, as Cloudflare does every few months. */
  set: (ranges: FakeCloudflareRanges) => void;
  /** Whether each `GET /ips` so far carried an Authorization header. */
  readonly requests: { authorized: boolean }[];
  /** The reply to `GET /client/v4/ips`; undefined for every other request. */
  answer: (request: FakeRequest) => Reply | undefined;
};

// The ranges https://www.cloudflare.com/ips/ lists at the time of writing.
export const publishedCloudflareRanges: FakeCloudflareRanges = {
  ipv4: [
    "173.245.48.0/20",
    "103.21.244.0/22",
    "103.22.200.0/22",
    "103.31.4.0/22",
    "141.101.64.0/18",
    "108.162.192.0/18",
    "190.93.240.0/20",
    "188.114.96.0/20",
    "197.234.240.0/22",
    "198.41.128.0/17",
    "162.158.0.0/15",
    "104.16.0.0/13",
    "104.24.0.0/14",
    "172.64.0.0/13",
    "131.0.72.0/22",
  ],
  ipv6: [
    "2400:cb00::/32",
    "2606:4700::/32",
    "2803:f800::/32",
    "2405:b500::/32",
    "2405:8100::/32",
    "2a06:98c0::/29",
    "2c0f:f248::/32",
  ],
};

const jdCloudRanges = ["116.196.96.0/20", "2402:db40:5000::/40"];

const digestOf = (ranges: FakeCloudflareRanges) =>
  createHash("sha256").update(JSON.stringify(ranges)).digest("hex").slice(0, 32);

export function createFakeCloudflareIps(
  initial: FakeCloudflareRanges = publishedCloudflareRanges,
): FakeCloudflareIps {
  let ranges = structuredClone(initial);
  let etag = digestOf(ranges);
  const requests: { authorized: boolean }[] = [];
  return {
    get ranges() {
      return ranges;
    },
    get etag() {
      return etag;
    },
    set: (next) => {
      ranges = structuredClone(next);
      etag = digestOf(ranges);
    },
    requests,
    answer: (request) => {
      if (request.method !== "GET" || request.path !== "/client/v4/ips") return undefined;
      requests.push({ authorized: request.headers.authorization !== undefined });
      const jdCloud = request.query.get("networks") === "jdcloud";
      const result = {
        ipv4_cidrs: ranges.ipv4,
        ipv6_cidrs: ranges.ipv6,
        etag,
        ...(jdCloud ? { jdcloud_cidrs: jdCloudRanges } : {}),
      };
      return { status: 200, body: { success: true, errors: [], messages: [], result } };
    },
  };
}
