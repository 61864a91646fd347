import type { SessionStatus } from "../../protocol/agent-sessions.ts";

// SPEC §14: one place for what an AI agent's status is called and how it looks, so the
// workspace page, the workspace list and the browser notifications say the same thing.

/** A session's status, or the workspace's own "the agent will stop me soon". */
export type AgentStatus = SessionStatus | "stopping";

export const agentStatusLabels: Record<AgentStatus, string> = {
  working: "Working",
  waiting: "Waiting for input",
  done: "Done",
  error: "Error",
  stopping: "Stopping soon",
};

// The style sheet's existing badge colours: blue for busy, amber for "look at me", green for
// finished, red for failed (the CSP allows no inline styles).
const statusClassNames: Record<AgentStatus, string> = {
  working: "state job-status-running",
  waiting: "state log-warn",
  done: "state state-running",
  error: "state state-error",
  stopping: "state log-warn",
};

export const agentStatusClassName = (status: AgentStatus) =>
  `agent-status agent-status-${status} ${statusClassNames[status]}`;

/** Most urgent first: someone must answer, then something broke, then busy, then finished. */
const urgency: SessionStatus[] = ["waiting", "error", "working", "done"];

/** The most urgent status among the sessions; null when none reported one. */
export function mostUrgentStatus(
  sessions: readonly { status: SessionStatus | null }[],
): SessionStatus | null {
  for (const status of urgency)
    if (sessions.some((session) => session.status === status)) return status;
  return null;
}

/**
 * What a workspace's agent is up to: a coming idle stop outranks its sessions, since it
 * happens unless the user acts (typing, or `caw status working`).
 */
export function workspaceAgentStatus(
  workspace: { idleStopAt: Date | string | null },
  sessions: readonly { status: SessionStatus | null }[],
): AgentStatus | null {
  if (workspace.idleStopAt) return "stopping";
  return mostUrgentStatus(sessions);
}

const notificationTitles: Record<string, string> = {
  needs_input: "Needs input",
  done: "Done",
  error: "Error",
  stopping_soon: "Stopping soon",
  stopped: "Stopped",
};

/** A browser notification's title, e.g. "Needs input · my-workspace". */
export const notificationTitleOf = (notification: { kind: string; workspaceName: string }) =>
  `${notificationTitles[notification.kind] ?? notification.kind} · ${notification.workspaceName}`;

/** "just now", "42 s ago", "5 min ago", "3 h ago", "2 d ago": short, for dense tables. */
export function describeAgo(at: Date | string, now: number): string {
  const seconds = Math.max(0, Math.round((now - new Date(at).getTime()) / 1000));
  if (seconds < 5) return "just now";
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86_400)} d ago`;
}
