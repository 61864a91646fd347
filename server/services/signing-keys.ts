import { randomUUID } from "node:crypto";
import { and, desc, eq, gt, isNull, lte, ne, or, sql } from "drizzle-orm";
import {
  calculateJwkThumbprint,
  exportJWK,
  exportPKCS8,
  generateKeyPair,
  importPKCS8,
  SignJWT,
  type JWK,
} from "jose";
import type { Database } from "../../db/client.ts";
import { signingKeys } from "../../db/schema.ts";
import { terminalAudience, terminalTokenMaxSeconds } from "../../protocol/agent-protocol.ts";
import { agentControlAudience, agentControlTokenSeconds } from "../../protocol/agent-sessions.ts";
import { decryptSecret, encryptSecret, type Keyring } from "../crypto/envelope.ts";
import type { DatabaseExecutor } from "./audit.ts";

// The RS256 keys that sign terminal JWTs (SPEC §9). The newest key whose `activates_at` has
// come signs; a next key is published ahead of time so agents already hold it when it takes
// over, and a replaced key stays published until every token it signed has expired. Private
// keys are stored as envelopes bound to their kid, so one cannot be swapped for another.

export type PublicJwk = JWK & { kid: string; alg: "RS256"; use: "sig" };
export type SigningKeysOptions = { rotateAfterDays?: number; now?: Date };
export type SigningKeyIds = { currentKid: string; nextKid: string };

const algorithm = "RS256";
const signingKeysLockId = 7_461_923_303;
const dayMs = 24 * 60 * 60_000;
const defaultRotateAfterDays = 30;
// Covers clock skew and a signer that read the old key just before the rotation committed.
const retireMarginMs = 10 * 60_000;
// The rotation job promotes the next key once the current one is `rotateAfterDays` old;
// should the job not run, the next key takes over by itself this much later.
const selfActivationDelayMs = dayMs;

type KeyRow = typeof signingKeys.$inferSelect;
type Transaction = Parameters<Parameters<Database["transaction"]>[0]>[0];

/** Makes sure a current and a next key exist; safe when several processes call it at once. */
export async function ensureSigningKeys(
  db: Database,
  keyring: Keyring,
  options: SigningKeysOptions = {},
): Promise<SigningKeyIds> {
  const now = options.now ?? new Date();
  return db.transaction(async (tx) => {
    await lockSigningKeys(tx);
    return fillSigningKeys(tx, keyring, now, rotateAfterMs(options));
  });
}

/**
 * When the current key is older than `rotateAfterDays`, the next one takes over and a new
 * next is made; replaced keys are retired once their tokens have expired, then dropped.
 */
export async function rotateSigningKeys(
  db: Database,
  keyring: Keyring,
  options: SigningKeysOptions = {},
): Promise<SigningKeyIds & { rotated: boolean; dropped: number }> {
  const now = options.now ?? new Date();
  return db.transaction(async (tx) => {
    await lockSigningKeys(tx);
    const current = await selectCurrentKey(tx, now);
    const rotated =
      !!current && current.activatesAt.getTime() <= now.getTime() - rotateAfterMs(options);
    if (rotated) {
      const [next] = await tx.select().from(signingKeys).where(isNextKey(now)).limit(1);
      if (next)
        await tx.update(signingKeys).set({ activatesAt: now }).where(eq(signingKeys.id, next.id));
      else await insertSigningKey(tx, keyring, now);
    }
    const dropped = await tx
      .delete(signingKeys)
      .where(lte(signingKeys.retiresAt, now))
      .returning({ id: signingKeys.id });
    const ids = await fillSigningKeys(tx, keyring, now, rotateAfterMs(options));
    await retireReplacedKeys(tx, ids.currentKid, now);
    return { ...ids, rotated, dropped: dropped.length };
  });
}

/** The public keys agents accept: the current, the next, and retired ones still in use. */
export async function readJwks(db: Database, now = new Date()): Promise<{ keys: PublicJwk[] }> {
  const rows = await db
    .select({ id: signingKeys.id, publicJwk: signingKeys.publicJwk })
    .from(signingKeys)
    .where(or(isNull(signingKeys.retiresAt), gt(signingKeys.retiresAt, now)))
    .orderBy(desc(signingKeys.activatesAt));
  return {
    keys: rows.map((row) => ({ ...row.publicJwk, kid: row.id, alg: algorithm, use: "sig" })),
  };
}

export type TerminalTokenInput = {
  userId: string;
  workspaceId: string;
  issuer: string;
  expiresInSeconds: number;
  /** The terminal grant's id; a token without a grant row is ended by the agent's next heartbeat. */
  jti?: string;
  now?: Date;
};

/** A terminal JWT for one user and workspace, signed with the current key. */
export async function signTerminalToken(
  db: Database,
  keyring: Keyring,
  input: TerminalTokenInput,
): Promise<{ token: string; expiresAt: Date; kid: string }> {
  const { expiresInSeconds } = input;
  if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 1)
    throw new Error(
      `A terminal token must live a whole number of seconds, not ${expiresInSeconds}.`,
    );
  if (expiresInSeconds > terminalTokenMaxSeconds)
    throw new Error(
      `A terminal token lives at most ${terminalTokenMaxSeconds} s; agents refuse longer ones.`,
    );
  return signWorkspaceToken(db, keyring, terminalAudience, input);
}

/**
 * SPEC §14: the bearer token of one control plane → agent call (the session API), for one user
 * and workspace, living `agentControlTokenSeconds`; the agent checks it with the same JWKS.
 */
export async function signAgentControlToken(
  db: Database,
  keyring: Keyring,
  input: { userId: string; workspaceId: string; issuer: string; now?: Date },
): Promise<string> {
  const signed = await signWorkspaceToken(db, keyring, agentControlAudience, {
    ...input,
    expiresInSeconds: agentControlTokenSeconds,
  });
  return signed.token;
}

async function signWorkspaceToken(
  db: Database,
  keyring: Keyring,
  audience: string,
  input: TerminalTokenInput,
): Promise<{ token: string; expiresAt: Date; kid: string }> {
  const now = input.now ?? new Date();
  const key = await readSigningKey(db, keyring, now);
  const issuedAt = Math.floor(now.getTime() / 1000);
  const expiresAt = issuedAt + input.expiresInSeconds;
  const token = await new SignJWT({ workspace: input.workspaceId })
    .setProtectedHeader({ alg: algorithm, kid: key.kid, typ: "JWT" })
    .setIssuer(input.issuer)
    .setAudience(audience)
    .setSubject(input.userId)
    .setJti(input.jti ?? randomUUID())
    .setIssuedAt(issuedAt)
    .setNotBefore(issuedAt)
    .setExpirationTime(expiresAt)
    .sign(key.privateKey);
  return { token, expiresAt: new Date(expiresAt * 1000), kid: key.kid };
}

/** The current key, decrypted, made on first use. Exported for tests that forge tokens. */
export async function readSigningKey(db: Database, keyring: Keyring, now = new Date()) {
  // The first token of an install makes the keys; the rotation job keeps them fresh after.
  let row = await selectCurrentKey(db, now);
  if (!row) {
    await ensureSigningKeys(db, keyring, { now });
    row = await selectCurrentKey(db, now);
  }
  if (!row) throw new Error("No signing key is active even after creating one.");
  const pem = await decryptSecret(keyring, row.privateKeyEncrypted, privateKeyContext(row.id));
  return { kid: row.id, privateKey: await importPKCS8(pem, algorithm) };
}

async function fillSigningKeys(
  tx: Transaction,
  keyring: Keyring,
  now: Date,
  rotateAfter: number,
): Promise<SigningKeyIds> {
  const current = (await selectCurrentKey(tx, now)) ?? (await insertSigningKey(tx, keyring, now));
  const [next] = await tx.select().from(signingKeys).where(isNextKey(now)).limit(1);
  const activatesAt = new Date(now.getTime() + rotateAfter + selfActivationDelayMs);
  const nextKid = next?.id ?? (await insertSigningKey(tx, keyring, activatesAt)).id;
  return { currentKid: current.id, nextKid };
}

// A key that stopped signing (the next took over, by rotation or because its time came)
// stays published for the longest token life, then `rotateSigningKeys` drops it.
async function retireReplacedKeys(tx: Transaction, currentKid: string, now: Date) {
  const retiresAt = new Date(now.getTime() + terminalTokenMaxSeconds * 1000 + retireMarginMs);
  await tx
    .update(signingKeys)
    .set({ retiresAt })
    .where(
      and(
        ne(signingKeys.id, currentKid),
        lte(signingKeys.activatesAt, now),
        isNull(signingKeys.retiresAt),
      ),
    );
}

async function selectCurrentKey(
  executor: DatabaseExecutor,
  now: Date,
): Promise<KeyRow | undefined> {
  const [row] = await executor
    .select()
    .from(signingKeys)
    .where(and(lte(signingKeys.activatesAt, now), isNull(signingKeys.retiresAt)))
    .orderBy(desc(signingKeys.activatesAt))
    .limit(1);
  return row;
}

const isNextKey = (now: Date) =>
  and(gt(signingKeys.activatesAt, now), isNull(signingKeys.retiresAt));

async function insertSigningKey(tx: Transaction, keyring: Keyring, activatesAt: Date) {
  const { publicKey, privateKey } = await generateKeyPair(algorithm, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const id = await calculateJwkThumbprint(publicJwk, "sha256");
  const privateKeyEncrypted = await encryptSecret(
    keyring,
    await exportPKCS8(privateKey),
    privateKeyContext(id),
  );
  const [row] = await tx
    .insert(signingKeys)
    .values({ id, publicJwk: { ...publicJwk }, privateKeyEncrypted, activatesAt })
    .returning();
  return row!;
}

const privateKeyContext = (kid: string) => `signing_keys.private:${kid}`;

const rotateAfterMs = (options: SigningKeysOptions) =>
  (options.rotateAfterDays ?? defaultRotateAfterDays) * dayMs;

async function lockSigningKeys(tx: Transaction) {
  await tx.execute(sql`select pg_advisory_xact_lock(${signingKeysLockId})`);
}
