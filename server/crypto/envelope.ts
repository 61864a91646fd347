import { decodeBase64urlIgnorePadding, encodeBase64urlNoPadding } from "@oslojs/encoding";
import type { EncryptionKeySetting } from "../env.ts";

// AES-256-GCM envelopes (SPEC §6): `v1.<key id>.<iv>.<ciphertext+tag>`, base64url parts. A
// fresh 96-bit IV per value; the key id lets keys rotate (ENCRYPTION_KEYS, newest first: new
// values use the first, any listed key decrypts). The associated data binds a ciphertext to
// where it belongs (e.g. one user's GitHub token), so it cannot be moved to another row.

export type Keyring = { current: { id: string; key: CryptoKey }; keys: Map<string, CryptoKey> };

export async function createKeyring(settings: EncryptionKeySetting[]): Promise<Keyring> {
  const keys = new Map<string, CryptoKey>();
  for (const setting of settings) {
    keys.set(
      setting.id,
      await crypto.subtle.importKey("raw", setting.secret, "AES-GCM", false, [
        "encrypt",
        "decrypt",
      ]),
    );
  }
  const first = settings[0];
  if (!first) throw new Error("A keyring needs at least one key.");
  return { current: { id: first.id, key: keys.get(first.id)! }, keys };
}

export async function encryptSecret(
  keyring: Keyring,
  plaintext: string,
  associatedData: string,
): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ciphertext = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(associatedData) },
    keyring.current.key,
    new TextEncoder().encode(plaintext),
  );
  return [
    "v1",
    keyring.current.id,
    encodeBase64urlNoPadding(iv),
    encodeBase64urlNoPadding(new Uint8Array(ciphertext)),
  ].join(".");
}

/** Throws (without the value) when the envelope is malformed, its key unknown or it was altered. */
export async function decryptSecret(
  keyring: Keyring,
  envelope: string,
  associatedData: string,
): Promise<string> {
  const [version, keyId, iv, ciphertext] = envelope.split(".");
  if (version !== "v1" || !keyId || !iv || !ciphertext)
    throw new Error("Not an encrypted value of ours.");
  const key = keyring.keys.get(keyId);
  if (!key)
    throw new Error(
      `Encrypted with key "${keyId}", which is not in ENCRYPTION_KEYS. Add it back to read this value.`,
    );
  try {
    const plaintext = await crypto.subtle.decrypt(
      {
        name: "AES-GCM",
        iv: toBuffer(decodeBase64urlIgnorePadding(iv)),
        additionalData: new TextEncoder().encode(associatedData),
      },
      key,
      toBuffer(decodeBase64urlIgnorePadding(ciphertext)),
    );
    return new TextDecoder().decode(plaintext);
  } catch {
    throw new Error(
      "An encrypted value failed its integrity check: it was altered or belongs elsewhere.",
    );
  }
}

/** A new ENCRYPTION_KEYS entry: `id:base64key`. */
export function generateEncryptionKeySetting(id: string): string {
  return `${id}:${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")}`;
}

// WebCrypto's types want ArrayBuffer-backed views; decoded bytes are typed more loosely.
function toBuffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes);
}
