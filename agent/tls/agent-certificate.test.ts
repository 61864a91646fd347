import { createPublicKey } from "node:crypto";
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createFakeOriginCa, readRequestWithOpenssl } from "../../e2e/fakes/fake-origin-ca.ts";
import {
  isDueForRenewal,
  loadSavedCertificate,
  obtainCertificate,
  readCertificate,
  saveCertificate,
  tlsCertificateFileOf,
} from "./agent-certificate.ts";
import { createCertificateRequest, loadOrCreateTlsKey, tlsKeyFileOf } from "./tls-key.ts";

// The agent's key and certificate on disk, and how it asks for a certificate. The whole path
// through the control plane and the fake Cloudflare is in agent-tls.test.ts.

const hostname = "ws-00000000-0000-4000-8000-000000000001.example.test";
const ca = createFakeOriginCa();
let stateDir: string;
let lines: string[];
const log = (line: string) => lines.push(line);

beforeEach(async () => {
  stateDir = path.join(await mkdtemp(path.join(os.tmpdir(), "caw-agent-tls-")), "state");
  lines = [];
});
afterEach(() => rm(path.dirname(stateDir), { recursive: true, force: true }));

function issueFor(
  key: Awaited<ReturnType<typeof loadOrCreateTlsKey>>,
  names = [hostname],
  lifetimeMs = 86_400_000,
) {
  const subjectPublicKeyInfo = createPublicKey(key).export({ type: "spki", format: "der" });
  return ca.issue({ subjectPublicKeyInfo, hostnames: names, lifetimeMs }).certificatePem;
}

describe("the TLS key", () => {
  it("is made once, kept with mode 0600 in a 0700 folder, and reused", async () => {
    const key = await loadOrCreateTlsKey(stateDir, log);
    expect((await stat(tlsKeyFileOf(stateDir))).mode & 0o777).toBe(0o600);
    expect((await stat(stateDir)).mode & 0o777).toBe(0o700);
    expect(key.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    const again = await loadOrCreateTlsKey(stateDir, log);
    expect(again.export({ type: "pkcs8", format: "pem" })).toBe(
      key.export({ type: "pkcs8", format: "pem" }),
    );
    expect(lines.filter((line) => line.startsWith("Made a new TLS key"))).toHaveLength(1);
  });

  it("takes back a key file someone made readable to others", async () => {
    await loadOrCreateTlsKey(stateDir, log);
    await chmod(tlsKeyFileOf(stateDir), 0o644);
    await loadOrCreateTlsKey(stateDir, log);
    expect((await stat(tlsKeyFileOf(stateDir))).mode & 0o777).toBe(0o600);
    expect(lines.join("\n")).toContain("was readable by others; set it back to mode 0600");
  });

  it("replaces a key file that holds no usable key", async () => {
    await loadOrCreateTlsKey(stateDir, log);
    await writeFile(tlsKeyFileOf(stateDir), "not a key", { mode: 0o600 });
    const key = await loadOrCreateTlsKey(stateDir, log);
    expect(key.asymmetricKeyType).toBe("ec");
    expect(lines.join("\n")).toContain("is not a readable private key; making a new one");
  });

  it("makes a request OpenSSL reads and verifies, holding the public key only", async () => {
    const key = await loadOrCreateTlsKey(stateDir, log);
    const csr = createCertificateRequest(key, hostname);
    const read = await readRequestWithOpenssl(csr);
    if ("problem" in read) throw new Error(read.problem);
    expect(read.publicKey.export({ type: "spki", format: "pem" })).toBe(
      createPublicKey(key).export({ type: "spki", format: "pem" }),
    );
    const keyBody = (await readFile(tlsKeyFileOf(stateDir), "utf8")).split("\n")[1]!;
    expect(csr).not.toContain(keyBody);
  });
});

describe("the certificate", () => {
  it("must fit the key and the host name, and not have expired", async () => {
    const key = await loadOrCreateTlsKey(stateDir, log);
    const other = await loadOrCreateTlsKey(path.join(stateDir, "other"), log);
    expect(readCertificate(issueFor(key), key, hostname).notAfter.getTime()).toBeGreaterThan(
      Date.now(),
    );
    expect(() => readCertificate(issueFor(other), key, hostname)).toThrow(
      /not for this server's TLS key/,
    );
    expect(() => readCertificate(issueFor(key, ["ws-other.example.test"]), key, hostname)).toThrow(
      /not for ws-00000000/,
    );
    expect(() => readCertificate(issueFor(key, [hostname], -60_000), key, hostname)).toThrow(
      /expired/,
    );
  });

  it("is reused after a restart while it fits, and dropped when it does not", async () => {
    const key = await loadOrCreateTlsKey(stateDir, log);
    expect(await loadSavedCertificate(stateDir, key, hostname, log)).toBeNull();
    await saveCertificate(stateDir, issueFor(key));
    expect((await stat(tlsCertificateFileOf(stateDir))).mode & 0o777).toBe(0o600);
    expect(await loadSavedCertificate(stateDir, key, hostname, log)).not.toBeNull();
    expect(await loadSavedCertificate(stateDir, key, "ws-other.example.test", log)).toBeNull();
    expect(lines.join("\n")).toContain(
      "The saved TLS certificate is no use (the certificate is not for ws-other",
    );
  });

  it("is due for renewal once less than a third of its life is left", () => {
    const notBefore = new Date("2026-01-01T00:00:00Z");
    const notAfter = new Date("2026-01-31T00:00:00Z");
    const certificate = { pem: "", notBefore, notAfter };
    expect(isDueForRenewal(certificate, new Date("2026-01-20T23:00:00Z"))).toBe(false);
    expect(isDueForRenewal(certificate, new Date("2026-01-21T01:00:00Z"))).toBe(true);
  });

  it("is asked for again after failures, each logged with its reason, and saved", async () => {
    const key = await loadOrCreateTlsKey(stateDir, log);
    const csrs: string[] = [];
    const answers = [
      () =>
        Promise.reject(new Error("POST /api/agent/certificate answered 503: Cloudflare is down.")),
      () =>
        Promise.resolve({
          certificate: issueFor(key, ["ws-wrong.example.test"]),
          expiresAt: new Date().toISOString(),
        }),
      () => Promise.resolve({ certificate: issueFor(key), expiresAt: new Date().toISOString() }),
    ];
    const source = {
      stateDir,
      key,
      hostname,
      request: (csr: string) => {
        csrs.push(csr);
        return answers[csrs.length - 1]!();
      },
    };
    const certificate = await obtainCertificate(source, log, { firstMs: 1, maxMs: 5 });
    expect(csrs).toHaveLength(3);
    const failures = lines.filter((line) => line.startsWith("Could not get a TLS certificate"));
    expect(failures).toEqual([
      expect.stringContaining(
        "(attempt 1): POST /api/agent/certificate answered 503: Cloudflare is down.",
      ),
      expect.stringContaining(
        "(attempt 2): The control plane answered with an unusable certificate: the certificate is not for",
      ),
    ]);
    expect(await readFile(tlsCertificateFileOf(stateDir), "utf8")).toBe(certificate.pem);
  });
});
