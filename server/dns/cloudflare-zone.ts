import { APIError } from "cloudflare";
import { z } from "zod";
import { AppError } from "../errors.ts";
import { createCloudflareClient, type CloudflareClientOptions } from "./cloudflare.ts";

// What TLS to the agent needs from the zone, through the official SDK
// (docs/adr/0010-tls-to-the-agent.md): the zone's name (BASE_DOMAIN must sit in it), its SSL/TLS
// encryption mode (Full (strict) for the edge to check the agent's certificate), the edge
// certificates that cover names below it, and Origin CA certificates for agents.

export const sslModes = ["off", "flexible", "full", "strict"] as const;
export type SslMode = (typeof sslModes)[number];

/** The Origin CA's validity choices (the SDK's RequestValidity), in days. */
export type OriginCertificateDays = 7 | 30 | 90 | 365 | 730 | 1095 | 5475;

export type EdgeCertificatePack = { hosts: string[]; status: string; type: string };

export type OriginCertificate = { serial: string; certificate: string };

export type CloudflareZone = ReturnType<typeof createCloudflareZone>;

/** The permission each call needs, named in the error when Cloudflare refuses the token. */
const permissions = {
  zone: "Zone → Zone → Read",
  settings: "Zone → Zone Settings → Read",
  certificates: "Zone → SSL and Certificates → Edit",
};

const sslSettingSchema = z.object({ value: z.enum(sslModes) });

export function createCloudflareZone(options: CloudflareClientOptions) {
  const client = createCloudflareClient(options);
  const zone = { zone_id: options.zoneId };
  return {
    readName: () =>
      explained("read the zone", permissions.zone, async () => (await client.zones.get(zone)).name),
    readSslMode: () =>
      explained("read the zone's SSL/TLS mode", permissions.settings, async () => {
        const setting = sslSettingSchema.parse(await client.zones.settings.get("ssl", zone));
        return setting.value;
      }),
    listEdgeCertificates: () =>
      explained("list the zone's edge certificates", permissions.certificates, async () => {
        const packs: EdgeCertificatePack[] = [];
        for await (const pack of client.ssl.certificatePacks.list({ ...zone, status: "all" }))
          packs.push({ hosts: pack.hosts, status: pack.status, type: pack.type });
        return packs;
      }),
    readTotalTls: () =>
      explained("read the zone's Total TLS setting", permissions.certificates, async () =>
        Boolean((await client.acm.totalTLS.get(zone)).enabled),
      ),
    /** An ECDSA Origin CA certificate for exactly `hostname`, from the agent's request. */
    createOriginCertificate: (input: {
      csr: string;
      hostname: string;
      days: OriginCertificateDays;
    }) =>
      explained("issue an Origin CA certificate", permissions.certificates, async () => {
        const created = await client.originCACertificates.create({
          csr: input.csr,
          hostnames: [input.hostname],
          request_type: "origin-ecc",
          requested_validity: input.days,
        });
        if (!created.certificate) throw new Error("Cloudflare answered without a certificate");
        return { serial: created.id ?? "unknown", certificate: created.certificate };
      }),
  };
}

/**
 * A problem in our settings (the token lacks a permission, the zone id is wrong), as opposed to
 * Cloudflare being unreachable or failing for a while.
 */
export const isSettingsProblem = (error: unknown) =>
  error instanceof AppError && (error.code === "FORBIDDEN" || error.code === "NOT_FOUND");

/**
 * Runs one call and says what went wrong in an AppError: a refused token names the permission
 * to add, an unknown zone the setting to check, anything else what could not be done and
 * Cloudflare's own words (which never hold the token).
 */
async function explained<T>(what: string, permission: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const status = error instanceof APIError ? error.status : undefined;
    if (status === 401 || status === 403)
      throw new AppError(
        "FORBIDDEN",
        `Cloudflare refused the API token to ${what} (${status}). Give the token the ${permission} permission for this zone (see the self-hosting guide) and check CLOUDFLARE_ZONE_ID.`,
        { cause: error },
      );
    if (status === 404 && permission === permissions.zone)
      throw new AppError(
        "NOT_FOUND",
        "Cloudflare knows no zone with the id in CLOUDFLARE_ZONE_ID: copy the Zone ID from the zone's Overview page in the Cloudflare dashboard.",
        { cause: error },
      );
    const reason = error instanceof Error ? error.message : String(error);
    throw new AppError(
      "SERVICE_UNAVAILABLE",
      `Could not ${what} through Cloudflare's API: ${reason}`,
      {
        cause: error,
      },
    );
  }
}
