import { and, asc, count, desc, eq, isNull, sql } from "drizzle-orm";
import type { Database } from "../../db/client.ts";
import {
  jobEvents,
  jobs,
  workspaceEvents,
  workspaces,
  type WorkspaceProvider,
  type WorkspaceState,
} from "../../db/schema.ts";
import type { Keyring } from "../crypto/envelope.ts";
import type { GitHubSettings } from "../env.ts";
import { AppError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { assertMayCreateWorkspace, describeWorkspaceAccess } from "../providers/local-isolation.ts";
import { enqueueJob } from "../jobs/queue.ts";
import { hetznerApiUrl as defaultHetznerApiUrl } from "../providers/hetzner.ts";
import { recordAuditEvent, type DatabaseExecutor } from "./audit.ts";
import { findOffer, listCatalogue } from "./catalogue.ts";
import { checkRepositoryAccess } from "./github-repositories.ts";
import { fingerprintCreate, findIdempotentCreate } from "./workspace-idempotency.ts";
import { recordStateNotification } from "./notifications.ts";
import type { Owner } from "./owner.ts";
import { assertSecretsExist } from "./secrets.ts";
import { readUserRole } from "./users.ts";
import {
  assertTransition,
  assertUserAction,
  userActions,
  type UserAction,
} from "./workspace-states.ts";

// Workspaces (SPEC §5): owner-scoped reads, user actions that move the state machine and
// queue the job that does the work, and the one function every state change goes through.

export const workspaceJobKinds = {
  provision: "workspace.provision",
  start: "workspace.start",
  stop: "workspace.stop",
  delete: "workspace.delete",
} as const;

export type WorkspaceActor = "user" | "worker" | "agent" | "system";

export type WorkspaceSettings = {
  provider: WorkspaceProvider;
  limit: number;
  maxAttempts: number;
  /** Where the owner's Hetzner catalogue is asked (HETZNER_API_URL); Hetzner's unless set. */
  hetznerApiUrl?: string;
};

/** What the repository check needs to ask GitHub as the user. */
export type GitHubAccess = { keyring: Keyring; github: GitHubSettings; logger: Logger };

export type CreateWorkspaceInput = {
  name: string;
  repository: string;
  branch: string;
  serverType: string;
  location: string;
  idleTimeoutMinutes: number;
  /** SPEC §14: hours an AI agent may work with no terminal input (default 8). */
  maxWorkingHours?: number;
  /** The owner's secrets this workspace gets by name; null or left out: all of them. */
  secretNames?: string[] | null;
  /** A retry with the same key answers the same workspace (workspace-idempotency.ts). */
  idempotencyKey?: string;
};

/** What a user may change on an existing workspace (SPEC §14). */
export type UpdateWorkspaceInput = {
  idleTimeoutMinutes?: number;
  maxWorkingHours?: number;
  secretNames?: string[] | null;
};

/** The columns a user may see: no token hashes. */
const publicColumns = {
  id: workspaces.id,
  name: workspaces.name,
  repository: workspaces.repository,
  branch: workspaces.branch,
  provider: workspaces.provider,
  serverType: workspaces.serverType,
  location: workspaces.location,
  idleTimeoutMinutes: workspaces.idleTimeoutMinutes,
  maxWorkingHours: workspaces.maxWorkingHours,
  secretNames: workspaces.secretNames,
  idleStopAt: workspaces.idleStopAt,
  state: workspaces.state,
  stateReason: workspaces.stateReason,
  agentUrl: workspaces.agentUrl,
  agentVersion: workspaces.agentVersion,
  lastHeartbeatAt: workspaces.lastHeartbeatAt,
  lastActivityAt: workspaces.lastActivityAt,
  createdAt: workspaces.createdAt,
  updatedAt: workspaces.updatedAt,
};

const ownedBy = (owner: Owner, id: string) =>
  and(eq(workspaces.id, id), eq(workspaces.userId, owner.userId), isNull(workspaces.deletedAt));

const notFound = () =>
  new AppError("NOT_FOUND", "No workspace of yours with that id. List them with workspaces.list.");

// Built once per database, not per call: drizzle's query building was a fifth of a list's
// CPU time in ADR 0028's profile. The owner is the placeholder, so it is still in the where.
const listStatements = new WeakMap<Database, ReturnType<typeof prepareListWorkspaces>>();

function prepareListWorkspaces(db: Database) {
  return db
    .select(publicColumns)
    .from(workspaces)
    .where(and(eq(workspaces.userId, sql.placeholder("userId")), isNull(workspaces.deletedAt)))
    .orderBy(desc(workspaces.createdAt))
    .prepare("list_workspaces");
}

export async function listWorkspaces(db: Database, owner: Owner) {
  let statement = listStatements.get(db);
  if (!statement) listStatements.set(db, (statement = prepareListWorkspaces(db)));
  return statement.execute({ userId: owner.userId });
}

export async function getWorkspace(db: Database, owner: Owner, id: string) {
  const [row] = await db.select(publicColumns).from(workspaces).where(ownedBy(owner, id));
  if (!row) throw notFound();
  return row;
}

export async function listWorkspaceEvents(db: Database, owner: Owner, id: string) {
  await getWorkspace(db, owner, id);
  return db
    .select({
      id: workspaceEvents.id,
      occurredAt: workspaceEvents.occurredAt,
      fromState: workspaceEvents.fromState,
      toState: workspaceEvents.toState,
      reason: workspaceEvents.reason,
      actor: workspaceEvents.actor,
    })
    .from(workspaceEvents)
    .where(eq(workspaceEvents.workspaceId, id))
    .orderBy(asc(workspaceEvents.id));
}

/** The newest job of the workspace and its log lines: what the page shows as it works. */
export async function readCurrentJobLog(db: Database, owner: Owner, id: string) {
  await getWorkspace(db, owner, id);
  const [job] = await db
    .select({
      id: jobs.id,
      kind: jobs.kind,
      status: jobs.status,
      attempts: jobs.attempts,
      maxAttempts: jobs.maxAttempts,
      lastError: jobs.lastError,
      createdAt: jobs.createdAt,
    })
    .from(jobs)
    .where(eq(jobs.workspaceId, id))
    .orderBy(desc(jobs.id))
    .limit(1);
  if (!job) return null;
  const lines = await db
    .select({
      id: jobEvents.id,
      occurredAt: jobEvents.occurredAt,
      level: jobEvents.level,
      message: jobEvents.message,
    })
    .from(jobEvents)
    .where(eq(jobEvents.jobId, job.id))
    .orderBy(asc(jobEvents.id));
  return { ...job, lines };
}

/**
 * Hetzner refuses a type in a location it does not offer it in (and every start orders a
 * new server), so a workspace asks only for what the owner's catalogue offers. The local
 * provider runs every workspace on this machine: its type and location only label it.
 */
async function assertOffered(
  db: Database,
  owner: Owner,
  input: Pick<CreateWorkspaceInput, "serverType" | "location">,
  settings: WorkspaceSettings,
  keyring: Keyring,
) {
  if (settings.provider !== "hetzner") return;
  const hetznerApiUrl = settings.hetznerApiUrl ?? defaultHetznerApiUrl;
  const catalogue = await listCatalogue(db, keyring, owner, { provider: "hetzner", hetznerApiUrl });
  findOffer(catalogue, input.serverType, input.location);
}

/** Without root, only admins may have local workspaces (server/providers/local-isolation.ts). */
async function assertOwnerMayRun(db: Database, owner: Owner, provider: WorkspaceProvider) {
  const access = describeWorkspaceAccess(provider);
  if (access.allowed === "everyone") return;
  assertMayCreateWorkspace((await readUserRole(db, owner.userId)) ?? "member", access);
}

export async function createWorkspace(
  db: Database,
  owner: Owner,
  input: CreateWorkspaceInput,
  settings: WorkspaceSettings,
  access: GitHubAccess,
) {
  const { idempotencyKey, ...fields } = input;
  const secretNames = uniqueNames(input.secretNames);
  const fingerprint = fingerprintCreate({ ...fields, secretNames });
  const earlier = idempotencyKey
    ? await findIdempotentCreate(db, owner, idempotencyKey, fingerprint)
    : undefined;
  if (earlier) return readWorkspaceRow(db, earlier);
  await assertOwnerMayRun(db, owner, settings.provider);
  await assertOffered(db, owner, input, settings, access.keyring);
  // Before anything is written: no workspace, job or audit entry for code the user cannot read.
  await checkRepositoryAccess(db, access.keyring, access.github, owner, input, access.logger);
  if (secretNames) await assertSecretsExist(db, owner, secretNames);
  // The answer is read in the same transaction: once it commits, nothing can fail between the
  // commit and the answer but the answer's delivery, which a retry with the key covers.
  return db.transaction(async (tx) => {
    // Serialises one user's creations, so the limit holds under concurrent requests.
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${owner.userId}))`);
    const raced = idempotencyKey
      ? await findIdempotentCreate(tx, owner, idempotencyKey, fingerprint)
      : undefined;
    if (raced) return readWorkspaceRow(tx, raced);
    await assertRoomFor(tx, owner, input.name, settings.limit);
    const [row] = await tx
      .insert(workspaces)
      .values({
        ...fields,
        secretNames,
        userId: owner.userId,
        provider: settings.provider,
        idempotencyKey: idempotencyKey ?? null,
        idempotencyFingerprint: idempotencyKey ? fingerprint : null,
      })
      .returning({ id: workspaces.id });
    await recordCreation(tx, owner, row!.id, input, settings.maxAttempts);
    return readWorkspaceRow(tx, row!.id);
  });
}

/** The creation's timeline, state, provision job and audit entry, inside its transaction. */
async function recordCreation(
  tx: DatabaseExecutor,
  owner: Owner,
  id: string,
  input: CreateWorkspaceInput,
  maxAttempts: number,
) {
  await tx.insert(workspaceEvents).values({
    workspaceId: id,
    toState: "pending",
    reason: `Created from ${input.repository}@${input.branch}`,
    actor: "user",
  });
  await transitionWorkspace(
    tx,
    id,
    "provisioning",
    "Waiting for a worker to create the server",
    "user",
  );
  await enqueueJob(tx, { kind: workspaceJobKinds.provision, workspaceId: id, maxAttempts });
  await recordAuditEvent(tx, {
    actorSubject: owner.auditSubject,
    action: "workspace.create",
    targetType: "workspace",
    targetId: id,
  });
}

/** A workspace's public columns by id, deleted or not: for answers about a row we just wrote. */
async function readWorkspaceRow(executor: DatabaseExecutor, id: string) {
  const [row] = await executor.select(publicColumns).from(workspaces).where(eq(workspaces.id, id));
  if (!row) throw new AppError("NOT_FOUND", `Workspace ${id} does not exist.`);
  return row;
}

/**
 * Changes a workspace's settings (audited, the names of what changed). Secrets reach the next
 * new shell; the timeouts reach the agent at its next start (it reads them at bootstrap).
 */
export async function updateWorkspace(
  db: Database,
  owner: Owner,
  id: string,
  input: UpdateWorkspaceInput,
) {
  const { state } = await getWorkspace(db, owner, id);
  if (state === "deleting" || state === "deleted")
    throw new AppError("CONFLICT", `The workspace is ${state}; there is nothing left to change.`);
  const changes: Partial<typeof workspaces.$inferInsert> = {
    ...(input.idleTimeoutMinutes !== undefined && { idleTimeoutMinutes: input.idleTimeoutMinutes }),
    ...(input.maxWorkingHours !== undefined && { maxWorkingHours: input.maxWorkingHours }),
  };
  if (input.secretNames !== undefined) {
    changes.secretNames = uniqueNames(input.secretNames);
    if (changes.secretNames) await assertSecretsExist(db, owner, changes.secretNames);
  }
  const fields = Object.keys(changes);
  if (fields.length === 0) return getWorkspace(db, owner, id);
  await db
    .update(workspaces)
    .set({ ...changes, updatedAt: new Date() })
    .where(ownedBy(owner, id));
  await recordAuditEvent(db, {
    actorSubject: owner.auditSubject,
    action: "workspace.update",
    targetType: "workspace",
    targetId: id,
    details: { fields: fields.sort().join(",") },
  });
  return getWorkspace(db, owner, id);
}

/** Sorted, without repeats; null (all secrets) stays null. */
function uniqueNames(names: readonly string[] | null | undefined): string[] | null {
  return names ? [...new Set(names)].sort() : null;
}

/** The per-user limit and unique names, checked under the creation lock. */
async function assertRoomFor(
  tx: DatabaseExecutor,
  owner: Owner,
  name: string,
  limit: number,
): Promise<void> {
  const [{ value: live } = { value: 0 }] = await tx
    .select({ value: count() })
    .from(workspaces)
    .where(and(eq(workspaces.userId, owner.userId), isNull(workspaces.deletedAt)));
  if (live >= limit)
    throw new AppError(
      "PRECONDITION_FAILED",
      `You have ${live} workspaces, the limit of this install. Delete one you no longer need, then create this one.`,
    );
  const [taken] = await tx
    .select({ id: workspaces.id })
    .from(workspaces)
    .where(
      and(
        eq(workspaces.userId, owner.userId),
        eq(workspaces.name, name),
        isNull(workspaces.deletedAt),
      ),
    );
  if (taken)
    throw new AppError(
      "CONFLICT",
      `You already have a workspace named "${name}". Pick another name.`,
      { field: "name" },
    );
}

const actionReasons: Record<UserAction, string> = {
  stop: "Stop requested",
  start: "Start requested",
  delete: "Deletion requested",
};

/** stop, start or delete: moves the state and queues the job that does the work. */
export async function requestWorkspaceAction(
  db: Database,
  owner: Owner,
  id: string,
  action: UserAction,
  settings: Pick<WorkspaceSettings, "maxAttempts">,
  actor: WorkspaceActor = "user",
  /** Why, in the timeline and the state reason (e.g. "Stopped: idle for 30 min"). */
  reason: string = actionReasons[action],
) {
  // A start makes a server: the same rule as a create (an install may have lost root since).
  if (action === "start")
    await assertOwnerMayRun(db, owner, (await getWorkspace(db, owner, id)).provider);
  // Answered from inside the transaction: a delete whose job finishes at once (deletedAt set)
  // still answers what it did, not "not found".
  return db.transaction(async (tx) => {
    const [row] = await tx
      .select({ state: workspaces.state, deletedAt: workspaces.deletedAt })
      .from(workspaces)
      .where(and(eq(workspaces.id, id), eq(workspaces.userId, owner.userId)))
      .for("update");
    if (!row || (row.deletedAt && action !== "delete")) throw notFound();
    // A delete sent again (a retry after a lost answer, a second tab) answers where the first
    // one got to, instead of a conflict or "not found".
    if (action === "delete" && (row.state === "deleting" || row.state === "deleted"))
      return readWorkspaceRow(tx, id);
    assertUserAction(action, row.state);
    if (action === "delete")
      // Whatever was waiting no longer matters; a running job finishes, then delete runs.
      await tx
        .update(jobs)
        .set({ status: "canceled", finishedAt: new Date(), updatedAt: new Date() })
        .where(and(eq(jobs.workspaceId, id), eq(jobs.status, "queued")));
    await transitionWorkspace(tx, id, userActions[action].to, reason, actor);
    await enqueueJob(tx, {
      kind: workspaceJobKinds[action],
      workspaceId: id,
      maxAttempts: settings.maxAttempts,
    });
    await recordAuditEvent(tx, {
      actorSubject: owner.auditSubject,
      action: `workspace.${action}`,
      targetType: "workspace",
      targetId: id,
    });
    return readWorkspaceRow(tx, id);
  });
}

/**
 * The one way a workspace changes state: locks the row, checks the state machine, writes
 * the new state (and any columns that change with it) and the timeline event.
 */
export async function transitionWorkspace(
  executor: DatabaseExecutor,
  id: string,
  to: WorkspaceState,
  reason: string,
  actor: WorkspaceActor,
  changes: Partial<typeof workspaces.$inferInsert> = {},
): Promise<WorkspaceState> {
  const from = await moveWorkspace(executor, id, { to, reason, actor, changes });
  return from!;
}

/**
 * As transitionWorkspace, but only from one of `from`; answers false (and changes nothing)
 * when the workspace has moved on, e.g. the user deleted it while a job was running.
 */
export async function transitionWorkspaceIf(
  executor: DatabaseExecutor,
  id: string,
  from: readonly WorkspaceState[],
  to: WorkspaceState,
  reason: string,
  actor: WorkspaceActor,
  changes: Partial<typeof workspaces.$inferInsert> = {},
): Promise<boolean> {
  return (await moveWorkspace(executor, id, { from, to, reason, actor, changes })) !== null;
}

/**
 * What the workspace says about why it is in its new state: an error's reason, and a stop's
 * ("Stopped: idle for 30 min", "Stop requested") kept from stopping into stopped, so the page
 * and the terminal tab can say why a workspace stopped.
 */
function stateReasonAfter(
  row: { state: WorkspaceState; stateReason: string | null },
  move: { to: WorkspaceState; reason: string; changes: { stateReason?: string | null } },
): string | null {
  if (move.to === "error" || move.to === "stopping") return move.reason;
  if (move.to === "stopped" && row.state === "stopping") return row.stateReason;
  return move.changes.stateReason ?? null;
}

async function moveWorkspace(
  executor: DatabaseExecutor,
  id: string,
  move: {
    from?: readonly WorkspaceState[];
    to: WorkspaceState;
    reason: string;
    actor: WorkspaceActor;
    changes: Partial<typeof workspaces.$inferInsert>;
  },
): Promise<WorkspaceState | null> {
  return executor.transaction(async (tx) => {
    const [row] = await tx
      .select({ state: workspaces.state, stateReason: workspaces.stateReason })
      .from(workspaces)
      .where(eq(workspaces.id, id))
      .for("update");
    if (!row) throw new AppError("NOT_FOUND", `Workspace ${id} does not exist.`);
    if (move.from && !move.from.includes(row.state)) return null;
    assertTransition(row.state, move.to);
    await tx
      .update(workspaces)
      .set({
        ...move.changes,
        state: move.to,
        stateReason: stateReasonAfter(row, move),
        updatedAt: new Date(),
      })
      .where(eq(workspaces.id, id));
    await tx.insert(workspaceEvents).values({
      workspaceId: id,
      fromState: row.state,
      toState: move.to,
      reason: move.reason,
      actor: move.actor,
    });
    await recordStateNotification(tx, id, move.to, move.reason);
    return row.state;
  });
}
