import {
  agentStatusClassName,
  agentStatusLabels,
  type AgentStatus,
} from "../lib/session-status.ts";

/** An AI agent's status as a badge (with its message when it sent one); nothing when none. */
export function AgentStatusBadge({
  status,
  message,
  hideNone = false,
}: {
  status: AgentStatus | null;
  message?: string | null;
  /** With no status, render nothing rather than a dash (lists where most have none). */
  hideNone?: boolean;
}) {
  if (!status) return hideNone ? null : <span className="hint">—</span>;
  return (
    <span data-testid="agent-status" data-status={status}>
      <span className={agentStatusClassName(status)}>{agentStatusLabels[status]}</span>
      {message ? <span className="break"> {message}</span> : null}
    </span>
  );
}
