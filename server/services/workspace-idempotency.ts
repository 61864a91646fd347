import { createHash } from "node:crypto";
import { and, eq } from "drizzle-orm";
import { workspaces } from "../../db/schema.ts";
import { AppError } from "../errors.ts";
import type { DatabaseExecutor } from "./audit.ts";
import type { Owner } from "./owner.ts";
import type { CreateWorkspaceInput } from "./workspaces.ts";

// A create's idempotency key (ADR 0025): the answer to a create can be lost after it
// committed (a database restart, a cut connection), and the client cannot tell whether the
// workspace exists. Sent again with the same key, the create answers the workspace it made
// the first time, and never makes a second one. Keys are per user; they live as long as the
// workspace row (a deleted workspace is purged, with its key, some days later).

/**
 * What the create was asked for, after defaults: the same key must come with the same.
 * secretNames is required here because the create has already made "left out" into null.
 */
export type IdempotentCreate = Omit<CreateWorkspaceInput, "idempotencyKey" | "secretNames"> &
  Required<Pick<CreateWorkspaceInput, "secretNames">>;

export function fingerprintCreate(input: IdempotentCreate): string {
  const canonical = JSON.stringify([
    input.name,
    input.repository,
    input.branch,
    input.serverType,
    input.location,
    input.idleTimeoutMinutes,
    input.maxWorkingHours ?? 8,
    input.secretNames,
  ]);
  return createHash("sha256").update(canonical).digest("hex");
}

/**
 * The id of the workspace an earlier create with this key made, or undefined. The same key
 * with other settings is a mistake of the client's: refused, naming what to do.
 */
export async function findIdempotentCreate(
  executor: DatabaseExecutor,
  owner: Owner,
  key: string,
  fingerprint: string,
): Promise<string | undefined> {
  const [earlier] = await executor
    .select({
      id: workspaces.id,
      name: workspaces.name,
      fingerprint: workspaces.idempotencyFingerprint,
    })
    .from(workspaces)
    .where(and(eq(workspaces.userId, owner.userId), eq(workspaces.idempotencyKey, key)));
  if (!earlier) return undefined;
  if (earlier.fingerprint !== fingerprint)
    throw new AppError(
      "CONFLICT",
      `This idempotency key was already used to create the workspace "${earlier.name}" with other settings. Send a new key for a new workspace, or the first request's settings unchanged to get that workspace again.`,
      { field: "idempotencyKey" },
    );
  return earlier.id;
}
