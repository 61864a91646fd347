/* eslint-disable security/detect-non-literal-fs-filename -- the certificate's path is built from the agent's STATE_DIR setting, never from a request */
import { X509Certificate, type KeyObject } from "node:crypto";
import { readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import type { AgentCertificateResponse } from "../../protocol/agent-protocol.ts";
import { createCertificateRequest } from "./tls-key.ts";

// The agent's certificate: a Cloudflare Origin CA certificate for its host name, asked for
// through the control plane (POST /api/agent/certificate), kept in STATE_DIR for restarts and
// renewed once less than a third of its life is left.

export type AgentCertificate = { pem: string; notBefore: Date; notAfter: Date };

export const tlsCertificateFileOf = (stateDir: string) =>
  path.join(stateDir, "tls-certificate.pem");

/** The certificate in `pem`, checked to fit `key` and `hostname` and to be valid at `now`. */
export function readCertificate(
  pem: string,
  key: KeyObject,
  hostname: string,
  now = new Date(),
): AgentCertificate {
  const certificate = new X509Certificate(pem);
  if (!certificate.checkPrivateKey(key))
    throw new Error("the certificate is not for this server's TLS key");
  if (certificate.checkHost(hostname) === undefined)
    throw new Error(
      `the certificate is not for ${hostname} (it is for ${certificate.subjectAltName ?? certificate.subject})`,
    );
  const notBefore = new Date(certificate.validFrom);
  const notAfter = new Date(certificate.validTo);
  if (Number.isNaN(notAfter.getTime()) || Number.isNaN(notBefore.getTime()))
    throw new Error("the certificate's validity dates are unreadable");
  if (notAfter <= now) throw new Error(`the certificate expired at ${notAfter.toISOString()}`);
  return { pem, notBefore, notAfter };
}

/** The saved certificate if it still fits; null (and why, in the log) otherwise. */
export async function loadSavedCertificate(
  stateDir: string,
  key: KeyObject,
  hostname: string,
  log: (message: string) => void,
): Promise<AgentCertificate | null> {
  let pem: string;
  try {
    pem = await readFile(tlsCertificateFileOf(stateDir), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  try {
    return readCertificate(pem, key, hostname);
  } catch (error) {
    log(`The saved TLS certificate is no use (${(error as Error).message}); asking for a new one.`);
    return null;
  }
}

export async function saveCertificate(stateDir: string, pem: string): Promise<void> {
  const file = tlsCertificateFileOf(stateDir);
  await writeFile(`${file}.tmp`, pem, { mode: 0o600 });
  await rename(`${file}.tmp`, file);
}

/** Less than a third of the certificate's life is left. */
export function isDueForRenewal(certificate: AgentCertificate, now = new Date()): boolean {
  const lifetime = certificate.notAfter.getTime() - certificate.notBefore.getTime();
  return certificate.notAfter.getTime() - now.getTime() < lifetime / 3;
}

export type CertificateSource = {
  stateDir: string;
  key: KeyObject;
  hostname: string;
  /** POST /api/agent/certificate. */
  request: (csr: string) => Promise<AgentCertificateResponse>;
};

/** Asks for a certificate once; checks and saves what comes back. */
export async function requestCertificate(source: CertificateSource): Promise<AgentCertificate> {
  const answer = await source.request(createCertificateRequest(source.key, source.hostname));
  let certificate: AgentCertificate;
  try {
    certificate = readCertificate(answer.certificate, source.key, source.hostname);
  } catch (error) {
    throw new Error(
      `The control plane answered with an unusable certificate: ${(error as Error).message}.`,
      { cause: error },
    );
  }
  await saveCertificate(source.stateDir, certificate.pem);
  return certificate;
}

/**
 * Asks until it gets one, waiting longer after each failure (2 s doubling to 60 s): the control
 * plane or Cloudflare may not be able to issue yet (an outage, a token without the SSL and
 * Certificates permission). Each failure is logged with the reason.
 */
export async function obtainCertificate(
  source: CertificateSource,
  log: (message: string) => void,
  delays = { firstMs: 2_000, maxMs: 60_000 },
): Promise<AgentCertificate> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await requestCertificate(source);
    } catch (error) {
      const waitMs = Math.min(delays.firstMs * 2 ** (attempt - 1), delays.maxMs);
      log(
        `Could not get a TLS certificate for ${source.hostname} yet (attempt ${attempt}): ${(error as Error).message} Trying again in ${Math.round(waitMs / 1000)} s; the terminal starts once there is one.`,
      );
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
  }
}
