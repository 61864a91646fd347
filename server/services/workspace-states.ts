import type { WorkspaceState } from "../../db/schema.ts";
import { AppError } from "../errors.ts";

// The state machine of SPEC §5, in one place. Every state change goes through
// `assertTransition`; an illegal one is a CONFLICT that says what is possible instead.

const allowedTransitions: Record<WorkspaceState, readonly WorkspaceState[]> = {
  pending: ["provisioning", "deleting", "error"],
  provisioning: ["booting", "deleting", "error"],
  booting: ["running", "stopping", "deleting", "error"],
  running: ["stopping", "deleting", "error"],
  stopping: ["stopped", "deleting", "error"],
  stopped: ["starting", "deleting", "error"],
  starting: ["booting", "deleting", "error"],
  deleting: ["deleted", "error"],
  deleted: [],
  // From error a user retries: start again (the volume is kept) or delete. An agent that
  // reports in again (after a reboot or a control-plane outage longer than the heartbeat
  // timeout) brings its workspace back to running.
  error: ["starting", "stopping", "deleting", "running"],
};

/** What a user can ask for, and the states it is allowed from. */
export const userActions = {
  // From error too: a broken workspace may still have a server that costs money.
  stop: { from: ["booting", "running", "error"], to: "stopping" },
  start: { from: ["stopped", "error"], to: "starting" },
  delete: {
    from: [
      "pending",
      "provisioning",
      "booting",
      "running",
      "stopping",
      "stopped",
      "starting",
      "error",
    ],
    to: "deleting",
  },
} as const satisfies Record<string, { from: readonly WorkspaceState[]; to: WorkspaceState }>;

export type UserAction = keyof typeof userActions;

export function canTransition(from: WorkspaceState, to: WorkspaceState): boolean {
  return allowedTransitions[from].includes(to);
}

export function assertTransition(from: WorkspaceState, to: WorkspaceState): void {
  if (canTransition(from, to)) return;
  const next = allowedTransitions[from];
  throw new AppError(
    "CONFLICT",
    next.length === 0
      ? `The workspace is ${from}; nothing more can happen to it.`
      : `The workspace is ${from}, so it cannot become ${to} now (it can become: ${next.join(", ")}). Refresh and try again.`,
  );
}

export function assertUserAction(action: UserAction, state: WorkspaceState): void {
  const allowed: readonly WorkspaceState[] = userActions[action].from;
  if (allowed.includes(state)) return;
  throw new AppError(
    "CONFLICT",
    `Cannot ${action} a workspace that is ${state}; ${action} works when it is ${allowed.join(" or ")}. Wait for the current step to finish, then try again.`,
  );
}
