import type { WorkspaceState } from "../../db/schema.ts";
import type { DatabaseExecutor } from "./audit.ts";

// SPEC §14 notifications. STUB: the notifications helper implements it.

/**
 * Called by the one workspace transition function inside its transaction: a workspace that
 * reached `stopped` (or `error`) tells its owner.
 */
export async function recordStateNotification(
  _executor: DatabaseExecutor,
  _workspaceId: string,
  _to: WorkspaceState,
  _reason: string,
): Promise<void> {}
