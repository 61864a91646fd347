/* eslint-disable security/detect-non-literal-fs-filename -- the key's path is built from the agent's STATE_DIR setting, never from a request */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  type KeyObject,
} from "node:crypto";
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import {
  encodeCertificateRequest,
  encodeRequestInfo,
  toPem,
} from "../../protocol/certificate-request.ts";

// The agent's TLS private key (ECDSA P-256): made on the server, kept in STATE_DIR (mode 0600,
// in the 0700 state folder), reused across restarts, and never sent anywhere. What leaves the
// machine is a certificate request, which holds only the public half.

export const tlsKeyFileOf = (stateDir: string) => path.join(stateDir, "tls-key.pem");

/** The saved key, or a new one when there is none (or it is unreadable). */
export async function loadOrCreateTlsKey(
  stateDir: string,
  log: (message: string) => void,
): Promise<KeyObject> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const file = tlsKeyFileOf(stateDir);
  const saved = await readSavedKey(file, log);
  if (saved) return saved;
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const pem = privateKey.export({ type: "pkcs8", format: "pem" });
  // Written aside (never readable by others, not even for a moment) and renamed into place.
  await rm(`${file}.tmp`, { force: true });
  await writeFile(`${file}.tmp`, pem, { mode: 0o600, flag: "wx" });
  await rename(`${file}.tmp`, file);
  log(`Made a new TLS key (ECDSA P-256) in ${file}.`);
  return privateKey;
}

async function readSavedKey(file: string, log: (message: string) => void) {
  let pem: string;
  try {
    pem = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  if (((await stat(file)).mode & 0o077) !== 0) {
    // Someone widened it: take it back rather than serve with a key others may have read
    // silently. The key is still the one the certificate is for, so it stays.
    await chmod(file, 0o600);
    log(`${file} was readable by others; set it back to mode 0600.`);
  }
  try {
    const key = createPrivateKey(pem);
    const details = key.asymmetricKeyDetails;
    if (key.asymmetricKeyType === "ec" && details?.namedCurve === "prime256v1") return key;
    log(`${file} is not an ECDSA P-256 key; making a new one.`);
  } catch {
    log(`${file} is not a readable private key; making a new one.`);
  }
  return null;
}

/** A PKCS #10 request (PEM) for `hostname`, as its common name and only DNS name. */
export function createCertificateRequest(key: KeyObject, hostname: string): string {
  const info = encodeRequestInfo({
    commonName: hostname,
    dnsNames: [hostname],
    subjectPublicKeyInfo: createPublicKey(key).export({ type: "spki", format: "der" }),
  });
  const signature = sign("sha256", info, { key, dsaEncoding: "der" });
  return toPem("CERTIFICATE REQUEST", encodeCertificateRequest(info, signature));
}
