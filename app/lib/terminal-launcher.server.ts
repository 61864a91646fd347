import type { AppLoadContext } from "@remix-run/node";
import { redirect } from "@remix-run/node";
import { z } from "zod";
import { sessionNameSchema } from "../../protocol/agent-sessions.ts";
import { authenticateRequest } from "../../server/auth/request-auth.ts";
import { AppError } from "../../server/errors.ts";
import { createTerminalUrl } from "../../server/services/terminal-access.ts";
import { explainState } from "../../server/services/terminal-status.ts";
import { getWorkspace } from "../../server/services/workspaces.ts";

// The terminal launcher (ADR 0022): `/workspaces/:id/terminal?session=<name>` sends its owner
// to the workspace's current agent with a fresh terminal link for that session, or, while
// there is no running agent, says what the workspace is doing. A terminal page whose agent
// went away comes here (a top-level navigation, so the session cookie is sent) to follow the
// workspace to its new agent.

const terminalLinkSeconds = 5 * 60;
const idSchema = z.uuid();

export type LauncherView =
  | { kind: "signed-out" }
  | { kind: "not-found" }
  | {
      kind: "waiting";
      id: string;
      name: string;
      state: string;
      reason: string | null;
      session: string | null;
    };

export async function openCurrentTerminal(
  context: AppLoadContext,
  request: Request,
  workspaceId: string,
): Promise<LauncherView | Response> {
  const auth = await authenticateRequest(context.db, request, context.secureCookies);
  const headers = new Headers({ "cache-control": "no-store", "referrer-policy": "no-referrer" });
  for (const cookie of auth.cookies) headers.append("set-cookie", cookie);
  if (!auth.user || auth.via !== "session") return { kind: "signed-out" };
  const parsedSession = sessionNameSchema.safeParse(
    new URL(request.url).searchParams.get("session") ?? undefined,
  );
  const session = parsedSession.success ? parsedSession.data : null;
  if (!idSchema.safeParse(workspaceId).success) return { kind: "not-found" };
  const owner = { userId: auth.user.id, auditSubject: auth.user.auditSubject };
  const workspace = await getWorkspace(context.db, owner, workspaceId).catch((error: unknown) => {
    if (error instanceof AppError && error.code === "NOT_FOUND") return null;
    throw error;
  });
  if (!workspace) return { kind: "not-found" };
  if (workspace.state === "running" && workspace.agentUrl) {
    const { url } = await createTerminalUrl(context.db, context.keyring, owner, workspace.id, {
      issuer: context.env.PUBLIC_URL,
      ttlSeconds: terminalLinkSeconds,
      caller: { sessionId: auth.sessionId, apiTokenId: null },
      ...(session ? { session } : {}),
    });
    return redirect(url, { headers });
  }
  return {
    kind: "waiting",
    id: workspace.id,
    name: workspace.name,
    state: workspace.state,
    reason: explainState(workspace.stateReason),
    session,
  };
}
