import { randomBytes } from "node:crypto";
import { createFakeCloudflareAccess, type FakeCloudflareAccess } from "./cloudflare-access.ts";
import { createFakeCloudflareIps, type FakeCloudflareIps } from "./cloudflare-ips.ts";
import { createFakeCloudflareTls, type FakeCloudflareTls } from "./cloudflare-tls.ts";
import {
  createFaultSwitches,
  readBearerToken,
  readPaging,
  startFakeServer,
  type FakeRequest,
  type FaultSwitches,
  type LoggedRequest,
  type Reply,
} from "./fake-http.ts";

// A fake Cloudflare API v4 (https://developers.cloudflare.com/api/) on loopback: one zone's
// DNS records behind the `{ success, errors, messages, result, result_info }` envelope, with
// the same fault switches as the Hetzner fake. Tests drive server/dns/cloudflare.ts with it;
// the zone's TLS settings and the Origin CA are in cloudflare-tls.ts.

export type FakeDnsRecord = {
  id: string;
  /** Always the full name, e.g. `ws-1.example.test`. */
  name: string;
  type: string;
  content: string;
  proxiable: boolean;
  proxied: boolean;
  /** 1 means "automatic". */
  ttl: number;
  /** Absent when none: the SDK's RecordResponse has `comment?: string`, never null. */
  comment?: string;
  tags: string[];
  settings: Record<string, unknown>;
  meta: Record<string, unknown>;
  created_on: string;
  modified_on: string;
};

export type FakeCloudflareOptions = { token?: string; zoneName?: string };

export type FakeCloudflare = {
  /** Base URL including `/client/v4`, e.g. http://127.0.0.1:41234/client/v4. */
  url: string;
  token: string;
  zoneId: string;
  zoneName: string;
  /** The zone's records by id. */
  records: Map<string, FakeDnsRecord>;
  /** Every request in order: method, path (no query), and the status answered. */
  requests: LoggedRequest[];
  faults: FaultSwitches;
  /** Tokens with fewer permissions, and the five-minute rate limit block (cloudflare-access.ts). */
  access: Pick<FakeCloudflareAccess, "addToken" | "blockRateLimit" | "unblock">;
  /** `GET /ips`: Cloudflare's published ranges (cloudflare-ips.ts). */
  ips: FakeCloudflareIps;
  /** The zone's SSL/TLS mode, edge certificates and Origin CA (cloudflare-tls.ts). */
  tls: FakeCloudflareTls;
  /** The fake Origin CA's certificate (PEM): what a test trusts in place of Cloudflare. */
  originCaCertificatePem: string;
  close: () => Promise<void>;
};

// Cloudflare's numeric error codes for the failures the fake can produce.
const errorCodes: Record<string, number> = {
  rate_limit_exceeded: 971,
  authentication: 10000,
  unauthorized_resource: 9109,
  record_name_conflict: 81053,
  service_error: 10002,
  json_error: 9207,
  no_route: 7003,
  not_found: 81044,
  identical_record: 81058,
  invalid_content: 9005,
  invalid_input: 9000,
  invalid_csr: 1010,
};

export function cloudflareError(status: number, code: string, message: string): Reply {
  return {
    status,
    body: {
      success: false,
      errors: [{ code: errorCodes[code] ?? 10000, message }],
      messages: [],
      result: null,
    },
  };
}

const ok = (result: unknown, extra: Record<string, unknown> = {}): Reply => ({
  status: 200,
  body: { success: true, errors: [], messages: [], result, ...extra },
});

type Zone = { id: string; name: string; records: Map<string, FakeDnsRecord> };

export async function startFakeCloudflare(
  options: FakeCloudflareOptions = {},
): Promise<FakeCloudflare> {
  const token = options.token ?? `fake-cf-${randomBytes(16).toString("hex")}`;
  const zone: Zone = {
    id: randomBytes(16).toString("hex"),
    name: options.zoneName ?? "example.test",
    records: new Map(),
  };
  const faults = createFaultSwitches();
  const requests: LoggedRequest[] = [];
  const ips = createFakeCloudflareIps();
  const tls = createFakeCloudflareTls(zone, cloudflareError);
  const access = createFakeCloudflareAccess(token, zone.id, cloudflareError);
  const server = await startFakeServer({
    faults,
    requests,
    errorReply: cloudflareError,
    handle: (request) =>
      access.rateLimited() ??
      ips.answer(request) ??
      access.refusal(request, readBearerToken(request.headers)) ??
      tls.answer(request) ??
      route(zone, request),
  });
  return {
    url: `${server.origin}/client/v4`,
    token,
    zoneId: zone.id,
    zoneName: zone.name,
    records: zone.records,
    requests,
    faults: { add: faults.add, clear: faults.clear, pending: faults.pending },
    access: {
      addToken: access.addToken,
      blockRateLimit: access.blockRateLimit,
      unblock: access.unblock,
    },
    ips,
    tls,
    originCaCertificatePem: tls.originCa.certificatePem,
    close: server.close,
  };
}

function route(zone: Zone, request: FakeRequest): Reply {
  const match = /^\/client\/v4\/zones\/([^/]+)\/dns_records(?:\/([^/]+))?$/.exec(request.path);
  if (!match || match[1] !== zone.id)
    return cloudflareError(
      404,
      "no_route",
      `Could not route to ${request.path}, perhaps your object identifier is invalid?`,
    );
  const id = match[2];
  if (id === undefined) {
    if (request.method === "GET") return listRecords(zone, request.query);
    if (request.method === "POST") return createRecord(zone, request.body);
    return cloudflareError(405, "no_route", "Method not allowed");
  }
  const record = zone.records.get(id);
  if (!record) return cloudflareError(404, "not_found", "Record does not exist.");
  if (request.method === "GET") return ok(record);
  if (request.method === "PUT") return writeRecord(zone, record, readInput(request.body));
  if (request.method === "PATCH")
    return writeRecord(zone, record, { ...record, ...readInput(request.body) });
  if (request.method === "DELETE") {
    zone.records.delete(id);
    return ok({ id });
  }
  return cloudflareError(405, "no_route", "Method not allowed");
}

/** Exact-match filters (`name=` or `name.exact=`, and the same for type and content). */
function readFilter(query: URLSearchParams, field: string): string | null {
  return query.get(field) ?? query.get(`${field}.exact`);
}

function listRecords(zone: Zone, query: URLSearchParams): Reply {
  const name = readFilter(query, "name")?.toLowerCase() ?? null;
  const type = readFilter(query, "type");
  const content = readFilter(query, "content");
  const found = [...zone.records.values()].filter(
    (record) =>
      (name === null || record.name === name) &&
      (type === null || record.type === type) &&
      (content === null || record.content === content),
  );
  const { page, perPage } = readPaging(query, { perPage: 100, maxPerPage: 5000 });
  const items = found.slice((page - 1) * perPage, page * perPage);
  return ok(items, {
    result_info: {
      page,
      per_page: perPage,
      count: items.length,
      total_count: found.length,
      total_pages: Math.max(1, Math.ceil(found.length / perPage)),
    },
  });
}

type RecordInput = Partial<Pick<FakeDnsRecord, "name" | "type" | "content" | "ttl" | "proxied">> & {
  comment?: string | null;
};

function readInput(body: unknown): RecordInput {
  return typeof body === "object" && body !== null ? (body as RecordInput) : {};
}

function fullName(zone: Zone, name: string): string {
  const lower = name.toLowerCase().replace(/\.$/, "");
  if (lower === "@") return zone.name;
  return lower === zone.name || lower.endsWith(`.${zone.name}`) ? lower : `${lower}.${zone.name}`;
}

/** Checks a record the way Cloudflare does before storing it; undefined when it is fine. */
function checkRecord(zone: Zone, record: FakeDnsRecord): Reply | undefined {
  if (!record.name) return cloudflareError(400, "invalid_input", "DNS record name is required");
  if (!["A", "AAAA", "CNAME", "TXT"].includes(record.type))
    return cloudflareError(400, "invalid_input", `Unsupported record type ${record.type}`);
  if (record.type === "A" && !/^(\d{1,3}\.){3}\d{1,3}$/.test(record.content))
    return cloudflareError(400, "invalid_content", "Content for A record must be an IPv4 address");
  if (!Number.isInteger(record.ttl) || (record.ttl !== 1 && record.ttl < 60))
    return cloudflareError(400, "invalid_input", "TTL must be 1 (automatic) or at least 60");
  const conflict = [...zone.records.values()].some(
    (other) =>
      other.id !== record.id &&
      other.name === record.name &&
      conflictsWithCname(record.type, other.type),
  );
  if (conflict)
    return cloudflareError(
      400,
      "record_name_conflict",
      "An A, AAAA, or CNAME record with that host already exists.",
    );
  const identical = [...zone.records.values()].some(
    (other) =>
      other.id !== record.id &&
      other.name === record.name &&
      other.type === record.type &&
      other.content === record.content,
  );
  if (identical)
    return cloudflareError(400, "identical_record", "An identical record already exists.");
  return undefined;
}

/**
 * Cloudflare's rule for names ("Records with the same name"): a CNAME cannot share its name
 * with an A, AAAA or CNAME record, nor an A or AAAA with a CNAME.
 */
function conflictsWithCname(type: string, other: string): boolean {
  const address = (kind: string) => kind === "A" || kind === "AAAA";
  if (type === "CNAME") return address(other) || other === "CNAME";
  return address(type) && other === "CNAME";
}

function writeRecord(zone: Zone, current: FakeDnsRecord, input: RecordInput): Reply {
  const record: FakeDnsRecord = {
    ...current,
    name: fullName(zone, String(input.name ?? "")),
    type: String(input.type ?? ""),
    content: String(input.content ?? ""),
    ttl: input.ttl ?? 1,
    proxied: input.proxied ?? false,
    comment: input.comment || undefined,
    modified_on: new Date().toISOString(),
  };
  const problem = checkRecord(zone, record);
  if (problem) return problem;
  zone.records.set(record.id, record);
  return ok(record);
}

function createRecord(zone: Zone, body: unknown): Reply {
  const now = new Date().toISOString();
  const blank: FakeDnsRecord = {
    id: randomBytes(16).toString("hex"),
    name: "",
    type: "",
    content: "",
    proxiable: true,
    proxied: false,
    ttl: 1,
    tags: [],
    settings: {},
    meta: {},
    created_on: now,
    modified_on: now,
  };
  // Cloudflare answers a create with 200, not 201.
  return writeRecord(zone, blank, readInput(body));
}
