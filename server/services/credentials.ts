import { randomUUID } from "node:crypto";
import { and, eq, isNull, ne } from "drizzle-orm";
import type { Database } from "../../db/client.ts";
import { credentials, workspaces, type CredentialProvider } from "../../db/schema.ts";
import { decryptSecret, encryptSecret, type Keyring } from "../crypto/envelope.ts";
import { AppError } from "../errors.ts";
import { recordAuditEvent } from "./audit.ts";
import type { Owner } from "./owner.ts";

// Cloud credentials (SPEC §6): checked against the provider before saving, stored as an
// AES-GCM envelope bound to the row id, never returned, decrypted only where they are used.

const credentialContext = (id: string) => `credentials.secret:${id}`;

/** Asks the provider whether it accepts `token`; throws an AppError with the reason if not. */
export type TokenValidator = (token: string) => Promise<void>;

export async function getCredential(db: Database, owner: Owner, provider: CredentialProvider) {
  const [row] = await db
    .select({ hint: credentials.hint, updatedAt: credentials.updatedAt })
    .from(credentials)
    .where(and(eq(credentials.userId, owner.userId), eq(credentials.provider, provider)));
  return row ? { provider, ...row } : null;
}

export async function setCredential(
  db: Database,
  keyring: Keyring,
  owner: Owner,
  input: { provider: CredentialProvider; token: string; validate: TokenValidator },
) {
  await input.validate(input.token);
  const existing = await db
    .select({ id: credentials.id })
    .from(credentials)
    .where(and(eq(credentials.userId, owner.userId), eq(credentials.provider, input.provider)));
  const id = existing[0]?.id ?? randomUUID();
  const values = {
    secretEncrypted: await encryptSecret(keyring, input.token, credentialContext(id)),
    hint: input.token.slice(-4),
    updatedAt: new Date(),
  };
  await db
    .insert(credentials)
    .values({ id, userId: owner.userId, provider: input.provider, ...values })
    .onConflictDoUpdate({ target: [credentials.userId, credentials.provider], set: values });
  await recordAuditEvent(db, {
    actorSubject: owner.auditSubject,
    action: existing.length > 0 ? "credential.replace" : "credential.add",
    targetType: "credential",
    targetId: input.provider,
  });
  return getCredential(db, owner, input.provider);
}

export async function removeCredential(
  db: Database,
  owner: Owner,
  provider: CredentialProvider,
): Promise<void> {
  const live = await db
    .select({ name: workspaces.name })
    .from(workspaces)
    .where(
      and(
        eq(workspaces.userId, owner.userId),
        eq(workspaces.provider, provider),
        isNull(workspaces.deletedAt),
        ne(workspaces.state, "deleted"),
      ),
    );
  if (live.length > 0)
    throw new AppError(
      "CONFLICT",
      `Workspaces still use this token (${live.map((row) => row.name).join(", ")}). Delete them first, or replace the token instead of removing it.`,
    );
  const removed = await db
    .delete(credentials)
    .where(and(eq(credentials.userId, owner.userId), eq(credentials.provider, provider)))
    .returning({ id: credentials.id });
  if (removed.length === 0)
    throw new AppError("NOT_FOUND", `You have no ${provider} token saved; nothing to remove.`);
  await recordAuditEvent(db, {
    actorSubject: owner.auditSubject,
    action: "credential.remove",
    targetType: "credential",
    targetId: provider,
  });
}

/** The decrypted token, for the worker at the moment it calls the provider. */
export async function readCredentialSecret(
  db: Database,
  keyring: Keyring,
  userId: string,
  provider: CredentialProvider,
): Promise<string> {
  const [row] = await db
    .select({ id: credentials.id, secretEncrypted: credentials.secretEncrypted })
    .from(credentials)
    .where(and(eq(credentials.userId, userId), eq(credentials.provider, provider)));
  if (!row)
    throw new AppError(
      "PRECONDITION_FAILED",
      `No ${provider} API token is saved for the workspace's owner. Add one in Settings, then retry.`,
    );
  return decryptSecret(keyring, row.secretEncrypted, credentialContext(row.id));
}
