import type { Database } from "../../db/client.ts";
import type { Keyring } from "../crypto/envelope.ts";
import type { SessionInfo, SessionOutput, SessionReport } from "../../protocol/agent-sessions.ts";
import type { Owner } from "./owner.ts";
import type { AgentWorkspace } from "./agents.ts";

// SPEC §14 terminal sessions as the control plane sees them. STUB: signatures fixed by the
// integrator; the sessions helper implements them.

/** What the control plane needs to call a workspace's agent (signs a short-lived JWT). */
export type AgentControlContext = { db: Database; keyring: Keyring; issuer: string };

/** Stores the agent's report (replacing the set) and records notifications for status changes. */
export async function recordSessionReport(
  _db: Database,
  _workspace: AgentWorkspace,
  _report: SessionReport,
): Promise<void> {
  throw new Error("not implemented");
}

/** The owner's workspace's sessions as last reported. */
export async function listWorkspaceSessions(
  _db: Database,
  _owner: Owner,
  _workspaceId: string,
): Promise<SessionInfo[]> {
  throw new Error("not implemented");
}

/** Starts a session in a running workspace (through its agent). */
export async function createWorkspaceSession(
  _context: AgentControlContext,
  _owner: Owner,
  _workspaceId: string,
  _name?: string,
): Promise<SessionInfo> {
  throw new Error("not implemented");
}

export async function renameWorkspaceSession(
  _context: AgentControlContext,
  _owner: Owner,
  _workspaceId: string,
  _name: string,
  _newName: string,
): Promise<SessionInfo> {
  throw new Error("not implemented");
}

export async function endWorkspaceSession(
  _context: AgentControlContext,
  _owner: Owner,
  _workspaceId: string,
  _name: string,
): Promise<{ name: string }> {
  throw new Error("not implemented");
}

export async function sendSessionInput(
  _context: AgentControlContext,
  _owner: Owner,
  _workspaceId: string,
  _name: string,
  _input: { text: string; enter: boolean },
): Promise<{ ok: true }> {
  throw new Error("not implemented");
}

/** Recent output, bounded and ANSI-stripped. */
export async function readSessionOutput(
  _context: AgentControlContext,
  _owner: Owner,
  _workspaceId: string,
  _name: string,
  _lines: number,
): Promise<SessionOutput> {
  throw new Error("not implemented");
}
