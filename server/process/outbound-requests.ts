// The one shape in which the provider clients (Hetzner, Cloudflare, GitHub) report each
// request they sent. The program that makes a client passes its observer in (metrics.ts
// counts them); the clients import no metrics, and the Remix bundle's copy of them needs none.

export type OutboundProvider = "hetzner" | "cloudflare" | "github";

/** `status` is the HTTP status of the answer; undefined when none came (refused, timed out). */
export type OutboundRequestObserver = (sample: {
  provider: OutboundProvider;
  status: number | undefined;
}) => void;
