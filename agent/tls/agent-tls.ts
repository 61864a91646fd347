import type { SecureContextOptions } from "node:tls";
import type { AgentCertificateResponse } from "../../protocol/agent-protocol.ts";
import {
  isDueForRenewal,
  loadSavedCertificate,
  obtainCertificate,
  requestCertificate,
  type AgentCertificate,
  type CertificateSource,
} from "./agent-certificate.ts";
import { loadOrCreateTlsKey } from "./tls-key.ts";

// AGENT_TLS=origin-ca (docs/adr/0010-tls-to-the-agent.md): the agent serves nothing until it
// has a certificate (Cloudflare's edge in Full (strict) mode would refuse anything else), then
// swaps renewed certificates into the live server, so renewal needs no restart.

export type AgentTls = {
  /** The key and the current certificate, for https.createServer. */
  secureContext: () => SecureContextOptions;
  /** Checks now and every `checkSeconds` whether to renew; renewed ones go to `apply`. */
  startRenewal: (apply: (context: SecureContextOptions) => void) => NodeJS.Timeout;
};

export async function prepareAgentTls(options: {
  stateDir: string;
  hostname: string | undefined;
  checkSeconds: number;
  request: (csr: string) => Promise<AgentCertificateResponse>;
  log: (message: string) => void;
}): Promise<AgentTls> {
  const { hostname, log } = options;
  if (!hostname)
    throw new Error(
      "AGENT_TLS=origin-ca, but the control plane did not name this workspace's host name at bootstrap. Start the workspace again, so its server gets an agent of the control plane's version.",
    );
  const key = await loadOrCreateTlsKey(options.stateDir, log);
  const source: CertificateSource = { ...options, hostname, key };
  let current =
    (await loadSavedCertificate(options.stateDir, key, hostname, log)) ??
    (await obtainCertificate(source, log));
  log(describe("Serving TLS with the certificate", hostname, current));
  const keyPem = key.export({ type: "pkcs8", format: "pem" });
  const secureContext = () => ({ key: keyPem, cert: current.pem });
  let renewing = false;
  const renewIfDue = async (apply: (context: SecureContextOptions) => void) => {
    if (renewing || !isDueForRenewal(current)) return;
    renewing = true;
    try {
      current = await requestCertificate(source);
      apply(secureContext());
      log(describe("Renewed the TLS certificate", hostname, current));
    } catch (error) {
      log(
        `Could not renew the TLS certificate yet (tried again in ${options.checkSeconds} s): ${(error as Error).message}`,
      );
    } finally {
      renewing = false;
    }
  };
  return {
    secureContext,
    startRenewal: (apply) => {
      void renewIfDue(apply);
      return setInterval(() => void renewIfDue(apply), options.checkSeconds * 1000);
    },
  };
}

const describe = (what: string, hostname: string, certificate: AgentCertificate) =>
  `${what} for ${hostname}, valid until ${certificate.notAfter.toISOString()}.`;
