import type { Database } from "../../db/client.ts";
import type { Keyring } from "../crypto/envelope.ts";
import { AppError } from "../errors.ts";
import { recordAuditEvent } from "./audit.ts";
import type { Owner } from "./owner.ts";
import { signTerminalToken } from "./signing-keys.ts";
import { getWorkspace } from "./workspaces.ts";

// Opening a workspace's terminal (SPEC §9): a short-lived JWT in the agent's URL, which the
// agent trades for its own session cookie and strips from the address bar.

export type TerminalUrlOptions = { issuer: string; ttlSeconds: number };

/** The link that signs the owner in to the terminal of one of their running workspaces. */
export async function createTerminalUrl(
  db: Database,
  keyring: Keyring,
  owner: Owner,
  workspaceId: string,
  options: TerminalUrlOptions,
): Promise<{ url: string; expiresAt: Date }> {
  const workspace = await getWorkspace(db, owner, workspaceId);
  if (workspace.state !== "running" || !workspace.agentUrl)
    throw new AppError(
      "CONFLICT",
      `The workspace "${workspace.name}" is ${workspace.state}; its terminal opens once it is running. ` +
        (workspace.state === "stopped" || workspace.state === "error"
          ? "Start it, then open the terminal again."
          : "Wait until it reports running, then open the terminal again."),
    );
  const { token, expiresAt } = await signTerminalToken(db, keyring, {
    userId: owner.userId,
    workspaceId: workspace.id,
    issuer: options.issuer,
    expiresInSeconds: options.ttlSeconds,
  });
  await recordAuditEvent(db, {
    actorSubject: owner.auditSubject,
    action: "terminal.open",
    targetType: "workspace",
    targetId: workspace.id,
  });
  return { url: `${workspace.agentUrl.replace(/\/+$/, "")}/?token=${token}`, expiresAt };
}
