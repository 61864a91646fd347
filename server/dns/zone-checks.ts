import { isSettingsProblem, type CloudflareZone, type SslMode } from "./cloudflare-zone.ts";

// Is the Cloudflare zone set up so workspaces are reachable and their traffic encrypted all the
// way (docs/adr/0010-tls-to-the-agent.md)? Checked when the web program starts (a BASE_DOMAIN
// the edge certificate cannot cover refuses the start) and, for the SSL/TLS mode, in /readyz.

const fixMode =
  'In the Cloudflare dashboard: your zone → SSL/TLS → Overview → Configure → Full (strict); or through the API: PATCH /zones/{zone id}/settings/ssl with {"value":"strict"}.';

/** What is wrong with the zone's SSL/TLS encryption mode; null for Full (strict). */
export function describeSslModeProblem(mode: SslMode): string | null {
  if (mode === "strict") return null;
  const what = {
    off: "Off: Cloudflare connects to the workspaces' servers over plain HTTP on port 80, which they do not serve (the agent serves HTTPS on 443), so every workspace answers 521, and visitors are not offered HTTPS",
    flexible:
      "Flexible: Cloudflare connects to the workspaces' servers over plain HTTP on port 80, which they do not serve (the agent serves HTTPS on 443), so every workspace answers 521; and were one to answer, terminal sign-in links, cookies and every keystroke would cross the internet unencrypted",
    full: "Full: Cloudflare encrypts to the workspaces' servers but does not check their certificates, so anyone on the path between Cloudflare and a server could pose as the workspace",
  }[mode];
  return `The Cloudflare zone's SSL/TLS encryption mode is ${what}. ${fixMode}`;
}

/** How many labels BASE_DOMAIN sits below the zone's apex (0: it is the apex); null outside. */
export function levelsBelowZone(baseDomain: string, zoneName: string): number | null {
  const base = baseDomain.toLowerCase().replace(/\.$/, "");
  const zone = zoneName.toLowerCase().replace(/\.$/, "");
  if (base === zone) return 0;
  if (!base.endsWith(`.${zone}`)) return null;
  return base.slice(0, -zone.length - 1).split(".").length;
}

export type ZoneStartCheck = {
  /** Why the web program must not start; null when it may. */
  refusal: string | null;
  warnings: string[];
};

/**
 * BASE_DOMAIN's place in the zone and the zone's SSL/TLS mode. Settings problems (outside the
 * zone, too deep, no edge certificate, a refused token) refuse; Cloudflare being unreachable
 * only warns, since /readyz keeps checking the mode.
 */
export async function checkZoneAtStart(
  zone: CloudflareZone,
  baseDomain: string,
): Promise<ZoneStartCheck> {
  const warnings: string[] = [];
  try {
    const zoneName = await zone.readName();
    const refusal = await checkBaseDomain(zone, baseDomain, zoneName, warnings);
    if (refusal) return { refusal, warnings };
    const problem = describeSslModeProblem(await zone.readSslMode());
    if (problem) warnings.push(problem);
    return { refusal: null, warnings };
  } catch (error) {
    if (isSettingsProblem(error)) return { refusal: (error as Error).message, warnings };
    warnings.push(
      `Could not check the Cloudflare zone at start (${(error as Error).message}); /readyz keeps checking its SSL/TLS mode.`,
    );
    return { refusal: null, warnings };
  }
}

async function checkBaseDomain(
  zone: CloudflareZone,
  baseDomain: string,
  zoneName: string,
  warnings: string[],
): Promise<string | null> {
  const levels = levelsBelowZone(baseDomain, zoneName);
  const names = `Workspace names are ws-{id}.${baseDomain}`;
  if (levels === null)
    return `BASE_DOMAIN ${baseDomain} is not in the Cloudflare zone ${zoneName} (CLOUDFLARE_ZONE_ID). Set BASE_DOMAIN to ${zoneName} or a name below it, or CLOUDFLARE_ZONE_ID to the zone that holds ${baseDomain}.`;
  if (levels === 0) return null;
  if (levels > 1)
    return `BASE_DOMAIN ${baseDomain} is ${levels} levels below the zone ${zoneName}. ${names}, ${levels + 1} levels below it: Cloudflare's Universal SSL certificate covers ${zoneName} and *.${zoneName} only, so browsers would refuse every workspace's certificate. Set BASE_DOMAIN=${zoneName} (recommended) or a name one level below it with an Advanced Certificate for *.{that name}.`;
  return checkEdgeCoverage(zone, baseDomain, zoneName, warnings);
}

/**
 * One level below the zone, workspace names are two levels below it: only an Advanced
 * Certificate for `*.BASE_DOMAIN` (or Total TLS) gives them an edge certificate.
 */
async function checkEdgeCoverage(
  zone: CloudflareZone,
  baseDomain: string,
  zoneName: string,
  warnings: string[],
): Promise<string | null> {
  const wildcard = `*.${baseDomain.toLowerCase()}`;
  const covering = (await zone.listEdgeCertificates()).filter((pack) =>
    pack.hosts.some((host) => host.toLowerCase() === wildcard),
  );
  if (covering.some((pack) => pack.status === "active")) return null;
  if (await zone.readTotalTls().catch(() => false)) return null;
  if (covering.length > 0) {
    const statuses = covering.map((pack) => pack.status).join(", ");
    warnings.push(
      `The edge certificate for ${wildcard} is not active yet (${statuses}); until it is, browsers refuse the workspaces' certificates. See SSL/TLS → Edge Certificates in the Cloudflare dashboard.`,
    );
    return null;
  }
  return `BASE_DOMAIN ${baseDomain} is one level below the zone ${zoneName}, so workspace names (ws-{id}.${baseDomain}) are two levels below it, and Cloudflare's Universal SSL certificate covers only ${zoneName} and *.${zoneName}: browsers would refuse every workspace's certificate. Set BASE_DOMAIN=${zoneName}, or order an Advanced Certificate for ${wildcard} (SSL/TLS → Edge Certificates → Order an advanced certificate) and start again once it is listed.`;
}

export type ZoneModeStatus = {
  /** failing: the mode is not Full (strict); unknown: Cloudflare did not answer. */
  status: "ok" | "failing" | "unknown";
  sslMode: SslMode | null;
  /** What is wrong and how to fix it; empty when ok. */
  detail: string;
};

/**
 * The zone's SSL/TLS mode for /readyz, asked of Cloudflare at most once per `cacheMs` (probes
 * come every few seconds; the answer changes only when someone edits the zone).
 */
export function createZoneModeCheck(
  zone: Pick<CloudflareZone, "readSslMode">,
  cacheMs = 60_000,
): () => Promise<ZoneModeStatus> {
  let cached: { at: number; status: Promise<ZoneModeStatus> } | undefined;
  const ask = async (): Promise<ZoneModeStatus> => {
    try {
      const sslMode = await zone.readSslMode();
      const problem = describeSslModeProblem(sslMode);
      return { status: problem ? "failing" : "ok", sslMode, detail: problem ?? "" };
    } catch (error) {
      return { status: "unknown", sslMode: null, detail: (error as Error).message };
    }
  };
  return () => {
    const now = Date.now();
    // One question in flight at a time; concurrent probes share its answer.
    if (!cached || now - cached.at >= cacheMs) cached = { at: now, status: ask() };
    return cached.status;
  };
}
