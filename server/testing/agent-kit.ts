import { workspaces } from "../../db/schema.ts";
import { readVersion } from "../process/version.ts";
import { issueBootstrapToken } from "../services/agents.ts";
import type { TestDatabase } from "./test-database.ts";

// An agent's side of the callbacks, for tests of the git-credential endpoint.

/** A workspace of `owner` whose agent has bootstrapped: its agent token. */
export async function bootstrapAgent(
  db: TestDatabase["db"],
  baseUrl: string,
  owner: string,
  repository: string,
) {
  const [row] = await db
    .insert(workspaces)
    .values({
      userId: owner,
      name: `ws-${Math.random().toString(36).slice(2, 8)}`,
      repository,
      branch: "main",
      provider: "local",
      serverType: "local",
      location: "local",
      idleTimeoutMinutes: 30,
      state: "provisioning",
    })
    .returning();
  const bootstrapToken = await issueBootstrapToken(db, row!.id);
  const answer = await fetch(`${baseUrl}/api/agent/bootstrap`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ bootstrapToken, agentVersion: await readVersion() }),
  });
  const { agentToken } = (await answer.json()) as { agentToken: string };
  return { id: row!.id, agentToken };
}

export function askCredential(
  baseUrl: string,
  agentToken: string,
  asked: Record<string, string>,
): Promise<Response> {
  return fetch(`${baseUrl}/api/agent/git-credential?${new URLSearchParams(asked)}`, {
    headers: { authorization: `Bearer ${agentToken}` },
  });
}
