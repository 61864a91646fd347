import Cloudflare, { APIError } from "cloudflare";
import { AppError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { OutboundRequestObserver } from "../process/outbound-requests.ts";
import { CloudflarePermanentError, codesOf, observedFetch } from "./cloudflare-calls.ts";
import { createCloudflareRecords } from "./cloudflare-records.ts";
import type { DnsProvider } from "./dns.ts";

// The Cloudflare DNS provider (SPEC §8) through the official SDK: one proxied A record per
// workspace, `ws-{id}.{BASE_DOMAIN}`. Cloudflare terminates TLS for visitors and the agent
// serves TLS behind it. Retries follow cloudflare-calls.ts, not the SDK's own (ADR 0018).

/** How to reach Cloudflare's API; shared by the DNS provider and the zone's TLS checks. */
export type CloudflareClientOptions = {
  apiToken: string;
  zoneId: string;
  /** https://api.cloudflare.com/client/v4 unless given (tests point it at the fake). */
  apiUrl?: string;
  logger?: Logger;
  /** Retries per request for 429, 5xx and network failures; 4 unless given. */
  maxRetries?: number;
  timeoutMs?: number;
  /** Told of every request sent (metrics). */
  observe?: OutboundRequestObserver;
};

export type CloudflareDnsOptions = CloudflareClientOptions & {
  /** The zone's domain (or a subdomain of it) the workspace names hang under. */
  baseDomain: string;
  /** Records per listed page; 100 unless given. */
  pageSize?: number;
  /** The longest wait inside one call (a short 429, a 5xx backoff); 10 s unless given. */
  maxWaitMs?: number;
  /**
   * Aborts every request in flight and every wait of this client (the worker passes the
   * job's signal, so a drained or re-taken job leaves no DNS call behind).
   */
  signal?: AbortSignal;
};

export const cloudflareApiUrl = "https://api.cloudflare.com/client/v4";

/** The official SDK's client, authenticated by the API token alone. */
export function createCloudflareClient(options: CloudflareClientOptions): Cloudflare {
  return new Cloudflare({
    apiToken: options.apiToken,
    // Only the token authenticates: never pick up CLOUDFLARE_API_KEY and friends.
    apiKey: null,
    apiEmail: null,
    userServiceKey: null,
    baseURL: options.apiUrl ?? cloudflareApiUrl,
    maxRetries: options.maxRetries ?? 4,
    timeout: options.timeoutMs ?? 30_000,
    fetch: observedFetch(options.observe),
    logger: options.logger && toSdkLogger(options.logger),
    // Without our logger, stay quiet rather than write past it to the console.
    logLevel: options.logger ? "warn" : "off",
  });
}

export function createCloudflareDns(options: CloudflareDnsOptions): DnsProvider {
  // Retries are ours (cloudflare-calls.ts): the SDK's would sleep out a five-minute block.
  const client = createCloudflareClient({ ...options, maxRetries: 0 });
  const records = createCloudflareRecords(client, options);
  const hostnameOf = (name: string) => `${name}.${options.baseDomain}`;
  const readable = <T>(work: () => Promise<T>) => withReadableErrors(options, work);
  return {
    upsertRecord: (input) => readable(() => records.upsert(hostnameOf(input.name), input.ipv4)),
    deleteRecord: (name) => readable(() => records.remove(hostnameOf(name))),
  };
}

async function withReadableErrors<T>(
  options: CloudflareDnsOptions,
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof AppError || options.signal?.aborted) throw error;
    if (error instanceof APIError && (error.status === 401 || error.status === 403))
      throw missingPermission(options, error);
    const codes = codesOf(error);
    const detail = codes.length ? ` (Cloudflare code ${codes.join(", ")})` : "";
    // Any other 4xx is Cloudflare refusing what we asked: asking again cannot help (ADR 0004).
    if (error instanceof APIError && error.status && error.status < 500 && error.status !== 429)
      throw new CloudflarePermanentError(
        `Cloudflare DNS request failed: ${error.message}${detail}`,
        codes,
        { cause: error },
      );
    if (error instanceof Error)
      throw new Error(`Cloudflare DNS request failed: ${error.message}${detail}`, { cause: error });
    throw error;
  }
}

/** Which permission is missing, for which zone: a token refusal is never retried. */
function missingPermission(options: CloudflareDnsOptions, error: APIError): AppError {
  const codes = codesOf(error);
  const zone = `zone ${options.zoneId} (${options.baseDomain})`;
  // 9109: the token's resources do not include the zone; 10000: it lacks the permission.
  const what = codes.includes(9109)
    ? `does not cover ${zone}`
    : `lacks the Zone → DNS → Edit permission for ${zone}`;
  return new CloudflarePermanentError(
    `Cloudflare refused the API token (${error.status}${codes.length ? `, code ${codes.join(", ")}` : ""}): it ${what}. Edit the token at dash.cloudflare.com → My Profile → API Tokens to grant Zone → DNS → Edit for that zone, and check CLOUDFLARE_ZONE_ID.`,
    codes,
    { cause: error },
  );
}

function toSdkLogger(logger: Logger) {
  const forward =
    (level: "error" | "warn" | "info" | "debug") =>
    (message: string, ...details: unknown[]) =>
      logger[level]({ details }, `Cloudflare SDK: ${message}`);
  return {
    error: forward("error"),
    warn: forward("warn"),
    info: forward("info"),
    debug: forward("debug"),
  };
}
