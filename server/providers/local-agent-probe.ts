// Whether a local workspace's agent still answers (ADR 0024): its /health on the loopback port
// its URL names, and that it is this workspace's agent, not another process that took the port
// after a reboot.

const probeTimeoutMs = 3_000;

export async function isLocalAgentUp(workspace: {
  id: string;
  agentUrl: string | null;
}): Promise<boolean> {
  if (!workspace.agentUrl) return false;
  const port = new URL(workspace.agentUrl).port;
  if (!port) return false;
  try {
    // Node does not resolve *.localhost as browsers do; the agent listens on 127.0.0.1.
    const response = await fetch(`http://127.0.0.1:${port}/health`, {
      signal: AbortSignal.timeout(probeTimeoutMs),
    });
    if (!response.ok) return false;
    const health = (await response.json()) as { status?: unknown; workspace?: unknown };
    return health.status === "ok" && health.workspace === workspace.id;
  } catch {
    return false; // nothing listens, or not an agent
  }
}
