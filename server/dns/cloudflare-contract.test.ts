import type Cloudflare from "cloudflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeCloudflare, type FakeCloudflare } from "../../e2e/fakes/cloudflare.ts";
import type { LoggedRequest } from "../../e2e/fakes/fake-http.ts";
import { createCloudflareDns } from "./cloudflare.ts";

// The fake Cloudflare's DNS answers, and the requests our DNS client sends, checked against
// the official SDK's types (cloudflare 7.3.0, generated from Cloudflare's OpenAPI). The SDK
// has no runtime schemas, so the check has two halves that hold each other to the SDK:
// - at compile time (npm run typecheck), each field table below must name exactly the keys
//   of the SDK type it stands for, and the required lists exactly its required keys;
// - at run time, every record, envelope and error the fake answered our real client (and
//   every body and query the client sent) is checked against those tables: no field outside
//   them, each of the kind the SDK says, every required field there.
// Our client parses every answer with the SDK's own response handling on the way.

type Kind = "string" | "number" | "boolean" | "array" | "object";
type Table<T> = { [K in keyof Required<T>]-?: Kind };
type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];
/** `true` only when `Listed` names every required key of `T` (a compile-time check). */
type Complete<T, Listed> = [Exclude<RequiredKeys<T>, Listed>] extends [never] ? true : false;

type SdkRecord = Cloudflare.DNS.RecordResponse.ARecord;
type SdkCname = Cloudflare.DNS.RecordResponse.CNAMERecord;

const recordFields = {
  id: "string",
  name: "string",
  type: "string",
  content: "string",
  ttl: "number",
  proxied: "boolean",
  proxiable: "boolean",
  private_routing: "boolean",
  comment: "string",
  comment_modified_on: "string",
  tags: "array",
  tags_modified_on: "string",
  settings: "object",
  meta: "object",
  created_on: "string",
  modified_on: "string",
} as const satisfies Table<SdkRecord> & Table<SdkCname>;
const recordRequired = [
  "id",
  "name",
  "type",
  "ttl",
  "proxiable",
  "meta",
  "created_on",
  "modified_on",
] as const satisfies readonly RequiredKeys<SdkRecord>[];
const recordComplete: Complete<SdkRecord, (typeof recordRequired)[number]> = true;

const errorFields = {
  code: "number",
  message: "string",
  documentation_url: "string",
  source: "object",
} as const satisfies Table<Cloudflare.ErrorData>;

// The SDK sends zone_id in the path and include_shadow_metadata in the query.
type CreateBody = Omit<
  Cloudflare.DNS.RecordCreateParams.ARecord,
  "zone_id" | "include_shadow_metadata"
>;
const createFields = {
  name: "string",
  type: "string",
  content: "string",
  ttl: "number",
  proxied: "boolean",
  private_routing: "boolean",
  comment: "string",
  settings: "object",
  tags: "array",
} as const satisfies Table<CreateBody>;
const createRequired = [
  "name",
  "ttl",
  "type",
] as const satisfies readonly RequiredKeys<CreateBody>[];
const createComplete: Complete<CreateBody, (typeof createRequired)[number]> = true;

type ListQuery = Omit<Cloudflare.DNS.RecordListParams, "zone_id">;
const listQueryNames = [
  "name",
  "type",
  "page",
  "per_page",
] as const satisfies readonly (keyof ListQuery)[];

// The envelope every v4 answer has; result_info's count/total_count/total_pages are in
// Cloudflare's API reference ("result_info") although the SDK's page type names page and
// per_page only.
const envelopeKeys = new Set(["success", "errors", "messages", "result", "result_info"]);
const resultInfoKeys = new Set(["page", "per_page", "count", "total_count", "total_pages"]);

let checks = 0;
let fake: FakeCloudflare;

beforeAll(async () => {
  fake = await startFakeCloudflare({ zoneName: "example.test" });
  await playOurClient(fake);
});
afterAll(async () => {
  await fake?.close();
  process.stdout.write(
    `Cloudflare contract: ${checks} checks against the cloudflare SDK's types (recordComplete ${recordComplete}, createComplete ${createComplete})\n`,
  );
});

function kindOf(value: unknown): Kind | "null" | "undefined" {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value as Kind | "undefined";
}

/** Every way `value` differs from a field table (and its required fields). */
function checkAgainst(
  value: unknown,
  fields: Record<string, Kind>,
  required: readonly string[],
  where: string,
): string[] {
  checks += 1;
  if (kindOf(value) !== "object") return [`${where}: not an object`];
  const problems: string[] = [];
  for (const [key, field] of Object.entries(value as Record<string, unknown>)) {
    checks += 1;
    if (field === undefined) continue;
    const kind = fields[key];
    if (!kind) problems.push(`${where}.${key}: not in the SDK's type`);
    else if (kindOf(field) !== kind)
      problems.push(`${where}.${key}: ${kindOf(field)}, not ${kind}`);
  }
  for (const key of required) {
    checks += 1;
    if ((value as Record<string, unknown>)[key] === undefined)
      problems.push(`${where}.${key}: required`);
  }
  return problems;
}

function checkEnvelope(entry: LoggedRequest, where: string): string[] {
  const body = entry.response as Record<string, unknown> | undefined;
  if (!body) return [`${where}: no body`];
  const problems = Object.keys(body)
    .filter((key) => !envelopeKeys.has(key))
    .map((key) => `${where}.${key}: not in the envelope`);
  checks += 1;
  for (const [index, error] of ((body.errors as unknown[]) ?? []).entries())
    problems.push(
      ...checkAgainst(error, errorFields, ["code", "message"], `${where}.errors[${index}]`),
    );
  for (const key of Object.keys((body.result_info as object) ?? {})) {
    checks += 1;
    if (!resultInfoKeys.has(key)) problems.push(`${where}.result_info.${key}: undocumented`);
  }
  if (typeof entry.status !== "number" || entry.status >= 300 || body.result === null)
    return problems;
  const results = Array.isArray(body.result) ? body.result : [body.result];
  const isDelete = entry.method === "DELETE";
  for (const [index, record] of results.entries())
    problems.push(
      ...(isDelete
        ? checkAgainst(record, { id: "string" }, ["id"], `${where}.result`)
        : checkAgainst(record, recordFields, recordRequired, `${where}.result[${index}]`)),
    );
  return problems;
}

function checkRequest(entry: LoggedRequest, where: string): string[] {
  const problems: string[] = [];
  for (const key of new URLSearchParams(entry.query ?? "").keys()) {
    checks += 1;
    if (!(listQueryNames as readonly string[]).includes(key.split(".")[0]!))
      problems.push(`${where} ?${key}: not a parameter of RecordListParams`);
  }
  if (entry.method === "POST" || entry.method === "PUT")
    problems.push(...checkAgainst(entry.body, createFields, createRequired, `${where} body`));
  return problems;
}

/** What our DNS client does in a workspace's life, with the failures it must read. */
async function playOurClient(fake: FakeCloudflare) {
  const dns = createCloudflareDns({
    apiToken: fake.token,
    zoneId: fake.zoneId,
    baseDomain: "example.test",
    apiUrl: fake.url,
    pageSize: 2,
  });
  await dns.upsertRecord({ name: "ws-1", ipv4: "203.0.113.1" });
  await dns.upsertRecord({ name: "ws-1", ipv4: "203.0.113.2" });
  fake.faults.add({ kind: "lost-response", method: "POST" });
  await dns.upsertRecord({ name: "ws-2", ipv4: "203.0.113.3" }); // then 81058, identical
  await fetch(`${fake.url}/zones/${fake.zoneId}/dns_records`, {
    method: "POST",
    headers: { authorization: `Bearer ${fake.token}`, "content-type": "application/json" },
    body: JSON.stringify({ type: "CNAME", name: "ws-3", content: "x.example.net", ttl: 1 }),
  });
  await dns.upsertRecord({ name: "ws-3", ipv4: "203.0.113.4" }).catch(() => undefined); // 81053
  await dns.upsertRecord({ name: "ws-4", ipv4: "no-address" }).catch(() => undefined); // 9005
  await dns.deleteRecord("ws-1");
  fake.access.blockRateLimit({ seconds: 600 });
  await dns.deleteRecord("ws-2").catch(() => undefined); // 971
  fake.access.unblock();
  const readOnly = createCloudflareDns({
    apiToken: fake.access.addToken({ dnsRead: true }),
    zoneId: fake.zoneId,
    baseDomain: "example.test",
    apiUrl: fake.url,
  });
  await readOnly.upsertRecord({ name: "ws-5", ipv4: "203.0.113.5" }).catch(() => undefined); // 10000
}

describe("the fake Cloudflare and our DNS client against the cloudflare SDK's types", () => {
  it("has zero mismatches in every DNS exchange, answers and failures alike", () => {
    const entries = fake.requests.filter(
      (entry) => entry.path.includes("/dns_records") && entry.status !== "lost",
    );
    const mismatches = entries.flatMap((entry, index) => {
      const where = `#${index} ${entry.method} ${entry.status}`;
      return [...checkRequest(entry, where), ...checkEnvelope(entry, where)];
    });
    expect(mismatches).toEqual([]);
    const codes = entries.flatMap((entry) =>
      ((entry.response as { errors?: { code: number }[] }).errors ?? []).map((e) => e.code),
    );
    expect(new Set(codes)).toEqual(new Set([81058, 81053, 9005, 971, 10000]));
    expect(entries.length).toBeGreaterThan(15);
  });

  it("catches a drift: an invented field, a wrong kind, a missing required field", () => {
    const record = {
      id: "1",
      name: "a",
      type: "A",
      ttl: 1,
      proxiable: true,
      meta: {},
      created_on: "x",
      modified_on: "x",
    };
    expect(checkAgainst(record, recordFields, recordRequired, "r")).toEqual([]);
    expect(checkAgainst({ ...record, zone_name: "x" }, recordFields, recordRequired, "r")).toEqual([
      "r.zone_name: not in the SDK's type",
    ]);
    expect(checkAgainst({ ...record, comment: null }, recordFields, recordRequired, "r")).toEqual([
      "r.comment: null, not string",
    ]);
    const { proxiable: _gone, ...missing } = record;
    expect(checkAgainst(missing, recordFields, recordRequired, "r")).toEqual([
      "r.proxiable: required",
    ]);
  });
});
