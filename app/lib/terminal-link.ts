// The one address of a workspace's terminal (the launcher, ADR 0022): a plain link, so it opens
// with a middle click, can be copied, and still works after the workspace moved to a new agent.

/** `/workspaces/:id/terminal`, with `?session=<name>` for a session of its own. */
export function terminalPathOf(workspaceId: string, session?: string): string {
  const path = `/workspaces/${encodeURIComponent(workspaceId)}/terminal`;
  return session ? `${path}?${new URLSearchParams({ session })}` : path;
}
