import type Cloudflare from "cloudflare";
import { APIError } from "cloudflare";
import {
  callCloudflare,
  CloudflarePermanentError,
  codesOf,
  type CloudflareCallOptions,
} from "./cloudflare-calls.ts";

// A workspace's one proxied A record, kept right whatever is there already: strays of ours
// go, a retried create that had worked is fine, and a record of another type holding the
// name (Cloudflare's 81053) is replaced when it is ours, refused with what to do when not.

type RecordsOptions = CloudflareCallOptions & { zoneId: string; pageSize?: number };

type DnsRecord = Cloudflare.DNS.RecordResponse;

// "An identical record already exists." (81058, and the older "Record already exists." 81057).
const identicalRecordCodes = new Set([81057, 81058]);
// "An A, AAAA, or CNAME record with that host already exists." (and 81054 for a CNAME).
const nameConflictCodes = new Set([81053, 81054]);

/** The comment on every record we make: what tells our records from anyone else's. */
const ourComment = "cloud-ai-workspaces";

export function createCloudflareRecords(client: Cloudflare, options: RecordsOptions) {
  const { zoneId } = options;
  const call = <T>(operation: string, send: Parameters<typeof callCloudflare<T>>[2]) =>
    callCloudflare(operation, options, send);

  async function listByName(hostname: string, type?: "A"): Promise<DnsRecord[]> {
    const found: DnsRecord[] = [];
    const perPage = options.pageSize ?? 100;
    for (let page = 1; ; page += 1) {
      const answer = await call(`list DNS records of ${hostname}`, (request) =>
        client.dns.records.list(
          { zone_id: zoneId, name: { exact: hostname }, per_page: perPage, page, type },
          request,
        ),
      );
      const items = answer.getPaginatedItems();
      found.push(...items);
      // The SDK's page type names page and per_page only: a short page is the last.
      if (items.length < perPage) return found;
    }
  }

  async function deleteById(id: string): Promise<void> {
    try {
      await call("delete a DNS record", (request) =>
        client.dns.records.delete(id, { zone_id: zoneId }, request),
      );
    } catch (error) {
      if (!(error instanceof APIError && error.status === 404)) throw error;
    }
  }

  const recordFor = (hostname: string, ipv4: string) => ({
    zone_id: zoneId,
    type: "A" as const,
    name: hostname,
    content: ipv4,
    proxied: true,
    ttl: 1 as const,
    comment: ourComment,
  });

  async function create(hostname: string, ipv4: string): Promise<void> {
    try {
      await call(`create the DNS record ${hostname}`, (request) =>
        client.dns.records.create(recordFor(hostname, ipv4), request),
      );
    } catch (error) {
      const codes = codesOf(error);
      if (codes.some((code) => identicalRecordCodes.has(code))) return;
      if (!codes.some((code) => nameConflictCodes.has(code))) throw error;
      await replaceConflicting(hostname, ipv4, codes);
    }
  }

  /** The record of another type holding the name becomes our A record, if it is ours. */
  async function replaceConflicting(hostname: string, ipv4: string, codes: number[]) {
    const others = (await listByName(hostname)).filter((record) => record.type !== "A");
    const foreign = others.find((record) => record.comment !== ourComment);
    if (foreign || others.length === 0)
      throw new CloudflarePermanentError(
        `${hostname} already has ${foreign ? `a ${foreign.type} record` : "a record"} that Cloud AI Workspaces did not make (Cloudflare code ${codes.join(", ")}: an A, AAAA or CNAME record with that host already exists). Delete it in the Cloudflare dashboard (DNS → Records) or choose another BASE_DOMAIN, then retry the workspace.`,
        codes,
      );
    const [first, ...rest] = others;
    for (const record of rest) await deleteById(record.id);
    await call(`replace the DNS record ${hostname}`, (request) =>
      client.dns.records.update(first!.id, recordFor(hostname, ipv4), request),
    );
  }

  return {
    async upsert(hostname: string, ipv4: string): Promise<{ hostname: string }> {
      const found = await listByName(hostname, "A");
      // Keep one record (preferably one that is right already) and drop strays first, so
      // the update never collides with an identical record.
      const keep = found.find((record) => record.content === ipv4) ?? found[0];
      for (const record of found) if (record !== keep) await deleteById(record.id);
      if (!keep) await create(hostname, ipv4);
      else if (keep.content !== ipv4 || !keep.proxied)
        await call(`update the DNS record ${hostname}`, (request) =>
          client.dns.records.update(keep.id, recordFor(hostname, ipv4), request),
        );
      return { hostname };
    },
    async remove(hostname: string): Promise<void> {
      for (const record of await listByName(hostname, "A")) await deleteById(record.id);
    },
  };
}
