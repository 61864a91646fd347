import { randomUUID } from "node:crypto";
import { and, asc, count, eq, inArray, sql, type SQL } from "drizzle-orm";
import type { Database } from "../../db/client.ts";
import { secrets, users, type WorkspaceState } from "../../db/schema.ts";
import { secretNameSchema, secretValueSchema } from "../../protocol/agent-sessions.ts";
import { decryptSecret, encryptSecret, type Keyring } from "../crypto/envelope.ts";
import { AppError, describeZodError } from "../errors.ts";
import { recordAuditEvent, type DatabaseExecutor } from "./audit.ts";
import type { Owner } from "./owner.ts";
import type { AgentWorkspace } from "./agents.ts";

// SPEC §14 secrets: named values (API keys for AI agents) a user keeps for their workspaces.
// Write-only: stored as AES-GCM envelopes bound to the row id, never answered to the user,
// decrypted only for the agent of a live workspace that gets them. Neither a value nor a
// fragment of one may reach a log line, an error message or a URL.

export type SecretSummary = { name: string; createdAt: Date; updatedAt: Date };

/** Most secrets one user keeps: each becomes an environment variable in every shell. */
export const maxSecretsPerUser = 100;

const secretContext = (id: string) => `secrets.value:${id}`;

// A shell (the only reader) opens once the agent is up: the worker records `booting` before it
// waits for the agent, and the agent's first call marks it `running`.
const liveStates: readonly WorkspaceState[] = ["booting", "running"];

const summaryColumns = {
  name: secrets.name,
  createdAt: secrets.createdAt,
  updatedAt: secrets.updatedAt,
};

const ownedBy = (owner: Owner, name: string): SQL =>
  and(eq(secrets.userId, owner.userId), eq(secrets.name, name))!;

/** The owner's secrets, names and dates only (values are write-only). */
export async function listSecrets(db: Database, owner: Owner): Promise<SecretSummary[]> {
  return db
    .select(summaryColumns)
    .from(secrets)
    .where(eq(secrets.userId, owner.userId))
    .orderBy(asc(secrets.name));
}

/** Creates or replaces a secret (audited); answers its summary. */
export async function setSecret(
  db: Database,
  keyring: Keyring,
  owner: Owner,
  input: { name: string; value: string },
): Promise<SecretSummary> {
  const { name, value } = checkSecretInput(input);
  return db.transaction(async (tx) => {
    // One user's sets run one at a time, so the limit holds and a new row's id is the one
    // its envelope is bound to.
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`secrets:${owner.userId}`}))`);
    const [existing] = await tx
      .select({ id: secrets.id })
      .from(secrets)
      .where(ownedBy(owner, name));
    if (!existing) await assertRoomForSecret(tx, owner);
    const id = existing?.id ?? randomUUID();
    const valueEncrypted = await encryptSecret(keyring, value, secretContext(id));
    const [row] = existing
      ? await tx
          .update(secrets)
          .set({ valueEncrypted, updatedAt: new Date() })
          .where(and(eq(secrets.id, id), eq(secrets.userId, owner.userId)))
          .returning(summaryColumns)
      : await tx
          .insert(secrets)
          .values({ id, userId: owner.userId, name, valueEncrypted })
          .returning(summaryColumns);
    await recordAuditEvent(tx, {
      actorSubject: owner.auditSubject,
      action: "secret.set",
      targetType: "secret",
      targetId: name,
      details: { replaced: Boolean(existing) },
    });
    return row!;
  });
}

/** Deletes a secret (audited); NOT_FOUND when there is none of that name. */
export async function deleteSecret(
  db: Database,
  owner: Owner,
  name: string,
): Promise<{ name: string }> {
  const removed = await db
    .delete(secrets)
    .where(ownedBy(owner, name))
    .returning({ name: secrets.name });
  if (removed.length === 0)
    throw new AppError(
      "NOT_FOUND",
      `You have no secret named ${name}; nothing to delete. List yours with secrets.list.`,
    );
  await recordAuditEvent(db, {
    actorSubject: owner.auditSubject,
    action: "secret.delete",
    targetType: "secret",
    targetId: name,
  });
  return { name };
}

/** Refuses (naming them) chosen secret names the owner has no secret of. */
export async function assertSecretsExist(
  executor: DatabaseExecutor,
  owner: Owner,
  names: readonly string[],
): Promise<void> {
  if (names.length === 0) return;
  const found = await executor
    .select({ name: secrets.name })
    .from(secrets)
    .where(and(eq(secrets.userId, owner.userId), inArray(secrets.name, [...names])));
  const known = new Set(found.map((row) => row.name));
  const missing = names.filter((name) => !known.has(name));
  if (missing.length > 0)
    throw new AppError(
      "BAD_REQUEST",
      `You have no secret named ${missing.join(", ")}. Add ${missing.length > 1 ? "them" : "it"} in Settings → Secrets first, or leave ${missing.length > 1 ? "them" : "it"} out.`,
    );
}

/** The decrypted secrets the workspace gets (all, or its chosen names), for its agent only. */
export async function readWorkspaceSecrets(
  db: Database,
  keyring: Keyring,
  workspace: AgentWorkspace,
): Promise<Record<string, string>> {
  if (!liveStates.includes(workspace.state))
    throw new AppError(
      "FORBIDDEN",
      `The workspace is ${workspace.state}; secrets are handed out only while it is booting or running. Start it, then open a new shell.`,
    );
  const chosen = workspace.secretNames;
  if (chosen && chosen.length === 0) return auditRead(db, workspace, {});
  const rows = await db
    .select({ id: secrets.id, name: secrets.name, valueEncrypted: secrets.valueEncrypted })
    .from(secrets)
    .where(
      and(eq(secrets.userId, workspace.userId), chosen ? inArray(secrets.name, chosen) : undefined),
    )
    .orderBy(asc(secrets.name));
  const answer: Record<string, string> = {};
  for (const row of rows)
    answer[row.name] = await decryptSecret(keyring, row.valueEncrypted, secretContext(row.id));
  return auditRead(db, workspace, answer);
}

/**
 * One audit entry per fetch (one per new shell): which workspace read which names, never the
 * values. A shell is opened by a person or an agent acting for them, so this is not chatty.
 */
async function auditRead(
  db: Database,
  workspace: AgentWorkspace,
  answer: Record<string, string>,
): Promise<Record<string, string>> {
  const [owner] = await db
    .select({ auditSubject: users.auditSubject })
    .from(users)
    .where(eq(users.id, workspace.userId));
  const names = Object.keys(answer);
  await recordAuditEvent(db, {
    actorSubject: owner?.auditSubject ?? null,
    action: "secret.read",
    targetType: "workspace",
    targetId: workspace.id,
    details: { names: names.join(","), count: names.length, by: "agent" },
  });
  return answer;
}

async function assertRoomForSecret(tx: DatabaseExecutor, owner: Owner): Promise<void> {
  const [{ value: held } = { value: 0 }] = await tx
    .select({ value: count() })
    .from(secrets)
    .where(eq(secrets.userId, owner.userId));
  if (held >= maxSecretsPerUser)
    throw new AppError(
      "PRECONDITION_FAILED",
      `You have ${held} secrets, the most one account keeps. Delete one you no longer need, or replace an existing one.`,
    );
}

/**
 * The procedures validate too; this keeps every caller (MCP tools included) to the same rules.
 * The zod messages name the rule broken, never the value.
 */
function checkSecretInput(input: { name: string; value: string }) {
  const name = secretNameSchema.safeParse(input.name);
  const value = secretValueSchema.safeParse(input.value);
  if (!name.success) throw new AppError("BAD_REQUEST", describeZodError(name.error));
  if (!value.success) throw new AppError("BAD_REQUEST", describeZodError(value.error));
  return { name: name.data, value: value.data };
}
