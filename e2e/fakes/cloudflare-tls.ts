import { randomUUID } from "node:crypto";
import { readPaging, type FakeRequest, type Reply } from "./fake-http.ts";
import { createFakeOriginCa, readRequestWithOpenssl } from "./fake-origin-ca.ts";

// The TLS side of the fake Cloudflare, shaped by the official SDK's types: the zone itself
// (`GET /zones/{id}`, its name), its `ssl` setting (`GET`/`PATCH /zones/{id}/settings/ssl`), its
// edge certificate packs and Total TLS, and the Origin CA (`POST /certificates`), which issues
// from a test CA whose certificate tests trust (`originCa.certificatePem`).

export type FakeSslMode = "off" | "flexible" | "full" | "strict";

export type FakeCertificatePack = { id: string; hosts: string[]; status: string; type: string };

export type FakeOriginCertificate = {
  id: string;
  hostnames: string[];
  requestType: string;
  requestedValidity: number;
  certificate: string;
  csr: string;
  notAfter: Date;
};

export type FakeCloudflareTls = {
  /** The zone's SSL/TLS encryption mode; Full (strict) unless a test changes it. */
  sslMode: FakeSslMode;
  /** The zone's edge certificate packs (the Universal one is listed from the start). */
  certificatePacks: FakeCertificatePack[];
  totalTls: boolean;
  /**
   * Test knob: issued certificates live this many seconds instead of `requested_validity`
   * days (the Origin CA's shortest choice is 7 days), so a test can watch a renewal.
   */
  certificateLifetimeSeconds: number | null;
  /** Every certificate the Origin CA issued, in order. */
  readonly issued: FakeOriginCertificate[];
  readonly originCa: { certificatePem: string };
  /** The reply to a TLS route; undefined for every other request. */
  answer: (request: FakeRequest) => Promise<Reply> | Reply | undefined;
};

type ErrorReply = (status: number, code: string, message: string) => Reply;

const ok = (result: unknown, extra: Record<string, unknown> = {}): Reply => ({
  status: 200,
  body: { success: true, errors: [], messages: [], result, ...extra },
});

const validities = [7, 30, 90, 365, 730, 1095, 5475];
const requestTypes = ["origin-rsa", "origin-ecc", "keyless-certificate"];

export function createFakeCloudflareTls(
  zone: { id: string; name: string },
  errorReply: ErrorReply,
): FakeCloudflareTls {
  const ca = createFakeOriginCa();
  const state: FakeCloudflareTls = {
    sslMode: "strict",
    certificatePacks: [
      {
        id: randomUUID(),
        hosts: [zone.name, `*.${zone.name}`],
        status: "active",
        type: "universal",
      },
    ],
    totalTls: false,
    certificateLifetimeSeconds: null,
    issued: [],
    originCa: { certificatePem: ca.certificatePem },
    answer: (request) => {
      const zonePath = `/client/v4/zones/${zone.id}`;
      const { method, path } = request;
      if (path === "/client/v4/certificates" && method === "POST")
        return issueCertificate(request.body);
      if (path === zonePath && method === "GET") return ok(zoneObject(zone));
      if (path === `${zonePath}/settings/ssl`) return sslSetting(request);
      if (path === `${zonePath}/ssl/certificate_packs` && method === "GET")
        return listPacks(request.query);
      if (path === `${zonePath}/acm/total_tls` && method === "GET")
        return ok({
          enabled: state.totalTls,
          certificate_authority: "google",
          validity_period: 90,
        });
      return undefined;
    },
  };

  function sslSetting(request: FakeRequest): Reply {
    if (request.method === "PATCH") {
      const value = (request.body as { value?: unknown } | undefined)?.value;
      if (!["off", "flexible", "full", "strict"].includes(String(value)))
        return errorReply(400, "invalid_input", "Invalid value for zone setting ssl");
      state.sslMode = value as FakeSslMode;
    } else if (request.method !== "GET") return errorReply(405, "no_route", "Method not allowed");
    return ok({
      id: "ssl",
      value: state.sslMode,
      editable: true,
      modified_on: new Date().toISOString(),
    });
  }

  function listPacks(query: URLSearchParams): Reply {
    // Without `status=all` Cloudflare lists active packs only.
    const packs = state.certificatePacks.filter(
      (pack) => query.get("status") === "all" || pack.status === "active",
    );
    const { page, perPage } = readPaging(query, { perPage: 20, maxPerPage: 50 });
    const items = packs
      .slice((page - 1) * perPage, page * perPage)
      .map((pack) => ({ ...pack, certificates: [] }));
    return ok(items, {
      result_info: { page, per_page: perPage, count: items.length, total_count: packs.length },
    });
  }

  async function issueCertificate(body: unknown): Promise<Reply> {
    const input = (typeof body === "object" && body !== null ? body : {}) as Record<
      string,
      unknown
    >;
    const problem = checkOrder(input, zone.name);
    if (problem) return errorReply(400, "invalid_input", problem);
    const csr = String(input.csr);
    const read = await readRequestWithOpenssl(csr);
    if ("problem" in read)
      return errorReply(400, "invalid_csr", `Failed to parse CSR: ${read.problem}`);
    const requestType = String(input.request_type);
    const keyType = read.publicKey.asymmetricKeyType;
    if ((requestType === "origin-ecc") !== (keyType === "ec"))
      return errorReply(
        400,
        "invalid_csr",
        `The CSR's ${keyType} key does not match request_type ${requestType}`,
      );
    const days = Number(input.requested_validity ?? 5475);
    const lifetimeMs = (state.certificateLifetimeSeconds ?? days * 86_400) * 1000;
    const hostnames = (input.hostnames as string[]).map((name) => name.toLowerCase());
    const subjectPublicKeyInfo = read.publicKey.export({ type: "spki", format: "der" });
    const leaf = ca.issue({ subjectPublicKeyInfo, hostnames, lifetimeMs });
    const issued: FakeOriginCertificate = {
      id: leaf.serial,
      hostnames,
      requestType,
      requestedValidity: days,
      certificate: leaf.certificatePem,
      csr,
      notAfter: leaf.notAfter,
    };
    state.issued.push(issued);
    return ok({
      id: issued.id,
      certificate: issued.certificate,
      csr,
      expires_on: cloudflareTime(leaf.notAfter),
      hostnames,
      request_type: requestType,
      requested_validity: days,
    });
  }

  return state;
}

/** What Cloudflare checks before it reads the CSR; undefined when the order is fine. */
function checkOrder(input: Record<string, unknown>, zoneName: string): string | undefined {
  if (typeof input.csr !== "string" || input.csr.length === 0) return "csr is required";
  if (!requestTypes.includes(String(input.request_type)))
    return "request_type must be origin-rsa, origin-ecc or keyless-certificate";
  if (
    input.requested_validity !== undefined &&
    !validities.includes(Number(input.requested_validity))
  )
    return `requested_validity must be one of ${validities.join(", ")}`;
  const hostnames = input.hostnames;
  if (!Array.isArray(hostnames) || hostnames.length === 0) return "hostnames is required";
  const foreign = hostnames.find((name) => {
    const plain = String(name).toLowerCase().replace(/^\*\./, "");
    return plain !== zoneName && !plain.endsWith(`.${zoneName}`);
  });
  return foreign === undefined
    ? undefined
    : `Hostname ${String(foreign)} is not in a zone on this account`;
}

// Cloudflare's Origin CA writes times like Go does: "2026-12-09 10:42:00 +0000 UTC".
const cloudflareTime = (date: Date) =>
  `${date.toISOString().slice(0, 19).replace("T", " ")} +0000 UTC`;

function zoneObject(zone: { id: string; name: string }) {
  const created = "2024-01-01T00:00:00.000000Z";
  return {
    id: zone.id,
    name: zone.name,
    status: "active",
    paused: false,
    type: "full",
    development_mode: 0,
    name_servers: ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"],
    original_name_servers: null,
    original_registrar: null,
    original_dnshost: null,
    created_on: created,
    modified_on: created,
    activated_on: created,
    meta: { phishing_detected: false, step: 2 },
    owner: { id: null, name: null, type: "user" },
    account: { id: "fake-account", name: "Fake account" },
    plan: { id: "free", name: "Free Website", is_subscribed: true, can_subscribe: false },
  };
}
