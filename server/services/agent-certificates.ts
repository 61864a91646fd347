import { createPublicKey, verify, X509Certificate } from "node:crypto";
import { eq } from "drizzle-orm";
import { RateLimiterDrizzle, RateLimiterRes } from "rate-limiter-flexible";
import type { Database } from "../../db/client.ts";
import { rateLimits, users, workspaces } from "../../db/schema.ts";
import type { AgentCertificateResponse } from "../../protocol/agent-protocol.ts";
import {
  fromPem,
  oids,
  parseCertificateRequest,
  toPem,
  type ParsedCertificateRequest,
} from "../../protocol/certificate-request.ts";
import { DerError } from "../../protocol/der.ts";
import type { CloudflareZone, OriginCertificateDays } from "../dns/cloudflare-zone.ts";
import { AppError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { recordAuditEvent } from "./audit.ts";
import type { AgentWorkspace } from "./agents.ts";
import { serverNameOf } from "./workspace-jobs.ts";

// TLS to the agent (docs/adr/0010-tls-to-the-agent.md): an agent sends a certificate request
// for its own host name; the control plane checks it and asks Cloudflare's Origin CA for a
// certificate for exactly that name. The private key stays on the server: only its public half
// travels, inside the request.

/** The workspace's own host name, the one name its agent may get a certificate for. */
export function workspaceHostnameOf(
  settings: { DNS_PROVIDER: "local" | "cloudflare"; BASE_DOMAIN?: string | undefined },
  workspaceId: string,
): string {
  const domain = settings.DNS_PROVIDER === "cloudflare" ? settings.BASE_DOMAIN : "localhost";
  return `${serverNameOf(workspaceId)}.${domain ?? "localhost"}`.toLowerCase();
}

/** Certificates a workspace may get per hour: restarts and renewals need a few, never more. */
const certificatesPerHour = 10;

export type AgentCertificateDependencies = {
  db: Database;
  /** The zone's Origin CA; null in the one-machine mode (DNS_PROVIDER=local). */
  zone: CloudflareZone | null;
  hostnameOf: (workspaceId: string) => string;
  days: OriginCertificateDays;
  /** The workspace's hourly certificate budget (createCertificateBudget). */
  budget: CertificateBudget;
  logger: Logger;
};

/** The per-workspace hourly budget, shared by every web process through Postgres. */
export function createCertificateBudget(db: Database) {
  const limiter = new RateLimiterDrizzle({
    storeClient: db,
    schema: rateLimits,
    keyPrefix: "agent-certificate",
    points: certificatesPerHour,
    duration: 3600,
  });
  return {
    /** Spends one certificate of this hour's; the seconds to wait when none is left. */
    async spend(workspaceId: string): Promise<number | undefined> {
      try {
        await limiter.consume(workspaceId, 1);
        return undefined;
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        return Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
      }
    },
    /** Gives back a certificate Cloudflare did not issue: an outage must not use up the hour. */
    async refund(workspaceId: string): Promise<void> {
      await limiter.reward(workspaceId, 1);
    },
  };
}

export type CertificateBudget = ReturnType<typeof createCertificateBudget>;

// The agent asks while it boots (before it serves, so before `ready`) and while it runs.
const issuingStates = new Set(["provisioning", "starting", "booting", "running"]);

export async function issueAgentCertificate(
  deps: AgentCertificateDependencies,
  workspace: AgentWorkspace,
  csr: string,
): Promise<AgentCertificateResponse> {
  if (!deps.zone)
    throw new AppError(
      "CONFLICT",
      "This control plane runs without Cloudflare (DNS_PROVIDER=local), so there is no Origin CA to issue from: in the one-machine mode agents serve plain HTTP on loopback. Start the agent with AGENT_TLS=off, or set DNS_PROVIDER=cloudflare on the control plane.",
    );
  if (!issuingStates.has(workspace.state))
    throw new AppError(
      "CONFLICT",
      `The workspace is ${workspace.state}; certificates are issued only while it is starting or running.`,
    );
  const hostname = deps.hostnameOf(workspace.id);
  const request = checkCertificateRequest(csr, hostname);
  const waitSeconds = await deps.budget.spend(workspace.id);
  if (waitSeconds !== undefined)
    throw new AppError(
      "TOO_MANY_REQUESTS",
      `This workspace already got ${certificatesPerHour} certificates in the last hour; keep the one it has (the agent saves it in STATE_DIR) and try again in ${waitSeconds} seconds.`,
      { cause: { retryAfterSeconds: waitSeconds } },
    );
  // Cloudflare gets the request as we read it, re-armoured: nothing else the agent sent.
  const issued = await deps.zone
    .createOriginCertificate({
      csr: toPem("CERTIFICATE REQUEST", request.der),
      hostname,
      days: deps.days,
    })
    .catch(async (error: unknown) => {
      await deps.budget.refund(workspace.id);
      // The agent logs the answer on its server; say it here too, where operators look.
      deps.logger.warn(
        { workspaceId: workspace.id, reason: (error as Error).message },
        "could not issue an agent certificate",
      );
      throw error;
    });
  const expiresAt = readExpiry(issued.certificate);
  await auditIssuance(deps, workspace, { hostname, serial: issued.serial, expiresAt });
  return { certificate: issued.certificate, expiresAt };
}

/**
 * Refuses (400) a request that is not a well-formed, self-signed ECDSA P-256 request for
 * exactly `hostname`: no other name, no IP address, nothing Cloudflare would have to drop.
 */
export function checkCertificateRequest(
  pem: string,
  hostname: string,
): ParsedCertificateRequest & { der: Uint8Array } {
  const trimmed = pem.trim();
  if (
    trimmed.split("-----BEGIN ").length !== 2 ||
    !trimmed.endsWith("-----END CERTIFICATE REQUEST-----")
  )
    throw new AppError(
      "BAD_REQUEST",
      "Send exactly one PEM certificate request in csr, with nothing before or after it.",
    );
  let request: ParsedCertificateRequest & { der: Uint8Array };
  try {
    const der = fromPem("CERTIFICATE REQUEST", trimmed);
    request = { ...parseCertificateRequest(der), der };
  } catch (error) {
    if (!(error instanceof DerError)) throw error;
    throw new AppError(
      "BAD_REQUEST",
      `The certificate request is not a readable PKCS #10 request (${error.message}). Send the PEM the agent makes from its TLS key.`,
    );
  }
  checkKeyAndSignature(request);
  const names = [...new Set([...request.commonNames, ...request.dnsNames])];
  const exact =
    request.otherAltNames === 0 &&
    request.dnsNames.length > 0 &&
    names.every((name) => name.toLowerCase() === hostname);
  if (!exact)
    throw new AppError(
      "BAD_REQUEST",
      `The certificate request names ${describeNames(request)}; this workspace's agent may ask only for its own host name, ${hostname}, as the subject's common name (optional) and the one DNS name.`,
    );
  return request;
}

function checkKeyAndSignature(request: ParsedCertificateRequest): void {
  const refuse = (why: string) =>
    new AppError(
      "BAD_REQUEST",
      `The certificate request ${why}. The agent makes it from an ECDSA P-256 key and signs it with SHA-256.`,
    );
  if (request.signatureAlgorithm !== oids.ecdsaWithSha256)
    throw refuse(`is signed with ${request.signatureAlgorithm}, not ECDSA with SHA-256`);
  let key;
  try {
    key = createPublicKey({
      key: Buffer.from(request.subjectPublicKeyInfo),
      format: "der",
      type: "spki",
    });
  } catch {
    throw refuse("holds no readable public key");
  }
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1")
    throw refuse(
      "is for a key other than ECDSA P-256 (Cloudflare's origin-ecc certificates need one)",
    );
  // The signature proves the sender holds the private key of the public key it sends.
  const signed = verify(
    "sha256",
    request.signedInfo,
    { key, dsaEncoding: "der" },
    request.signature,
  );
  if (!signed) throw refuse("has a signature that does not match its key");
}

function describeNames(request: ParsedCertificateRequest): string {
  const names = [
    ...request.commonNames.map((name) => `CN=${name}`),
    ...request.dnsNames.map((name) => `DNS:${name}`),
  ];
  if (request.otherAltNames > 0) names.push(`${request.otherAltNames} other alternative name(s)`);
  return names.length > 0 ? names.join(", ") : "no host name";
}

/** The certificate's own expiry (Cloudflare's `expires_on` is not in ISO 8601). */
function readExpiry(pem: string): string {
  const expiry = new Date(new X509Certificate(pem).validTo);
  if (Number.isNaN(expiry.getTime()))
    throw new Error("Cloudflare's certificate has no readable expiry");
  return expiry.toISOString();
}

async function auditIssuance(
  deps: AgentCertificateDependencies,
  workspace: AgentWorkspace,
  issued: { hostname: string; serial: string; expiresAt: string },
): Promise<void> {
  const [owner] = await deps.db
    .select({ auditSubject: users.auditSubject })
    .from(users)
    .innerJoin(workspaces, eq(workspaces.userId, users.id))
    .where(eq(workspaces.id, workspace.id));
  await recordAuditEvent(deps.db, {
    actorSubject: owner?.auditSubject ?? null,
    action: "workspace.certificate.issue",
    targetType: "workspace",
    targetId: workspace.id,
    details: { ...issued, by: "agent" },
  });
  deps.logger.info(
    { workspaceId: workspace.id, ...issued },
    "issued an Origin CA certificate to an agent",
  );
}
