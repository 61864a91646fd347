import { describe, expect, it } from "vitest";
import { parseEnv } from "../env.ts";
import {
  createKeyring,
  decryptSecret,
  encryptSecret,
  generateEncryptionKeySetting,
} from "./envelope.ts";

const keysFrom = (value: string) => parseEnv({ ENCRYPTION_KEYS: value }).ENCRYPTION_KEYS!;

describe("secret envelopes", () => {
  it("round-trips, with a fresh IV every time and no plaintext in the envelope", async () => {
    const keyring = await createKeyring(keysFrom(generateEncryptionKeySetting("k1")));
    const [a, b] = [
      await encryptSecret(keyring, "gho_secret", "user:1"),
      await encryptSecret(keyring, "gho_secret", "user:1"),
    ];
    expect(a).not.toBe(b);
    expect(a).not.toContain("gho_secret");
    expect(a.startsWith("v1.k1.")).toBe(true);
    expect(await decryptSecret(keyring, a, "user:1")).toBe("gho_secret");
  });

  it("refuses a value moved to another row, altered, or under an unknown key", async () => {
    const keyring = await createKeyring(keysFrom(generateEncryptionKeySetting("k1")));
    const envelope = await encryptSecret(keyring, "gho_secret", "user:1");
    await expect(decryptSecret(keyring, envelope, "user:2")).rejects.toThrow(/integrity check/);
    const parts = envelope.split(".");
    const altered = [
      ...parts.slice(0, 3),
      parts[3]!.slice(0, -2) + (parts[3]!.endsWith("AA") ? "BB" : "AA"),
    ].join(".");
    await expect(decryptSecret(keyring, altered, "user:1")).rejects.toThrow(/integrity check/);
    const other = await createKeyring(keysFrom(generateEncryptionKeySetting("k9")));
    await expect(decryptSecret(other, envelope, "user:1")).rejects.toThrow(/key "k1"/);
  });

  it("rotates: new values use the newest key, old ones still decrypt", async () => {
    const old = generateEncryptionKeySetting("k1");
    const before = await createKeyring(keysFrom(old));
    const envelope = await encryptSecret(before, "value", "x");
    const after = await createKeyring(keysFrom(`${generateEncryptionKeySetting("k2")},${old}`));
    expect(await decryptSecret(after, envelope, "x")).toBe("value");
    expect((await encryptSecret(after, "value", "x")).startsWith("v1.k2.")).toBe(true);
  });

  it("rejects a malformed ENCRYPTION_KEYS without echoing it", () => {
    expect(() => parseEnv({ ENCRYPTION_KEYS: "k1:c2hvcnQ=" })).toThrow(/32 random bytes/);
    expect(() => parseEnv({ ENCRYPTION_KEYS: "k1:c2hvcnQ=" })).not.toThrow(/c2hvcnQ/);
  });
});
