import Cloudflare, { APIError } from "cloudflare";
import { AppError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { DnsProvider, DnsRecordInput } from "./dns.ts";

// The Cloudflare DNS provider (SPEC §8) through the official SDK: one proxied A record per
// workspace, `ws-{id}.{BASE_DOMAIN}`. Cloudflare terminates TLS for visitors and the agent
// serves TLS behind it. The SDK retries 429 (honouring Retry-After) and 5xx on its own.

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
};

export type CloudflareDnsOptions = CloudflareClientOptions & {
  /** The zone's domain (or a subdomain of it) the workspace names hang under. */
  baseDomain: string;
  /** Records per listed page; 100 unless given. */
  pageSize?: number;
};

export const cloudflareApiUrl = "https://api.cloudflare.com/client/v4";

// Cloudflare's "An identical record already exists.": a retried create that had worked.
const identicalRecordCodes = new Set([81057, 81058]);

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
    logger: options.logger && toSdkLogger(options.logger),
    // Without our logger, stay quiet rather than write past it to the console.
    logLevel: options.logger ? "warn" : "off",
  });
}

export function createCloudflareDns(options: CloudflareDnsOptions): DnsProvider {
  const { zoneId } = options;
  const client = createCloudflareClient(options);
  const hostnameOf = (name: string) => `${name}.${options.baseDomain}`;

  async function findRecords(hostname: string) {
    const found = [];
    const pages = client.dns.records.list({
      zone_id: zoneId,
      type: "A",
      name: { exact: hostname },
      per_page: options.pageSize ?? 100,
    });
    for await (const record of pages) found.push(record);
    return found;
  }

  async function deleteById(id: string): Promise<void> {
    try {
      await client.dns.records.delete(id, { zone_id: zoneId });
    } catch (error) {
      if (!(error instanceof APIError && error.status === 404)) throw error;
    }
  }

  async function upsertRecord(input: DnsRecordInput): Promise<{ hostname: string }> {
    const hostname = hostnameOf(input.name);
    const found = await findRecords(hostname);
    // Keep one record (preferably one that is right already) and drop strays first, so
    // the update never collides with an identical record.
    const keep = found.find((record) => record.content === input.ipv4) ?? found[0];
    for (const record of found) if (record !== keep) await deleteById(record.id);
    const record = {
      zone_id: zoneId,
      type: "A" as const,
      name: hostname,
      content: input.ipv4,
      proxied: true,
      ttl: 1,
      comment: "cloud-ai-workspaces",
    };
    if (!keep) await createRecord(record);
    else if (keep.content !== input.ipv4 || !keep.proxied)
      await client.dns.records.update(keep.id, record);
    return { hostname };
  }

  async function createRecord(record: Cloudflare.DNS.RecordCreateParams.ARecord) {
    try {
      await client.dns.records.create(record);
    } catch (error) {
      const identical =
        error instanceof APIError &&
        error.errors.some((detail) => identicalRecordCodes.has(detail.code ?? 0));
      if (!identical) throw error;
    }
  }

  return {
    upsertRecord: (input) => withReadableErrors(() => upsertRecord(input)),
    deleteRecord: (name) =>
      withReadableErrors(async () => {
        for (const record of await findRecords(hostnameOf(name))) await deleteById(record.id);
      }),
  };
}

async function withReadableErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof APIError && (error.status === 401 || error.status === 403))
      throw new AppError(
        "BAD_REQUEST",
        `Cloudflare refused the API token (${error.status}). Create a token with the Zone → DNS → Edit permission for this zone and check CLOUDFLARE_ZONE_ID.`,
        { cause: error },
      );
    if (error instanceof Error)
      throw new Error(`Cloudflare DNS request failed: ${error.message}`, { cause: error });
    throw error;
  }
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
